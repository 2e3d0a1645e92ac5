package asl

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestJSONSizeMatchesEncoding(t *testing.T) {
	for _, doc := range []string{
		`null`, `true`, `false`, `0`, `-0`, `-1.5`, `1e21`, `123456789`, `-10`, `9`, `10`, `999999999999999999`, `1e18`, `1e20`,
		`-123456789012345678`, `0.000001`, `1e-7`, `""`, `"a\"b\\c\n\t<>&é\u2028😀"`,
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
	// Integers go by their digits: every length, both signs, both sides of
	// each power of ten and of the fast path's bound.
	for p := 1.0; p <= 1e22; p *= 10 {
		for _, f := range []float64{p - 1, p, p + 1, -p, -(p - 1), p / 2} {
			b, _ := json.Marshal(f)
			if got := jsonSize(f); got != len(b) {
				t.Errorf("jsonSize(%v) = %d, encoding/json writes %s", f, got, b)
			}
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
