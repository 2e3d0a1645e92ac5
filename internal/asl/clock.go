package asl

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// Clock is the engine's source of time. Sleep returns early with the
// context's error when it is cancelled.
type Clock interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}

// RealClock is wall-clock time.
type RealClock struct{}

// Now implements Clock.
func (RealClock) Now() time.Time { return time.Now() }

// Sleep implements Clock.
func (RealClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// VirtualClock is a discrete-event clock: time stands still while any
// goroutine it tracks is working, and jumps to the earliest pending wake-up
// once every tracked goroutine is asleep. A 24-hour Wait therefore takes no
// real time, and concurrent branches still see a consistent order of time.
//
// The engine tracks its own goroutines (Map iterations, Parallel branches);
// code outside the engine that sleeps on the clock while no execution runs
// advances it at once.
type VirtualClock struct {
	mu      sync.Mutex
	now     time.Time
	busy    int // tracked goroutines not asleep
	sleeper sleepers
	seq     int
}

// NewVirtualClock returns a virtual clock reading start.
func NewVirtualClock(start time.Time) *VirtualClock { return &VirtualClock{now: start} }

// Now implements Clock.
func (c *VirtualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d, waking every sleeper due by then.
func (c *VirtualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.wakeDue()
}

// Sleep implements Clock.
func (c *VirtualClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	if d <= 0 {
		c.mu.Unlock()
		return nil
	}
	if c.busy == 1 && len(c.sleeper) == 0 {
		// The caller is the only goroutine working and nobody sleeps: time
		// jumps at once, without parking the caller.
		c.now = c.now.Add(d)
		c.mu.Unlock()
		return nil
	}
	s := &sleeper{at: c.now.Add(d), wake: make(chan struct{}), seq: c.seq, ctx: ctx}
	c.seq++
	heap.Push(&c.sleeper, s)
	c.busy--
	c.advanceIfIdle()
	c.mu.Unlock()
	select {
	case <-s.wake:
		return ctx.Err() // woken early if cancelled while the clock was idle
	case <-ctx.Done():
		c.mu.Lock()
		if s.index >= 0 { // still queued: we wake ourselves
			heap.Remove(&c.sleeper, s.index)
			c.busy++
		}
		c.mu.Unlock()
		return ctx.Err()
	}
}

// track marks one more goroutine as working; untrack marks it finished.
// The engine calls them around each goroutine it starts, and around a whole
// execution.
func (c *VirtualClock) track() {
	c.mu.Lock()
	c.busy++
	c.mu.Unlock()
}

func (c *VirtualClock) untrack() {
	c.mu.Lock()
	c.busy--
	c.advanceIfIdle()
	c.mu.Unlock()
}

// advanceIfIdle jumps to the earliest sleeper when nobody is working.
// Sleepers whose context was cancelled are woken first, without moving time:
// a cancellation must not race the jump (a Map that aborts its iterations
// would otherwise see their waits elapse).
func (c *VirtualClock) advanceIfIdle() {
	if c.busy > 0 || len(c.sleeper) == 0 {
		return
	}
	for i := len(c.sleeper) - 1; i >= 0; i-- {
		if i < len(c.sleeper) && c.sleeper[i].ctx.Err() != nil {
			s := c.sleeper[i]
			heap.Remove(&c.sleeper, i)
			c.busy++
			close(s.wake)
		}
	}
	if c.busy > 0 || len(c.sleeper) == 0 {
		return
	}
	if first := c.sleeper[0]; first.at.After(c.now) {
		c.now = first.at
	}
	c.wakeDue()
}

func (c *VirtualClock) wakeDue() {
	for len(c.sleeper) > 0 && !c.sleeper[0].at.After(c.now) {
		s := heap.Pop(&c.sleeper).(*sleeper)
		c.busy++
		close(s.wake)
	}
}

// tracker is implemented by clocks that need to know which goroutines work.
type tracker interface {
	track()
	untrack()
}

type sleeper struct {
	ctx   context.Context
	at    time.Time
	wake  chan struct{}
	seq   int
	index int
}

type sleepers []*sleeper

func (h sleepers) Len() int { return len(h) }
func (h sleepers) Less(i, j int) bool {
	if h[i].at.Equal(h[j].at) {
		return h[i].seq < h[j].seq
	}
	return h[i].at.Before(h[j].at)
}
func (h sleepers) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *sleepers) Push(x any) {
	s := x.(*sleeper)
	s.index = len(*h)
	*h = append(*h, s)
}
func (h *sleepers) Pop() any {
	old := *h
	s := old[len(old)-1]
	old[len(old)-1] = nil
	s.index = -1
	*h = old[:len(old)-1]
	return s
}
