package asl

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// memJournal is a Journal in memory.
type memJournal struct {
	mu     sync.Mutex
	kv     map[string][]byte
	events []Event
}

func newMemJournal() *memJournal { return &memJournal{kv: map[string][]byte{}} }

func (j *memJournal) Load(k string) ([]byte, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	v, ok := j.kv[k]
	return v, ok
}

func (j *memJournal) Store(k string, v []byte) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.kv[k] = append([]byte(nil), v...)
	return nil
}

func (j *memJournal) Event(key string, e Event) error {
	// Round-trip through JSON, as a host persisting events does.
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	var back Event
	if err := json.Unmarshal(b, &back); err != nil {
		return err
	}
	j.mu.Lock()
	j.events = append(j.events, back)
	j.kv["ev:"+key] = []byte(strconv.FormatInt(e.ID, 10))
	j.mu.Unlock()
	return nil
}

// snapshot copies the journal, as a file on disk is at the moment the
// process dies.
func (j *memJournal) snapshot() *memJournal {
	j.mu.Lock()
	defer j.mu.Unlock()
	c := newMemJournal()
	for k, v := range j.kv {
		c.kv[k] = v
	}
	c.events = append([]Event(nil), j.events...)
	return c
}

func (j *memJournal) has(typ string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, e := range j.events {
		if e.Type == typ {
			return true
		}
	}
	return false
}

// TestResumeAfterCrashInWait: an execution waiting out a day-long Wait
// inside a Map iteration is "killed" (its journal copied as it was on disk)
// and resumed on another engine an hour later: it continues at the
// original due time, calls no task twice, keeps the UUIDs it drew, and its
// history has every event once.
func TestResumeAfterCrashInWait(t *testing.T) {
	def, err := Parse([]byte(`{"StartAt":"Create","States":{
		"Create":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:1:function:create","ResultPath":"$.created","Next":"Each"},
		"Each":{"Type":"Map","ItemsPath":"$.items","ItemSelector":{"item.$":"$$.Map.Item.Value","token.$":"States.UUID()"},
		  "ItemProcessor":{"StartAt":"Grace","States":{
		    "Grace":{"Type":"Wait","Seconds":86400,"Next":"Expire"},
		    "Expire":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:1:function:expire","End":true}}},
		  "ResultPath":"$.expired","End":true}}}`))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	calls := map[string]int{}
	reg := NewRegistry()
	for _, fn := range []string{"create", "expire"} {
		reg.FunctionValue(fn, func(_ context.Context, in any) (any, error) {
			mu.Lock()
			calls[fn]++
			mu.Unlock()
			return in, nil
		})
	}
	uuids := 0
	newUUID := func() string {
		uuids++
		return strings.Repeat("0", 7) + string(rune('a'+uuids)) + "-0000-4000-8000-000000000000"
	}
	input := json.RawMessage(`{"items":["a","b"]}`)
	opts := ExecutionOptions{Name: "crash"}

	clock1 := NewVirtualClock(t0)
	j := newMemJournal()
	eng1 := New(Options{Tasks: reg, Clock: clock1, UUID: newUUID})
	clock1.track() // hold virtual time so the execution stops in the Wait
	x1 := eng1.StartJournaled(context.Background(), def, input, opts, j)
	for deadline := time.Now().Add(10 * time.Second); !j.has("WaitStateEntered") || countIn(j, "WaitStateEntered") < 2; {
		if time.Now().After(deadline) {
			t.Fatal("the execution never reached its Waits")
		}
		time.Sleep(time.Millisecond)
	}
	disk := j.snapshot() // the process dies here
	x1.Stop("Test.Crash", "")
	clock1.untrack()
	x1.Wait(context.Background())

	clock2 := NewVirtualClock(t0.Add(time.Hour))
	eng2 := New(Options{Tasks: reg, Clock: clock2, UUID: newUUID})
	x2 := eng2.Resume(context.Background(), def, input, opts, disk, disk.events)
	res := x2.Wait(context.Background())
	if res.Status != StatusSucceeded {
		t.Fatalf("resumed execution: %s %s %s", res.Status, res.Error, res.Cause)
	}
	if got := clock2.Now(); !got.Equal(t0.Add(24 * time.Hour)) {
		t.Errorf("the Wait ended at %s, want the original due time %s", got, t0.Add(24*time.Hour))
	}
	if calls["create"] != 1 || calls["expire"] != 2 {
		t.Errorf("calls %v: create must not run again; expire once per item", calls)
	}
	var out struct {
		Expired []struct {
			Token string `json:"token"`
		} `json:"expired"`
	}
	_ = json.Unmarshal(res.Output, &out)
	if len(out.Expired) != 2 || out.Expired[0].Token == out.Expired[1].Token ||
		!strings.HasPrefix(out.Expired[0].Token, "0000000") || uuids != 2 {
		t.Errorf("tokens %+v after %d UUIDs drawn: the resumed run must reuse the two drawn before", out.Expired, uuids)
	}
	hist := x2.History()
	seen := map[int64]bool{}
	counts := map[string]int{}
	for i, e := range hist {
		if e.ID != int64(i+1) || seen[e.ID] {
			t.Fatalf("event %d has id %d", i, e.ID)
		}
		seen[e.ID] = true
		counts[e.Type]++
	}
	for typ, want := range map[string]int{"ExecutionStarted": 1, "MapIterationStarted": 2, "WaitStateEntered": 2, "WaitStateExited": 2,
		"LambdaFunctionScheduled": 3, "ExecutionSucceeded": 1, "ExecutionAborted": 0} {
		if counts[typ] != want {
			t.Errorf("%d %s events, want %d", counts[typ], typ, want)
		}
	}
}

