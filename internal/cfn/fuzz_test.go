package cfn

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// FuzzLoad: Load never panics, on byte mutations of the fixture (the
// fuzzer's) and on structural ones (mutate's, from the seed), and always
// returns a Deployment or *Errors.
func FuzzLoad(f *testing.F) {
	fx := fixture(f)
	for i := range 4 {
		f.Add(fx, uint64(i))
	}
	f.Add([]byte(strings.Replace(base, "__X__", `{"Fn::Sub": "${Named.Arn}"}`, 1)), uint64(7))
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		check(t, data, fixtureEnv(seed%2 == 0))
		var v any
		if json.Unmarshal(data, &v) != nil {
			return
		}
		rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
		names := names(v)
		for range 1 + rng.IntN(4) {
			v = mutate(rng, v, names, 0)
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		check(t, b, fixtureEnv(seed%2 == 0))
	})
}

// TestMutations runs FuzzLoad's structural mutations without the fuzzer:
// a fixed series, so that plain `go test` covers them.
func TestMutations(t *testing.T) {
	fx := fixture(t)
	var orig any
	if err := json.Unmarshal(fx, &orig); err != nil {
		t.Fatal(err)
	}
	n := 200
	if testing.Short() {
		n = 50
	}
	errs := 0
	for seed := range uint64(n) {
		var v any
		_ = json.Unmarshal(fx, &v)
		rng := rand.New(rand.NewPCG(seed, 1))
		nm := names(v)
		for range 1 + rng.IntN(4) {
			v = mutate(rng, v, nm, 0)
		}
		b, _ := json.Marshal(v)
		if check(t, b, fixtureEnv(true)) != nil {
			errs++
		}
	}
	// The mutations must reach the resolver, not only break the shape.
	if errs == 0 || errs == n {
		t.Errorf("%d of %d mutated templates failed to load: the mutations do not exercise both outcomes", errs, n)
	}
}

func check(t *testing.T, data []byte, env Env) error {
	t.Helper()
	d, err := Load(data, env)
	if err == nil {
		if d == nil {
			t.Fatal("no Deployment and no error")
		}
		return nil
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error is not an *Error: %T", err)
	}
	if d != nil && !errors.Is(err, ErrUnknown) {
		t.Fatal("a Deployment beside an error other than ErrUnknown")
	}
	return err
}

// names collects the template's logical IDs, with names that resolve to
// nothing, for mutate's references.
func names(v any) []string {
	out := []string{"Nothing", "AWS::Region", "AWS::NoValue", "AWS::Bogus", "BootstrapVersion"}
	if m, ok := v.(map[string]any); ok {
		for _, sec := range []string{"Resources", "Parameters", "Conditions"} {
			if r, ok := m[sec].(map[string]any); ok {
				for id := range r {
					out = append(out, id)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// mutate replaces a random node of v.
func mutate(rng *rand.Rand, v any, names []string, depth int) any {
	switch x := v.(type) {
	case map[string]any:
		if len(x) > 0 && (depth < 2 || rng.IntN(4) > 0) {
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			k := keys[rng.IntN(len(keys))]
			if rng.IntN(10) == 0 {
				delete(x, k)
				return x
			}
			x[k] = mutate(rng, x[k], names, depth+1)
			return x
		}
	case []any:
		if len(x) > 0 && rng.IntN(4) > 0 {
			i := rng.IntN(len(x))
			x[i] = mutate(rng, x[i], names, depth+1)
			return x
		}
	}
	return random(rng, names, 0)
}

// random is a random value: a scalar, or an intrinsic with random
// arguments.
func random(rng *rand.Rand, names []string, depth int) any {
	name := func() string { return names[rng.IntN(len(names))] }
	arg := func() any {
		if depth > 3 {
			return name()
		}
		return random(rng, names, depth+1)
	}
	switch rng.IntN(16) {
	case 0:
		return map[string]any{"Ref": name()}
	case 1:
		return map[string]any{"Fn::GetAtt": []any{name(), []string{"Arn", "Name", "FunctionUrl", "QueueName", "Nope"}[rng.IntN(5)]}}
	case 2:
		return map[string]any{"Fn::GetAtt": name() + ".Arn"}
	case 3:
		return map[string]any{"Fn::Join": []any{"-", []any{arg(), arg()}}}
	case 4:
		return map[string]any{"Fn::Sub": "x${" + name() + "}${!y}${" + name() + ".Arn}"}
	case 5:
		return map[string]any{"Fn::Sub": []any{"${A}${", map[string]any{"A": arg()}}}
	case 6:
		return map[string]any{"Fn::Select": []any{rng.IntN(3) - 1, arg()}}
	case 7:
		return map[string]any{"Fn::Split": []any{",", arg()}}
	case 8:
		return map[string]any{"Fn::If": []any{name(), arg(), arg()}}
	case 9:
		return map[string]any{"Fn::FindInMap": []any{name(), arg(), "k"}}
	case 10:
		return map[string]any{"Fn::ImportValue": arg()}
	case 11:
		return map[string]any{"Fn::Equals": []any{arg(), arg()}}
	case 12:
		return []any{arg(), arg()}
	case 13:
		return map[string]any{}
	case 14:
		return rng.IntN(100)
	default:
		return []any{"${", "x", nil, true, 1.5}[rng.IntN(5)]
	}
}
