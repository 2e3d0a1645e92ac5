package rotation

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/rotorhq/rotor/internal/ledger"
	"github.com/rotorhq/rotor/internal/rotorerr"
)

// Fan-out plans (docs/architecture.md, "Fleet scale"). A plan of several
// items is stored in pages, each well under Step Functions' 256 KiB state
// limit and DynamoDB's 400 KB item limit; the execution passes page
// references, and each child reads its own item. So no state carries more
// than ids and counts, whatever the fleet's size or its names' lengths.
const (
	// MaxPageBytes bounds a stored page's JSON.
	MaxPageBytes = 128 << 10
	// MaxPageItems bounds a page's items: a page execution iterates over
	// States.ArrayRange (at most 1,000 values) and records about nine
	// history events per item, so 500 keep it under 5,000 of 25,000.
	MaxPageItems = 500
	// PreviewItems bounds Plan.Preview.
	PreviewItems = 20
	// PageTTL is how long a stored page lives: longer than any sweep
	// takes to start its children at the smallest budget.
	PageTTL = 14 * 24 * time.Hour
	// MinWriteBudget is the smallest write budget accepted.
	MinWriteBudget = 0.1
)

// WritesPerRotation is how many calls from Secrets Manager's shared write
// quota (PutSecretValue, UpdateSecretVersionStage and the like) one
// rotation makes: create's PutSecretValue, switchover's move of AWSCURRENT
// and release of AWSPENDING, expire's ROTOR_REVOKED label. Tag writes
// (identities) have their own quota on AWS and are fewer.
// internal/rotorlocal's TestWritesPerRotation counts them in the requests
// the local endpoint serves, so this figure cannot drift.
const WritesPerRotation = 4

// Pages stores the pages of fan-out plans where every child execution can
// read them. Only rotor's functions write it: a page is trusted like a
// plan resolve made, unlike a tag anyone may write.
type Pages interface {
	// PutPage stores page under key, replacing any page there.
	PutPage(ctx context.Context, key string, page []byte) error
	// GetPage returns the page under key, or nil when there is none.
	GetPage(ctx context.Context, key string) ([]byte, error)
}

// LedgerPages keeps pages in the ledger table under ledger.PlanPrefix.
type LedgerPages struct{ Ledger *ledger.Ledger }

const pageAttr = "items"

// PutPage implements Pages.
func (p LedgerPages) PutPage(ctx context.Context, key string, page []byte) error {
	return p.Ledger.Put(ctx, key, PageTTL, map[string]string{pageAttr: string(page)})
}

// GetPage implements Pages.
func (p LedgerPages) GetPage(ctx context.Context, key string) ([]byte, error) {
	attrs, err := p.Ledger.Get(ctx, key)
	if err != nil || attrs == nil {
		return nil, err
	}
	return []byte(attrs[pageAttr]), nil
}

// MemoryPages keeps pages in memory, for tests and single-process hosts.
type MemoryPages struct {
	mu    sync.Mutex
	pages map[string][]byte
}

// PutPage implements Pages.
func (m *MemoryPages) PutPage(_ context.Context, key string, page []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pages == nil {
		m.pages = map[string][]byte{}
	}
	m.pages[key] = append([]byte(nil), page...)
	return nil
}

// GetPage implements Pages.
func (m *MemoryPages) GetPage(_ context.Context, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pages[key], nil
}

func (s *Service) pages() (Pages, error) {
	switch {
	case s.Pages != nil:
		return s.Pages, nil
	case s.Ledger != nil:
		return LedgerPages{s.Ledger}, nil
	}
	return nil, rotorerr.New(rotorerr.InvalidInput, fmt.Sprintf(
		"a plan of several secrets is stored for its child executions, and this function has no ledger table (%s is not set)", ledger.EnvTable))
}

func pageKey(plan string, page int) string {
	return ledger.PlanPrefix + plan + "#" + strconv.Itoa(page)
}

