package asl

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

// BenchmarkTransitions runs a definition mixing Pass, Choice, Task, Map
// and intrinsics and reports state transitions per second and allocations
// per transition.
func BenchmarkTransitions(b *testing.B) {
	def, err := Parse([]byte(`{"StartAt":"Init","States":{
		"Init":{"Type":"Pass","Parameters":{"n.$":"$.n","xs":[1,2,3,4,5,6,7,8],"tag.$":"States.Format('run-{}', $.n)"},"Next":"Loop"},
		"Loop":{"Type":"Map","ItemsPath":"$.xs","MaxConcurrency":1,"ItemSelector":{"i.$":"$$.Map.Item.Value","n.$":"$.n"},
		  "ItemProcessor":{"StartAt":"Work","States":{
		    "Work":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:work","ResultPath":"$.r","Next":"Odd"},
		    "Odd":{"Type":"Choice","Choices":[{"Variable":"$.i","NumericGreaterThan":4,"Next":"Big"}],"Default":"Small"},
		    "Big":{"Type":"Pass","Result":"big","ResultPath":"$.size","End":true},
		    "Small":{"Type":"Pass","Result":"small","ResultPath":"$.size","End":true}}},
		  "ResultPath":"$.results","Next":"Done"},
		"Done":{"Type":"Succeed"}}}`))
	if err != nil {
		b.Fatal(err)
	}
	reg := NewRegistry()
	reg.Function("work", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) { return in, nil })
	eng := New(Options{Tasks: reg, Clock: NewVirtualClock(time.Unix(0, 0))})
	input := json.RawMessage(`{"n":7}`)
	transitions := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, hist := eng.Run(context.Background(), def, input, ExecutionOptions{Name: "b"})
		if res.Status != StatusSucceeded {
			b.Fatal(res.Error, res.Cause)
		}
		transitions += len(EnteredStates(hist))
	}
	b.StopTimer()
	b.ReportMetric(float64(transitions)/b.Elapsed().Seconds(), "transitions/s")
	b.ReportMetric(float64(testing.AllocsPerRun(1, func() {
		eng.Run(context.Background(), def, input, ExecutionOptions{Name: "b"})
	}))/float64(transitions/b.N), "allocs/transition")
}
