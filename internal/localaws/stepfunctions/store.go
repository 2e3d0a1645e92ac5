package stepfunctions

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.etcd.io/bbolt"

	"github.com/rotorhq/rotor/internal/asl"
	"github.com/rotorhq/rotor/internal/localaws/wire"
)

// Buckets of the data file used by Step Functions.
var (
	bucketMachines   = []byte("sfn-machines")
	bucketExecutions = []byte("sfn-executions")
	bucketJournal    = []byte("sfn-journal") // one sub-bucket per execution ARN
	bucketEvents     = []byte("sfn-events")  // one sub-bucket per execution ARN, keyed by event id
)

// put stores v as JSON under key in bucket (nothing without a data file).
// The caller holds sf.mu: v is read while it is encoded.
func (sf *Service) put(bucket []byte, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return sf.env.DB.Update(func(bk *bbolt.Bucket) error { return bk.Put([]byte(key), b) }, bucket)
}

// load reads state machines and executions from the data file and resumes
// the executions that were running.
func (sf *Service) load() error {
	var running []*execution
	err := sf.env.DB.View(func(bk *bbolt.Bucket) error {
		return bk.ForEach(func(k, v []byte) error {
			var sm stateMachine
			if err := json.Unmarshal(v, &sm); err != nil {
				return fmt.Errorf("state machine %s: %w", k, err)
			}
			def, err := asl.Parse([]byte(sm.Definition))
			if err != nil {
				return fmt.Errorf("state machine %s: %w", k, err)
			}
			sm.def = def
			sf.machines[sm.ARN] = &sm
			return nil
		})
	}, bucketMachines)
	if err == nil {
		err = sf.env.DB.View(func(bk *bbolt.Bucket) error {
			return bk.ForEach(func(k, v []byte) error {
				var ex execution
				if err := json.Unmarshal(v, &ex); err != nil {
					return fmt.Errorf("execution %s: %w", k, err)
				}
				sf.execs[ex.ARN] = &ex
				if ex.status() == asl.StatusRunning {
					running = append(running, &ex)
				}
				return nil
			})
		}, bucketExecutions)
	}
	if err != nil {
		return fmt.Errorf("data file %s: %w", sf.env.DB.File(), err)
	}
	for _, ex := range running {
		sm, ok := sf.machines[ex.MachineARN]
		if !ok {
			continue
		}
		events, err := sf.loadEvents(ex.ARN)
		if err != nil {
			return err
		}
		sf.env.Log.Info("resuming execution", "execution", ex.ARN, "events", len(events))
		sf.run(sm, ex, events)
	}
	return nil
}

// loadEvents reads an execution's recorded history.
func (sf *Service) loadEvents(arn string) ([]asl.Event, error) {
	var events []asl.Event
	err := sf.env.DB.View(func(bk *bbolt.Bucket) error {
		return bk.ForEach(func(_, v []byte) error {
			var e asl.Event
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			events = append(events, e)
			return nil
		})
	}, bucketEvents, []byte(arn))
	if err != nil {
		return nil, fmt.Errorf("history of %s: %w", arn, err)
	}
	return events, nil
}

// Events are written in batches: a journal buffers them and writes them,
// in id order, in one transaction with the next value it stores (a task's
// result, a state's entry time: Store is durable when it returns, as the
// engine requires), when flushDelay has passed since the first buffered
// one, when maxPending are buffered, and before the execution's ending is
// recorded or the server closes. A crash loses at most the events of the
// last flushDelay, and never an event without the values recorded before
// it: what the file holds is always a prefix of what was recorded, which
// is a state the execution passed through, and a resumed execution
// records the lost events again as it re-runs from there.
const (
	flushDelay = 10 * time.Millisecond
	maxPending = 256
)

// boltJournal is an execution's asl.Journal in the data file.
type boltJournal struct {
	db   *wire.DB
	exec []byte // the execution's ARN
	log  *slog.Logger

	// flushMu orders the transactions that write events, so that they
	// reach the file in id order.
	flushMu sync.Mutex

	mu      sync.Mutex
	pending []pendingEvent
	timer   *time.Timer // flushes pending; nil when none is buffered
	// written holds every key this process recorded, for a journal that
	// was empty when it started (nil otherwise): Load of another key then
	// needs no read of the file.
	written map[string]bool
	// ended: the execution ended or was detached, and end flushed; an
	// event that still comes is written at once, with no timer left
	// behind.
	ended bool
}

// pendingEvent is an event buffered for the next flush.
type pendingEvent struct {
	key  string // its journal key, without "ev:"
	id   int64
	json []byte
}

// newJournal returns the journal of an execution; fresh says it starts
// empty (a new execution, not a resumed one).
func newJournal(db *wire.DB, exec string, log *slog.Logger, fresh bool) *boltJournal {
	j := &boltJournal{db: db, exec: []byte(exec), log: log}
	if fresh {
		j.written = map[string]bool{}
	}
	return j
}

