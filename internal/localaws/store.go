package localaws

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"

	"go.etcd.io/bbolt"

	"github.com/rotorhq/rotor/internal/asl"
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
func (sf *StepFunctions) put(bucket []byte, key string, v any) error {
	db := sf.srv.db
	if db == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return db.Update(func(tx *bbolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists(bucket)
		if err != nil {
			return err
		}
		return bk.Put([]byte(key), b)
	})
}

// load reads state machines and executions from the data file and resumes
// the executions that were running.
func (sf *StepFunctions) load() error {
	db := sf.srv.db
	if db == nil {
		return nil
	}
	var running []*execution
	err := db.View(func(tx *bbolt.Tx) error {
		if bk := tx.Bucket(bucketMachines); bk != nil {
			if err := bk.ForEach(func(k, v []byte) error {
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
			}); err != nil {
				return err
			}
		}
		if bk := tx.Bucket(bucketExecutions); bk != nil {
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
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("data file %s: %w", sf.srv.opts.DataFile, err)
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
		sf.srv.opts.Log.Info("resuming execution", "execution", ex.ARN, "events", len(events))
		sf.run(sm, ex, events)
	}
	return nil
}

// loadEvents reads an execution's recorded history.
func (sf *StepFunctions) loadEvents(arn string) ([]asl.Event, error) {
	var events []asl.Event
	db := sf.srv.db
	if db == nil {
		return nil, nil
	}
	err := db.View(func(tx *bbolt.Tx) error {
		root := tx.Bucket(bucketEvents)
		if root == nil {
			return nil
		}
		bk := root.Bucket([]byte(arn))
		if bk == nil {
			return nil
		}
		return bk.ForEach(func(_, v []byte) error {
			var e asl.Event
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			events = append(events, e)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("history of %s: %w", arn, err)
	}
	return events, nil
}

// boltJournal is an execution's asl.Journal in the data file.
type boltJournal struct {
	db   *bbolt.DB
	exec string
}

func (j *boltJournal) Load(key string) ([]byte, bool) {
	var out []byte
	_ = j.db.View(func(tx *bbolt.Tx) error {
		if root := tx.Bucket(bucketJournal); root != nil {
			if bk := root.Bucket([]byte(j.exec)); bk != nil {
				if v := bk.Get([]byte(key)); v != nil {
					out = append([]byte(nil), v...)
				}
			}
		}
		return nil
	})
	return out, out != nil
}

func (j *boltJournal) Store(key string, value []byte) error {
	return j.db.Update(func(tx *bbolt.Tx) error {
		bk, err := subBucket(tx, bucketJournal, j.exec)
		if err != nil {
			return err
		}
		return bk.Put([]byte(key), value)
	})
}

func (j *boltJournal) Event(key string, e asl.Event) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return j.db.Update(func(tx *bbolt.Tx) error {
		bk, err := subBucket(tx, bucketEvents, j.exec)
		if err != nil {
			return err
		}
		var id [8]byte
		binary.BigEndian.PutUint64(id[:], uint64(e.ID))
		if err := bk.Put(id[:], b); err != nil {
			return err
		}
		jb, err := subBucket(tx, bucketJournal, j.exec)
		if err != nil {
			return err
		}
		return jb.Put([]byte("ev:"+key), []byte(strconv.FormatInt(e.ID, 10)))
	})
}

func subBucket(tx *bbolt.Tx, root []byte, name string) (*bbolt.Bucket, error) {
	r, err := tx.CreateBucketIfNotExists(root)
	if err != nil {
		return nil, err
	}
	return r.CreateBucketIfNotExists([]byte(name))
}
