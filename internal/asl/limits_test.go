package asl

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// kibItems is a Map over n items whose iterations each output about 1 KiB
// (an array of 250 numbers), collected at $.results, then a Summarize
// state: the shape of a sweep whose Map output outgrows the limit.
func kibItems(n int, mapExtra string) string {
	return `{"StartAt":"Make","States":{
		"Make":{"Type":"Pass","Parameters":{"items.$":"States.ArrayRange(1, ` + itoa(n) + `, 1)"},"Next":"Fan"},
		"Fan":{"Type":"Map","ItemsPath":"$.items","MaxConcurrency":1,` + mapExtra + `
		  "ItemProcessor":{"StartAt":"Fill","States":{"Fill":{"Type":"Pass","Parameters":{"r.$":"States.ArrayRange(1000, 1249, 1)"},"End":true}}},
		  "ResultPath":"$.results","Next":"Summarize"},
		"Summarize":{"Type":"Pass","Parameters":{"n.$":"States.ArrayLength($.results)"},"End":true}}}`
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestDataLimitOnEveryState: a state whose input after Parameters, result
// or output (after ResultSelector, ResultPath and OutputPath, or a
// catcher's ResultPath) is over 256 KiB fails with States.DataLimitExceeded,
// which no catcher takes; the next state is never entered. At the limit
// exactly, it passes.
func TestDataLimitOnEveryState(t *testing.T) {
	big := func(n int) string { return strings.Repeat("x", n) }
	h := newHarness()
	h.fn("echo", func(in any) (any, error) { return in, nil })
	h.fn("half", func(any) (any, error) { return big(140 * 1024), nil })
	h.fn("fail", func(any) (any, error) { return nil, &TaskFailure{Name: "Work.Failed", Cause: big(2048)} })
	// {"v":"x..."} is len+8 bytes; the Pass below outputs {"s":"x...","t":1}, len+14.
	atLimit := `{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"s.$":"$.v","t":1},"End":true}}}`
	for _, tc := range []struct {
		name, def, input string
		wantError        string // "" when it succeeds
		wantCause        string // its beginning
		wantStates       []string
	}{
		{"a Map whose collected results outgrow the limit", kibItems(300, ""), `{}`,
			ErrDataLimitExceeded, "The result of state 'Fan' is ", nil},
		{"the same Map, caught by States.ALL", kibItems(300, `"Catch":[{"ErrorEquals":["States.ALL"],"Next":"Summarize"}],`), `{}`,
			ErrDataLimitExceeded, "The result of state 'Fan' is ", nil},
		{"a Map within the limit", kibItems(200, ""), `{}`, "", "", nil},
		{"a Map whose ItemSelector makes an input too large", `{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.a",
			"ItemSelector":{"all.$":"$","again.$":"$"},"ItemProcessor":{"StartAt":"I","States":{"I":{"Type":"Pass","End":true}}},"End":true}}}`,
			`{"a":[1],"pad":"` + big(140*1024) + `"}`, ErrDataLimitExceeded, "The input of an iteration of state 'M' after ItemSelector is ", []string{"M"}},
		{"a Parallel whose branches' results outgrow the limit", `{"StartAt":"P","States":{"P":{"Type":"Parallel","Branches":[
			{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}},{"StartAt":"B","States":{"B":{"Type":"Pass","End":true}}}],"Next":"After"},
			"After":{"Type":"Pass","End":true}}}`, `{"pad":"` + big(140*1024) + `"}`, ErrDataLimitExceeded, "The result of state 'P' is ", []string{"P", "A", "B"}},
		{"a Pass whose Parameters outgrow the limit", `{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"a.$":"$.pad","b.$":"$.pad"},"Next":"After"},
			"After":{"Type":"Pass","End":true}}}`, `{"pad":"` + big(140*1024) + `"}`, ErrDataLimitExceeded, "The input of state 'P' after Parameters is ", []string{"P"}},
		{"a Task whose ResultPath makes the output too large", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fnARN + `half","ResultPath":"$.r","Next":"After"},
			"After":{"Type":"Pass","End":true}}}`, `{"pad":"` + big(140*1024) + `"}`, ErrDataLimitExceeded, "The output of state 'T' is ", []string{"T"}},
		{"a Task whose Parameters outgrow the limit", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fnARN + `echo","Parameters":{"a.$":"$.pad","b.$":"$.pad"},"End":true}}}`,
			`{"pad":"` + big(140*1024) + `"}`, ErrDataLimitExceeded, "The input of state 'T' after Parameters is ", []string{"T"}},
		{"a catcher whose ResultPath makes the output too large", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"` + fnARN + `fail",
			"Catch":[{"ErrorEquals":["States.ALL"],"ResultPath":"$.error","Next":"After"}],"End":true},"After":{"Type":"Pass","End":true}}}`,
			`{"pad":"` + big(MaxPayload-1024) + `"}`, ErrDataLimitExceeded, "The output of state 'T' is ", []string{"T"}},
		{"an output of exactly 256 KiB", atLimit, `{"v":"` + big(MaxPayload-14) + `"}`, "", "", []string{"P"}},
		{"an output one byte over", atLimit, `{"v":"` + big(MaxPayload-13) + `"}`, ErrDataLimitExceeded, "The input of state 'P' after Parameters is 262145 bytes", []string{"P"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, hist := h.run(t, tc.def, tc.input)
			if res.Error != tc.wantError || !strings.HasPrefix(res.Cause, tc.wantCause) {
				t.Fatalf("got %s %s (%.120s), want %q %q...", res.Status, res.Error, res.Cause, tc.wantError, tc.wantCause)
			}
			if tc.wantStates != nil {
				if diff := cmp.Diff(tc.wantStates, EnteredStates(hist)); diff != "" {
					t.Errorf("states entered (-want +got):\n%s", diff)
				}
			}
			if tc.wantError != "" {
				for _, s := range EnteredStates(hist) {
					if s == "Summarize" || s == "After" {
						t.Errorf("state %s was entered after the limit was exceeded", s)
					}
				}
			}
		})
	}

	t.Run("RunValue input over the limit", func(t *testing.T) {
		def, err := Parse([]byte(`{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`))
		if err != nil {
			t.Fatal(err)
		}
		res, _ := newHarness().eng.RunValue(context.Background(), def, map[string]any{"v": big(MaxPayload)}, ExecutionOptions{})
		if res.Error != ErrDataLimitExceeded {
			t.Errorf("got %s %s, want States.DataLimitExceeded", res.Status, res.Error)
		}
	})
}

// TestHistoryLimit: an execution that reaches 25,000 history events fails
// with States.Runtime, as a Standard execution does on AWS, journaled or
// not; its history holds 25,000 events, the last ExecutionFailed.
func TestHistoryLimit(t *testing.T) {
	def, err := Parse([]byte(`{"StartAt":"Count","States":{
		"Count":{"Type":"Pass","Parameters":{"n.$":"States.MathAdd($.n, 1)"},"Next":"More"},
		"More":{"Type":"Choice","Choices":[{"Variable":"$.n","NumericLessThan":100000,"Next":"Count"}],"Default":"Done"},
		"Done":{"Type":"Succeed"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		journal Journal
	}{{"in memory", nil}, {"journaled", newMemJournal()}} {
		t.Run(tc.name, func(t *testing.T) {
			eng := newHarness().eng
			var x *Execution
			if tc.journal == nil {
				x = eng.Start(context.Background(), def, json.RawMessage(`{"n":0}`), ExecutionOptions{})
			} else {
				x = eng.StartJournaled(context.Background(), def, json.RawMessage(`{"n":0}`), ExecutionOptions{}, tc.journal)
			}
			res := x.Wait(context.Background())
			want := "FAILED States.Runtime The execution reached the maximum number of history events (25000)"
			if got := res.Status + " " + res.Error + " " + res.Cause; got != want {
				t.Errorf("got %q, want %q", got, want)
			}
			hist := x.History()
			if n := len(hist); n != MaxHistoryEvents || hist[n-1].Type != "ExecutionFailed" || hist[n-1].ID != MaxHistoryEvents {
				t.Errorf("%d events ending in %s, want %d ending in ExecutionFailed", n, hist[n-1].Type, MaxHistoryEvents)
			}
		})
	}
}
