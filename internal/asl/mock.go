package asl

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// MockConfig is an AWS Step Functions Local mock configuration file
// (MockConfigFile.json): test cases that map Task state names to mocked
// responses, and the responses, keyed by invocation number ("0", "1-2").
type MockConfig struct {
	StateMachines map[string]struct {
		TestCases map[string]map[string]string
	}
	MockedResponses map[string]map[string]MockedResponse
}

// MockedResponse is one response: exactly one of Return and Throw.
type MockedResponse struct {
	Return json.RawMessage `json:"Return,omitempty"`
	Throw  *struct {
		Error string
		Cause string
	} `json:"Throw,omitempty"`
}

// ParseMockConfig decodes and checks a mock configuration: every test case
// names defined responses, every response key is "N" or "N-M", ranges do
// not overlap, and each response has exactly one of Return and Throw.
func ParseMockConfig(data []byte) (*MockConfig, error) {
	var mc MockConfig
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&mc); err != nil {
		return nil, fmt.Errorf("mock config: %v", err)
	}
	var problems []string
	for smName, sm := range mc.StateMachines {
		for tc, states := range sm.TestCases {
			for state, resp := range states {
				if _, ok := mc.MockedResponses[resp]; !ok {
					problems = append(problems, fmt.Sprintf("StateMachines.%s.TestCases.%s.%s names mocked response %q, which is not defined", smName, tc, state, resp))
				}
			}
		}
	}
	for name, resp := range mc.MockedResponses {
		if _, err := responseTable(resp); err != nil {
			problems = append(problems, fmt.Sprintf("MockedResponses.%s: %v", name, err))
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return nil, fmt.Errorf("mock config:\n  %s", strings.Join(problems, "\n  "))
	}
	return &mc, nil
}

type mockRange struct {
	from, to int
	resp     MockedResponse
}

func responseTable(m map[string]MockedResponse) ([]mockRange, error) {
	var out []mockRange
	for key, r := range m {
		from, to, err := parseRange(key)
		if err != nil {
			return nil, err
		}
		if (r.Return == nil) == (r.Throw == nil) {
			return nil, fmt.Errorf("response %q needs exactly one of Return and Throw", key)
		}
		out = append(out, mockRange{from, to, r})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].from < out[j].from })
	for i := 1; i < len(out); i++ {
		if out[i].from <= out[i-1].to {
			return nil, fmt.Errorf("invocation ranges overlap at %d", out[i].from)
		}
	}
	return out, nil
}

func parseRange(key string) (int, int, error) {
	a, b, isRange := strings.Cut(key, "-")
	from, err1 := strconv.Atoi(a)
	to := from
	var err2 error
	if isRange {
		to, err2 = strconv.Atoi(b)
	}
	if err1 != nil || err2 != nil || from < 0 || to < from {
		return 0, 0, fmt.Errorf("key %q is not an invocation number or range such as \"0\" or \"1-2\"", key)
	}
	return from, to, nil
}

// Runner returns a TaskRunner for one test case: Task states the case
// mocks get their responses by invocation number (counted per state, retries
// included, from 0; after the last defined number the last response repeats);
// other states go to fallback (nil fails them).
func (mc *MockConfig) Runner(stateMachine, testCase string, fallback TaskRunner) (TaskRunner, error) {
	sm, ok := mc.StateMachines[stateMachine]
	if !ok {
		return nil, fmt.Errorf("mock config has no state machine %q (it has %s)", stateMachine, strings.Join(sortedKeys(mc.StateMachines), ", "))
	}
	tc, ok := sm.TestCases[testCase]
	if !ok {
		return nil, fmt.Errorf("state machine %q has no test case %q (it has %s)", stateMachine, testCase, strings.Join(sortedKeys(sm.TestCases), ", "))
	}
	r := &mockRunner{fallback: fallback, tables: map[string][]mockRange{}, calls: map[string]int{}}
	for state, resp := range tc {
		r.tables[state], _ = responseTable(mc.MockedResponses[resp])
	}
	return r, nil
}

type mockRunner struct {
	fallback TaskRunner
	tables   map[string][]mockRange
	mu       sync.Mutex
	calls    map[string]int
}

func (r *mockRunner) RunTask(ctx context.Context, req *TaskRequest) (json.RawMessage, error) {
	table, ok := r.tables[req.State]
	if !ok {
		if r.fallback == nil {
			return nil, &TaskFailure{Name: ErrTaskFailed, Cause: fmt.Sprintf("state %q is not mocked in this test case and no other task runner is configured", req.State)}
		}
		return r.fallback.RunTask(ctx, req)
	}
	r.mu.Lock()
	n := r.calls[req.State]
	r.calls[req.State]++
	r.mu.Unlock()
	resp := table[len(table)-1].resp
	for _, rg := range table {
		if n >= rg.from && n <= rg.to {
			resp = rg.resp
			break
		}
	}
	if resp.Throw != nil {
		return nil, &TaskFailure{Name: resp.Throw.Error, Cause: resp.Throw.Cause}
	}
	return resp.Return, nil
}
