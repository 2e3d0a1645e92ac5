package asl

import (
	"context"
	"errors"
	"math"
	"strconv"
	"sync"
)

// parallel runs every branch with the same input and collects their
// outputs in branch order. The first failure stops the other branches and
// becomes the state's error.
func (x *Execution) parallel(ctx context.Context, s *State, env *evalEnv, b *branch) (any, error) {
	input := env.input
	if s.Parameters != nil {
		var err error
		if input, err = s.Parameters.eval(env); err != nil {
			return nil, err
		}
		if err := checkSize(input, "The input of state '%s' after Parameters", s.Name); err != nil {
			return nil, err
		}
	}
	b.emit("ParallelStateStarted", "", nil)
	results := make([]any, len(s.Branches))
	err := x.fanOut(ctx, len(s.Branches), len(s.Branches), func(ctx context.Context, i int) error {
		out, err := x.runMachine(ctx, s.Branches[i], input, b.child("b"+strconv.Itoa(i)))
		results[i] = out
		return err
	})
	if err == nil {
		err = checkSize(results, "The result of state '%s'", s.Name)
	}
	if err != nil {
		if !errors.Is(err, errAborted) {
			b.emit("ParallelStateFailed", "", nil)
		}
		return nil, err
	}
	b.emit("ParallelStateSucceeded", "", nil)
	return results, nil
}

// mapState runs the item processor once per item of ItemsPath.
func (x *Execution) mapState(ctx context.Context, s *State, env *evalEnv, b *branch) (any, error) {
	itemsV, err := applyPath(s.ItemsPath, env, "ItemsPath")
	if err != nil {
		return nil, err
	}
	items, ok := itemsV.([]any)
	if !ok {
		return nil, runtimeErr("Map state '%s': ItemsPath does not select a JSON array", s.Name)
	}
	limit := s.MaxConcurrency
	if s.MaxConcurrencyPath != nil {
		v, ok := s.MaxConcurrencyPath.get(env)
		n, isNum := v.(float64)
		if !ok || !isNum || n < 0 || n != math.Trunc(n) || n > math.MaxInt32 {
			return nil, runtimeErr("Map state '%s': MaxConcurrencyPath does not reference a non-negative integer", s.Name)
		}
		limit = int(n)
	}
	if limit <= 0 || limit > len(items) {
		limit = len(items)
	}
	selector := s.ItemSelector
	if selector == nil {
		selector = s.Parameters
	}
	// Build every iteration's input first: a selector error fails the state
	// before any iteration starts.
	inputs := make([]any, len(items))
	for i, item := range items {
		inputs[i] = item
		if selector != nil {
			st := *env.st
			st.item = map[string]any{"Index": float64(i), "Value": item}
			if x.journal != nil {
				st.key, st.draws = env.st.key+"/sel"+strconv.Itoa(i), 0 // each item draws its own UUIDs
			}
			if inputs[i], err = selector.eval(&evalEnv{input: env.input, x: x, st: &st}); err != nil {
				return nil, err
			}
			if err := checkSize(inputs[i], "The input of an iteration of state '%s' after ItemSelector", s.Name); err != nil {
				return nil, err
			}
		}
	}
	b.add(Event{Type: "MapStateStarted", DetailsKey: "mapStateStartedEventDetails", kind: kindMapStarted, n: int64(len(items))})
	results := make([]any, len(items))
	err = x.fanOut(ctx, len(items), limit, func(ctx context.Context, i int) error {
		ib := b.child("i" + strconv.Itoa(i))
		iter := func(typ, key string) {
			ib.add(Event{Type: typ, DetailsKey: key, kind: kindMapIteration, state: s.Name, n: int64(i)})
		}
		iter("MapIterationStarted", "mapIterationStartedEventDetails")
		out, err := x.runMachine(ctx, s.ItemProcessor, inputs[i], ib)
		switch {
		case errors.Is(err, errAborted):
			iter("MapIterationAborted", "mapIterationAbortedEventDetails")
		case err != nil:
			iter("MapIterationFailed", "mapIterationFailedEventDetails")
		default:
			results[i] = out
			iter("MapIterationSucceeded", "mapIterationSucceededEventDetails")
		}
		return err
	})
	if err == nil {
		// Each iteration's output is within the limit; their sum may not be.
		err = checkSize(results, "The result of state '%s'", s.Name)
	}
	if err != nil {
		if !errors.Is(err, errAborted) {
			b.emit("MapStateFailed", "", nil)
		}
		return nil, err
	}
	b.emit("MapStateSucceeded", "", nil)
	return results, nil
}

// fanOut runs n jobs with at most limit at once: on the caller's goroutine
// and limit-1 worker goroutines the clock tracks; once out of jobs the caller
// waits for the others untracked. The first error cancels
// the rest and is returned; aborted siblings do not mask it.
func (x *Execution) fanOut(ctx context.Context, n, limit int, job func(ctx context.Context, i int) error) error {
	if n == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	clock := x.eng.clock
	next := make(chan int, n)
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	worker := func() {
		for i := range next {
			if ctx.Err() != nil {
				continue // not started: AWS reports nothing for them
			}
			if err := job(ctx, i); err != nil {
				mu.Lock()
				if first == nil || errors.Is(first, errAborted) && !errors.Is(err, errAborted) {
					first = err
				}
				mu.Unlock()
				if !errors.Is(err, errAborted) {
					cancel()
				}
			}
		}
	}
	// The caller is worker 0: a MaxConcurrency of 1 starts no goroutine,
	// and a goroutine hand-off costs more than most states.
	for w := 1; w < limit; w++ {
		wg.Add(1)
		track(clock)
		go func() {
			defer wg.Done()
			defer untrack(clock)
			worker()
		}()
	}
	worker()
	untrack(clock)
	wg.Wait()
	track(clock)
	if first == nil && ctx.Err() != nil {
		return errAborted
	}
	return first
}
