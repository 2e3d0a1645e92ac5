package asl

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestJSONSizeMatchesEncoding(t *testing.T) {
	for _, doc := range []string{
		`null`, `true`, `false`, `0`, `-1.5`, `1e21`, `123456789`, `""`, `"a\"b\\c\n\t<>&é\u2028😀"`,
		`[]`, `{}`, `[1,"x",null,{"a":[true]}]`, `{"k\"ey":{"n":[1,2,3]},"z":"<script>"}`,
	} {
		var v any
		if err := json.Unmarshal([]byte(doc), &v); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(v)
		if got := jsonSize(v); got != len(b) {
			t.Errorf("jsonSize(%s) = %d, encoding/json writes %d bytes", doc, got, len(b))
		}
	}
}

func TestRunValueAndValueHandlers(t *testing.T) {
	h := newHarness()
	h.reg.FunctionValue("inc", func(_ context.Context, in any) (any, error) {
		return in.(map[string]any)["n"].(float64) + 1, nil
	})
	d, err := Parse([]byte(`{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fnARN + `inc","ResultPath":"$.n","End":true}}}`))
	if err != nil {
		t.Fatal(err)
	}
	input := map[string]any{"n": float64(1)}
	res, _ := h.eng.RunValue(context.Background(), d, input, ExecutionOptions{})
	if res.Status != StatusSucceeded || res.Output != nil {
		t.Fatalf("RunValue: %s, Output %s (want no encoded output)", res.Status, res.Output)
	}
	if diff := cmp.Diff(map[string]any{"n": float64(2)}, res.Value); diff != "" {
		t.Errorf("Value (-want +got):\n%s", diff)
	}
	if input["n"] != float64(1) {
		t.Error("the engine modified its input")
	}
	// The same value handler through the JSON path.
	res, _ = h.eng.Run(context.Background(), d, json.RawMessage(`{"n":41}`), ExecutionOptions{})
	jsonEq(t, `{"n":42}`, res.Output)
}