func (j *boltJournal) Load(key string) ([]byte, bool) {
	j.mu.Lock()
	if j.written != nil && !j.written[key] {
		j.mu.Unlock()
		return nil, false
	}
	if ev, ok := strings.CutPrefix(key, "ev:"); ok {
		for _, p := range j.pending {
			if p.key == ev {
				j.mu.Unlock()
				return []byte(strconv.FormatInt(p.id, 10)), true
			}
		}
	}
	j.mu.Unlock()
	var out []byte
	_ = j.db.View(func(bk *bbolt.Bucket) error {
		if v := bk.Get([]byte(key)); v != nil {
			out = append([]byte(nil), v...)
		}
		return nil
	}, bucketJournal, j.exec)
	return out, out != nil
}

// Store records a value, and in the same transaction the events buffered
// before it, so that the file never holds a value without them.
func (j *boltJournal) Store(key string, value []byte) error {
	j.flushMu.Lock()
	defer j.flushMu.Unlock()
	events := j.take()
	err := j.db.UpdateTx(func(tx *bbolt.Tx) error {
		if err := j.writeEvents(tx, events); err != nil {
			return err
		}
		jb, err := wire.Bucket(tx, bucketJournal, j.exec)
		if err != nil {
			return err
		}
		return jb.Put([]byte(key), value)
	})
	if err != nil {
		j.giveBack(events)
		return err
	}
	j.mu.Lock()
	if j.written != nil {
		j.written[key] = true
	}
	j.mu.Unlock()
	return nil
}

// Event buffers a history event for the next write (see flushDelay); it
// flushes at once when maxPending are buffered. The engine calls it under
// its execution's lock, in id order.
func (j *boltJournal) Event(key string, e asl.Event) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	j.mu.Lock()
	j.pending = append(j.pending, pendingEvent{key: key, id: e.ID, json: b})
	if j.written != nil {
		j.written["ev:"+key] = true
	}
	now := len(j.pending) >= maxPending || j.ended
	if !now {
		j.arm()
	}
	j.mu.Unlock()
	if now {
		return j.Flush()
	}
	return nil
}

// arm starts the timer that flushes the buffer, unless it runs. The
// caller holds mu.
func (j *boltJournal) arm() {
	if j.timer != nil {
		return
	}
	j.timer = time.AfterFunc(flushDelay, func() {
		if err := j.Flush(); err != nil {
			j.log.Error("persist execution history", "execution", string(j.exec), "error", err)
		}
	})
}

// Flush writes the buffered events in one transaction. On failure they
// stay buffered, for the next write.
func (j *boltJournal) Flush() error {
	j.flushMu.Lock()
	defer j.flushMu.Unlock()
	events := j.take()
	if len(events) == 0 {
		return nil
	}
	if err := j.db.UpdateTx(func(tx *bbolt.Tx) error { return j.writeEvents(tx, events) }); err != nil {
		j.giveBack(events)
		return err
	}
	return nil
}

// take empties the buffer (and stops its timer). The caller holds flushMu.
func (j *boltJournal) take() []pendingEvent {
	j.mu.Lock()
	defer j.mu.Unlock()
	events := j.pending
	j.pending = nil
	if j.timer != nil {
		j.timer.Stop()
		j.timer = nil
	}
	return events
}

// giveBack puts events a failed write took back in front of the buffer,
// and arms the timer to try again. The caller holds flushMu, so no other
// write took events meanwhile.
func (j *boltJournal) giveBack(events []pendingEvent) {
	if len(events) == 0 {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.pending = append(events, j.pending...)
	if !j.ended {
		j.arm()
	}
}

// writeEvents records events in the history and, for each, that its
// journal key produced it.
func (j *boltJournal) writeEvents(tx *bbolt.Tx, events []pendingEvent) error {
	if len(events) == 0 {
		return nil
	}
	bk, err := wire.Bucket(tx, bucketEvents, j.exec)
	if err != nil {
		return err
	}
	jb, err := wire.Bucket(tx, bucketJournal, j.exec)
	if err != nil {
		return err
	}
	for _, p := range events {
		var id [8]byte
		binary.BigEndian.PutUint64(id[:], uint64(p.id))
		if err := bk.Put(id[:], p.json); err != nil {
			return err
		}
		if err := jb.Put([]byte("ev:"+p.key), []byte(strconv.FormatInt(p.id, 10))); err != nil {
			return err
		}
	}
	return nil
}

// end writes what is buffered, once the execution has ended or was
// detached, before its ending is recorded; it forgets what only Load
// needed.
func (j *boltJournal) end() error {
	j.mu.Lock()
	j.ended = true
	j.written = nil
	j.mu.Unlock()
	return j.Flush()
}
