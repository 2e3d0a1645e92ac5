package stepfunctions

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"

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

// boltJournal is an execution's asl.Journal in the data file.
type boltJournal struct {
	db   *wire.DB
	exec []byte // the execution's ARN
}

func (j *boltJournal) Load(key string) ([]byte, bool) {
	var out []byte
	_ = j.db.View(func(bk *bbolt.Bucket) error {
		if v := bk.Get([]byte(key)); v != nil {
			out = append([]byte(nil), v...)
		}
		return nil
	}, bucketJournal, j.exec)
	return out, out != nil
}

func (j *boltJournal) Store(key string, value []byte) error {
	return j.db.Update(func(bk *bbolt.Bucket) error { return bk.Put([]byte(key), value) }, bucketJournal, j.exec)
}

// Event records e in the history and, in the same transaction, that the
// journal entry key produced it.
func (j *boltJournal) Event(key string, e asl.Event) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return j.db.UpdateTx(func(tx *bbolt.Tx) error {
		bk, err := wire.Bucket(tx, bucketEvents, j.exec)
		if err != nil {
			return err
		}
		var id [8]byte
		binary.BigEndian.PutUint64(id[:], uint64(e.ID))
		if err := bk.Put(id[:], b); err != nil {
			return err
		}
		jb, err := wire.Bucket(tx, bucketJournal, j.exec)
		if err != nil {
			return err
		}
		return jb.Put([]byte("ev:"+key), []byte(strconv.FormatInt(e.ID, 10)))
	})
}
