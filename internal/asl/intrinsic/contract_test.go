package intrinsic

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
)

func mustParse(t testing.TB, expr string) *Call {
	t.Helper()
	c, err := Parse(expr)
	if err != nil {
		t.Fatalf("Parse(%q): %v", expr, err)
	}
	return c
}

func TestErrorContract(t *testing.T) {
	errNotFound := errors.New("no such field")

	t.Run("a path error is wrapped in an *Error naming the function", func(t *testing.T) {
		c := mustParse(t, "States.Format('{}', States.ArrayLength($.a))")
		env := Env{Path: func(p string) (any, error) { return nil, fmt.Errorf("path %s: %w", p, errNotFound) }}
		_, err := c.Eval(env)
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("Eval error %T %v; want *Error", err, err)
		}
		if !errors.Is(err, errNotFound) {
			t.Errorf("errors.Is(%v, errNotFound) = false; want the path error wrapped", err)
		}
		want := &Error{Function: "States.ArrayLength", Message: "cannot resolve the path $.a: path $.a: no such field"}
		if diff := cmp.Diff(want, e, cmp.Comparer(func(a, b *Error) bool {
			return a.Function == b.Function && a.Message == b.Message
		})); diff != "" {
			t.Errorf("error mismatch (-want +got):\n%s", diff)
		}
		if got, want := err.Error(), "States.ArrayLength: cannot resolve the path $.a: path $.a: no such field"; got != want {
			t.Errorf("Error() = %q, want %q", got, want)
		}
	})

	t.Run("an evaluation failure other than a path wraps nothing", func(t *testing.T) {
		_, err := mustParse(t, "States.MathAdd('a', 1)").Eval(Env{})
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("Eval error %T %v; want *Error", err, err)
		}
		if e.Unwrap() != nil {
			t.Errorf("Unwrap() = %v, want nil", e.Unwrap())
		}
	})

	t.Run("a path argument without Env.Path fails", func(t *testing.T) {
		_, err := mustParse(t, "States.Array($.a)").Eval(Env{})
		var e *Error
		if !errors.As(err, &e) || e.Message != "cannot resolve the path $.a: no path resolver (Env.Path is nil)" {
			t.Errorf("Eval error %v; want the missing resolver named", err)
		}
	})

	t.Run("a call without paths needs no Env", func(t *testing.T) {
		got, err := mustParse(t, "States.ArrayRange(1, 3, 1)").Eval(Env{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]any{1.0, 2.0, 3.0}, got); diff != "" {
			t.Errorf("mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("the first failing argument stops evaluation", func(t *testing.T) {
		var resolved []string
		env := Env{Path: func(p string) (any, error) {
			resolved = append(resolved, p)
			if p == "$.bad" {
				return nil, errNotFound
			}
			return 1.0, nil
		}}
		_, err := mustParse(t, "States.Array($.a, $.bad, $.c)").Eval(env)
		if !errors.Is(err, errNotFound) {
			t.Fatalf("Eval error %v; want errNotFound", err)
		}
		if diff := cmp.Diff([]string{"$.a", "$.bad"}, resolved); diff != "" {
			t.Errorf("paths resolved (-want +got):\n%s", diff)
		}
	})
}

// TestEnvDefaults checks what a zero Env uses: math/rand/v2 for MathRandom
// and github.com/google/uuid for States.UUID.
func TestEnvDefaults(t *testing.T) {
	t.Run("MathRandom without Env.Random stays in [start, end)", func(t *testing.T) {
		c := mustParse(t, "States.MathRandom(-3, 4)")
		seen := map[float64]bool{}
		for range 500 {
			v, err := c.Eval(Env{})
			if err != nil {
				t.Fatal(err)
			}
			f := v.(float64)
			if f < -3 || f >= 4 || f != float64(int(f)) {
				t.Fatalf("MathRandom(-3, 4) = %v, outside the integers of [-3, 4)", f)
			}
			seen[f] = true
		}
		if len(seen) != 7 {
			t.Errorf("500 draws from [-3, 4) gave %d distinct values, want all 7", len(seen))
		}
	})
	t.Run("UUID without Env.UUID is a random version 4 UUID", func(t *testing.T) {
		c := mustParse(t, "States.UUID()")
		a, err := c.Eval(Env{})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := c.Eval(Env{})
		u, err := uuid.Parse(a.(string))
		if err != nil {
			t.Fatalf("States.UUID() = %q: %v", a, err)
		}
		if u.Version() != 4 || u.Variant() != uuid.RFC4122 {
			t.Errorf("States.UUID() = %s: version %d variant %v, want version 4 RFC 4122", u, u.Version(), u.Variant())
		}
		if a == b {
			t.Errorf("two States.UUID() calls both returned %s", a)
		}
	})
}

// TestMathRandomSeed checks the documented rule "if you use this function
// with the same seed value, it will return identical numbers".
func TestMathRandomSeed(t *testing.T) {
	noRandom := Env{Random: func() float64 { panic("Env.Random used despite a seed") }}
	eval := func(expr string) float64 {
		t.Helper()
		v, err := mustParse(t, expr).Eval(noRandom)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return v.(float64)
	}
	t.Run("the same seed gives the same number", func(t *testing.T) {
		first := eval("States.MathRandom(0, 999, 3)")
		for range 20 {
			if got := eval("States.MathRandom(0, 999, 3)"); got != first {
				t.Fatalf("seed 3 gave %v then %v", first, got)
			}
		}
	})
	t.Run("seeded numbers stay in [start, end) and vary with the seed", func(t *testing.T) {
		seen := map[float64]bool{}
		for seed := range 50 {
			v := eval(fmt.Sprintf("States.MathRandom(10, 20, %d)", seed))
			if v < 10 || v >= 20 {
				t.Fatalf("seed %d gave %v, outside [10, 20)", seed, v)
			}
			seen[v] = true
		}
		if len(seen) < 5 {
			t.Errorf("50 seeds gave only %d distinct numbers", len(seen))
		}
	})
	t.Run("a non-integer seed is rounded", func(t *testing.T) {
		if a, b := eval("States.MathRandom(0, 1000000, 7.4)"), eval("States.MathRandom(0, 1000000, 7)"); a != b {
			t.Errorf("seed 7.4 gave %v, seed 7 gave %v; want equal", a, b)
		}
	})
	t.Run("a negative seed is accepted", func(t *testing.T) {
		if a, b := eval("States.MathRandom(0, 1000000, -5)"), eval("States.MathRandom(0, 1000000, -5)"); a != b {
			t.Errorf("seed -5 gave %v then %v", a, b)
		}
	})
}

// TestEvalDoesNotModifyInputs checks the contract that Eval never changes the
// values Env.Path returns.
func TestEvalDoesNotModifyInputs(t *testing.T) {
	const input = `{"a": {"x": 1, "y": [1, 2]}, "b": {"x": 2, "z": 3}, "arr": [3, 1, 3, [1], [1]]}`
	for _, expr := range []string{
		"States.JsonMerge($.a, $.b, false)",
		"States.ArrayUnique($.arr)",
		"States.ArrayPartition($.arr, 2)",
		"States.Array($.arr, $.a)",
		"States.ArrayContains($.arr, $.a)",
		"States.JsonToString($.a)",
		"States.Format('{} {}', $.a, $.arr)",
	} {
		t.Run(expr, func(t *testing.T) {
			doc := mustJSON(t, input)
			got, err := mustParse(t, expr).Eval(testEnv(doc, nil, 0))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(mustJSON(t, input), doc); diff != "" {
				t.Errorf("input modified (-before +after):\n%s", diff)
			}
			// Changing the top level of the result leaves the input alone.
			switch r := got.(type) {
			case map[string]any:
				r["new"] = true
			case []any:
				if len(r) > 0 {
					r[0] = "changed"
				}
			}
			if diff := cmp.Diff(mustJSON(t, input), doc); diff != "" {
				t.Errorf("changing the result changed the input (-before +after):\n%s", diff)
			}
		})
	}
}

// TestConcurrentEval checks that one parsed Call may be evaluated from many
// goroutines at once (run with -race).
func TestConcurrentEval(t *testing.T) {
	c := mustParse(t, "States.Format('{}-{}', States.ArrayGetItem(States.StringSplit($.s, ','), 1), States.MathAdd($.n, 1))")
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			doc := map[string]any{"s": "a,b,c", "n": float64(i)}
			got, err := c.Eval(testEnv(doc, nil, 0))
			if err != nil {
				errs <- err
				return
			}
			if want := fmt.Sprintf("b-%d", i+1); got != want {
				errs <- fmt.Errorf("goroutine %d got %v, want %v", i, got, want)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
