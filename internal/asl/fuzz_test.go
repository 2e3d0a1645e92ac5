package asl

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// echo answers every task with its input, and a named error for inputs
// holding "fail".
type echo struct{}

func (echo) RunTask(_ context.Context, req *TaskRequest) (json.RawMessage, error) {
	if strings.Contains(string(req.Input), "fail") {
		return nil, &TaskFailure{Name: "Fuzz.Fail", Cause: "asked to"}
	}
	return req.Input, nil
}

// FuzzEngine: no definition or input makes Parse or an execution panic or
// hang; a definition Parse refuses yields problems naming states that exist
// in the text.
func FuzzEngine(f *testing.F) {
	seeds := []string{
		`{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}`,
		`{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"A"}}}`,
		`{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:1:function:f","Retry":[{"ErrorEquals":["States.ALL"]}],"Catch":[{"ErrorEquals":["States.ALL"],"Next":"F"}],"End":true},"F":{"Type":"Fail","ErrorPath":"$.Error"}}}`,
		`{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.xs","MaxConcurrency":2,"ItemSelector":{"v.$":"$$.Map.Item.Value"},"ItemProcessor":{"StartAt":"W","States":{"W":{"Type":"Wait","SecondsPath":"$.v","End":true}}},"End":true}}}`,
		`{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Not":{"Variable":"$.a","StringMatches":"x*y"},"Next":"P"}],"Default":"P"},"P":{"Type":"Parallel","Branches":[{"StartAt":"Q","States":{"Q":{"Type":"Pass","Parameters":{"f.$":"States.Format('{}', $.a)"},"End":true}}}],"End":true}}}`,
	}
	if def, err := os.ReadFile("../../statemachine/rotation.asl.json"); err == nil {
		seeds = append(seeds, string(def))
	}
	for _, s := range seeds {
		f.Add(s, `{"a":"x1y","xs":[1,2],"fail":false}`)
	}
	f.Fuzz(func(t *testing.T, def, input string) {
		d, err := Parse([]byte(def))
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) == 0 {
				t.Fatalf("Parse error %v is not a ValidationError with problems", err)
			}
			for _, p := range ve.Problems {
				// (Invalid UTF-8 in a name decodes to U+FFFD and cannot match.)
				if p.State != "" && utf8.ValidString(def) && !strings.Contains(def, p.State) {
					t.Fatalf("problem names state %q, which is not in the definition", p.State)
				}
			}
			return
		}
		eng := New(Options{Tasks: echo{}, Clock: NewVirtualClock(time.Unix(0, 0))})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		x := eng.Start(ctx, d, json.RawMessage(input), ExecutionOptions{})
		res := x.Wait(ctx)
		if res.Status == StatusRunning {
			x.Stop("Fuzz.Stop", "")
			t.Fatalf("execution still running after 10 s of real time")
		}
		if res.Status == StatusSucceeded && !json.Valid(res.Output) {
			t.Fatalf("output is not JSON")
		}
	})
}