// storePlan splits items into pages, stores them, and sets the plan's
// page references.
func (s *Service) storePlan(ctx context.Context, plan *Plan, items []Item) error {
	store, err := s.pages()
	if err != nil {
		return err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return fmt.Errorf("plan id: %w", err)
	}
	var page []json.RawMessage
	size := 2
	flush := func() error {
		if len(page) == 0 {
			return nil
		}
		b, err := json.Marshal(page)
		if err != nil {
			return err
		}
		ref := PageRef{Plan: id.String(), Index: len(plan.Pages), Count: len(page), Last: len(page) - 1}
		if err := store.PutPage(ctx, pageKey(ref.Plan, ref.Index), b); err != nil {
			return fmt.Errorf("store page %d of plan %s: %w", ref.Index, ref.Plan, err)
		}
		plan.Pages = append(plan.Pages, ref)
		page, size = page[:0], 2
		return nil
	}
	for _, it := range items {
		b, err := json.Marshal(it)
		if err != nil {
			return err
		}
		if len(page) == MaxPageItems || size+len(b)+1 > MaxPageBytes {
			if err := flush(); err != nil {
				return err
			}
		}
		page, size = append(page, b), size+len(b)+1
	}
	return flush()
}

// LoadItem is a child execution's first step: the item it rotates, read
// from its plan's stored page.
func (s *Service) LoadItem(ctx context.Context, in Planned) (*Item, error) {
	if _, err := uuid.Parse(in.Plan); err != nil || in.Page < 0 || in.Index < 0 || in.Index >= MaxPageItems {
		return nil, rotorerr.New(rotorerr.InvalidInput, fmt.Sprintf(
			"invalid child input: plan %q page %d index %d (want a plan id, a page from 0 and an index from 0 to %d)", in.Plan, in.Page, in.Index, MaxPageItems-1))
	}
	store, err := s.pages()
	if err != nil {
		return nil, err
	}
	b, err := store.GetPage(ctx, pageKey(in.Plan, in.Page))
	if err != nil {
		return nil, rotorerr.Wrap(rotorerr.Transient, fmt.Errorf("read page %d of plan %s: %w", in.Page, in.Plan, err))
	}
	if b == nil {
		return nil, rotorerr.New(rotorerr.NotFound, fmt.Sprintf(
			"page %d of plan %s does not exist (pages expire after %s)", in.Page, in.Plan, fmtDays(PageTTL)))
	}
	var items []Item
	if err := json.Unmarshal(b, &items); err != nil {
		return nil, rotorerr.New(rotorerr.Unsafe, fmt.Sprintf("page %d of plan %s is not a list of items: %v", in.Page, in.Plan, err))
	}
	if in.Index >= len(items) {
		return nil, rotorerr.New(rotorerr.InvalidInput, fmt.Sprintf("page %d of plan %s has %d items, not %d", in.Page, in.Plan, len(items), in.Index+1))
	}
	it := items[in.Index]
	s.log().InfoContext(ctx, "loaded planned item", "step", "resolve", "plan", in.Plan, "page", in.Page, "index", in.Index, "secretId", it.SecretID)
	return &it, nil
}

// pace turns the write budget into child starts: Concurrency slots, each
// starting a child and then waiting Seconds, start
// budget/WritesPerRotation children per second. Seconds is a whole number
// (a Wait state's), so it is chosen with Concurrency to come closest to
// that rate without exceeding it.
func (s *Service) pace() Pace {
	budget := s.WriteBudget
	if budget <= 0 {
		budget = DefaultWriteBudget
	}
	rate := budget / WritesPerRotation
	best := Pace{Concurrency: 1, Seconds: int(math.Ceil(1 / rate)), RotationsPerSecond: rate}
	bestRate := 1 / float64(best.Seconds)
	for sec := 1; sec <= 60; sec++ {
		c := int(math.Floor(rate*float64(sec) + 1e-9))
		if c < 1 || c > 40 { // an inline Map runs at most 40 iterations at once
			continue
		}
		if r := float64(c) / float64(sec); r > bestRate+1e-9 {
			best.Concurrency, best.Seconds, bestRate = c, sec, r
		}
	}
	return best
}