func countIn(j *memJournal, typ string) int {
	j.mu.Lock()
	defer j.mu.Unlock()
	n := 0
	for _, e := range j.events {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// TestEventsSurviveTheJournal: every history event a journal persists
// reads back (Event.UnmarshalJSON) into the same wire form, so that the
// history of a resumed or reloaded execution shows each state's real input
// and output; state entered events once came back with "input": "null".
func TestEventsSurviveTheJournal(t *testing.T) {
	def, err := Parse([]byte(`{"StartAt":"Prepare","States":{
		"Prepare":{"Type":"Pass","Parameters":{"secretId.$":"$.secretId","items.$":"$.items","n":3},"Next":"Work"},
		"Work":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:1:function:work","ResultPath":"$.work","Next":"Rest"},
		"Rest":{"Type":"Wait","Seconds":5,"Next":"Both"},
		"Both":{"Type":"Parallel","Branches":[
		  {"StartAt":"Left","States":{"Left":{"Type":"Pass","Result":{"side":"left"},"End":true}}},
		  {"StartAt":"Right","States":{"Right":{"Type":"Pass","Result":[1.5,"two",null,true],"End":true}}}],
		  "ResultPath":"$.both","Next":"Each"},
		"Each":{"Type":"Map","ItemsPath":"$.items","ItemProcessor":{"StartAt":"Item","States":{
		  "Item":{"Type":"Pass","Parameters":{"item.$":"$"},"End":true}}},"ResultPath":"$.each","Next":"Done"},
		"Done":{"Type":"Succeed"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	reg := NewRegistry()
	reg.FunctionValue("work", func(_ context.Context, in any) (any, error) {
		return map[string]any{"got": in, "nested": map[string]any{"deep": []any{"x", 1.0}}}, nil
	})
	j := newMemJournal()
	eng := New(Options{Tasks: reg, Clock: NewVirtualClock(t0)})
	x := eng.StartJournaled(context.Background(), def, json.RawMessage(`{"secretId":"app/db","items":["a",{"b":2}]}`), ExecutionOptions{Name: "rt"}, j)
	if res := x.Wait(context.Background()); res.Status != StatusSucceeded {
		t.Fatalf("execution: %s %s %s", res.Status, res.Error, res.Cause)
	}
	live := x.History()
	j.mu.Lock()
	persisted := append([]Event(nil), j.events...)
	j.mu.Unlock()
	if len(persisted) != len(live) {
		t.Fatalf("the journal holds %d events, the execution %d", len(persisted), len(live))
	}
	entered := 0
	for i := range live {
		want, err := json.Marshal(live[i])
		if err != nil {
			t.Fatal(err)
		}
		got, err := json.Marshal(persisted[i])
		if err != nil {
			t.Fatal(err)
		}
		t.Run(strconv.Itoa(i+1)+"-"+live[i].Type, func(t *testing.T) {
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("event read back from the journal differs (-live +persisted):\n%s", diff)
			}
		})
		if live[i].DetailsKey == keyEntered {
			entered++
		}
	}
	if entered < 8 {
		t.Errorf("%d state entered events; the definition enters at least 8 states", entered)
	}
	if diff := cmp.Diff(EnteredStates(live), EnteredStates(persisted)); diff != "" {
		t.Errorf("EnteredStates of the persisted history (-live +persisted):\n%s", diff)
	}
}
