package secretsmanager

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"go.etcd.io/bbolt"

	"github.com/rotorhq/rotor/internal/smstore"

	"github.com/rotorhq/rotor/internal/localaws/wire"
)

// Service is the local Secrets Manager (see the package comment).
type Service struct {
	store *smstore.Store
	db    *wire.DB // nil in memory mode
	log   *slog.Logger

	// saveMu orders saves: each writes the changes the store reported
	// after the previous save's, so a record never goes back to an older
	// state.
	saveMu sync.Mutex
	// unsaved holds the records a failed save could not write (nil Data:
	// delete), written by the next save. Guarded by saveMu.
	unsaved map[string][]byte
	// headerSaved tells that the data file holds the store's header.
	// Guarded by saveMu.
	headerSaved bool
}

const smContentType = "application/x-amz-json-1.1"

// Bucket and Key are where the data file holds the store's header (a
// smstore header, or a whole snapshot in files written before records
// existed); RecordsBucket, nested in Bucket, holds one record per secret,
// keyed by the secret's name. Read them, never change them.
var (
	Bucket        = []byte("secretsmanager")
	Key           = []byte("store")
	RecordsBucket = []byte("secrets")
)

// smHandler decodes, runs and persists one operation, returning its output.
type smHandler func(sm *Service, ctx context.Context, body []byte) (any, error)

var smOps = map[string]smHandler{
	"CreateSecret":             smOp((*smstore.Store).CreateSecret, true),
	"DescribeSecret":           smOp((*smstore.Store).DescribeSecret, false),
	"GetSecretValue":           smOp((*smstore.Store).GetSecretValue, true), // it may stamp LastAccessedDate
	"PutSecretValue":           smOp((*smstore.Store).PutSecretValue, true),
	"UpdateSecretVersionStage": smOp((*smstore.Store).UpdateSecretVersionStage, true),
	"ListSecretVersionIds":     smOp((*smstore.Store).ListSecretVersionIds, false),
	"ListSecrets":              smOp((*smstore.Store).ListSecrets, false),
	"TagResource":              smOp((*smstore.Store).TagResource, true),
	"UntagResource":            smOp((*smstore.Store).UntagResource, true),
	"DeleteSecret":             smOp((*smstore.Store).DeleteSecret, true),
	"RestoreSecret":            smOp((*smstore.Store).RestoreSecret, true),
}

// smOp adapts a Store method (which has the SDK client's signature) to a
// handler; when save is set, what the operation changed is saved before
// it is answered.
func smOp[I, O any](call func(*smstore.Store, context.Context, *I, ...func(*secretsmanager.Options)) (*O, error), save bool) smHandler {
	return func(sm *Service, ctx context.Context, body []byte) (any, error) {
		in := new(I)
		if err := wire.DecodeJSON(body, in); err != nil {
			return nil, err
		}
		out, err := call(sm.store, ctx, in)
		if err != nil {
			return nil, err
		}
		if save {
			if err := sm.save(); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
}

// New builds the service, loading its state from env.DB. A data file
// that holds a whole snapshot (as rotor wrote before it kept one record per
// secret) is converted, in one transaction, before New returns.
func New(env wire.Env) (*Service, error) {
	opts := smstore.Options{Region: env.Region, Account: env.Account, Now: env.Now}
	sm := &Service{store: smstore.New(opts), db: env.DB, log: env.Log, unsaved: map[string][]byte{}}
	if sm.log == nil {
		sm.log = slog.New(slog.DiscardHandler)
	}
	var convert bool
	err := sm.db.View(func(b *bbolt.Bucket) error {
		header, records := b.Get(Key), b.Bucket(RecordsBucket)
		if header == nil {
			if k, _ := keyValuesFirst(records); k != nil {
				return errors.New("records without a header")
			}
			return nil
		}
		// header and the records are only valid inside the transaction:
		// the store copies what it keeps.
		format, err := smstore.Format(header)
		if err != nil {
			return err
		}
		var st *smstore.Store
		switch format {
		case smstore.SnapshotFormat:
			st, err = smstore.Load(opts, header)
			convert = true
		case smstore.RecordsFormat:
			st, err = smstore.LoadRecords(opts, header, keyValues(records))
			sm.headerSaved = true
		default:
			err = fmt.Errorf("format %d is not one this rotor reads (%d or %d)", format, smstore.SnapshotFormat, smstore.RecordsFormat)
		}
		if err != nil {
			return err
		}
		sm.store = st
		return nil
	}, Bucket)
	if err == nil && convert {
		err = sm.convert()
	}
	if err != nil {
		return nil, fmt.Errorf("secrets manager: data file %s, bucket %q, key %q (and the records in bucket %q inside it): %w",
			sm.db.File(), Bucket, Key, RecordsBucket, err)
	}
	return sm, nil
}

// keyValues iterates a bucket's keys and values (none for a nil bucket).
func keyValues(b *bbolt.Bucket) iter.Seq2[[]byte, []byte] {
	return func(yield func([]byte, []byte) bool) {
		if b == nil {
			return
		}
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if v == nil {
				continue // a nested bucket, which rotor never makes here
			}
			if !yield(k, v) {
				return
			}
		}
	}
}

// keyValuesFirst returns a bucket's first key (nil for none or a nil
// bucket).
func keyValuesFirst(b *bbolt.Bucket) ([]byte, []byte) {
	if b == nil {
		return nil, nil
	}
	return b.Cursor().First()
}

// convert rewrites a data file that held a whole snapshot as a header and
// one record per secret, in one transaction.
func (sm *Service) convert() error {
	recs, err := sm.store.Records()
	if err != nil {
		return err
	}
	err = sm.db.UpdateTx(func(tx *bbolt.Tx) error {
		rb, err := wire.Bucket(tx, Bucket, RecordsBucket)
		if err != nil {
			return err
		}
		for _, r := range recs {
			if err := rb.Put([]byte(r.Name), r.Data); err != nil {
				return err
			}
		}
		return tx.Bucket(Bucket).Put(Key, sm.store.Header())
	})
	if err != nil {
		return fmt.Errorf("converting the snapshot to one record per secret: %w", err)
	}
	_, _ = sm.store.Changes() // what was loaded is what the file holds
	sm.headerSaved = true
	sm.log.Info("secrets manager: data file converted to one record per secret", "file", sm.db.File(), "secrets", len(recs))
	return nil
}

// Store returns the store behind the endpoint, for hosts that read or seed
// secrets directly. Changes made through it reach the data file at Save,
// or at the next write through the endpoint, which saves every change
// since the last save.
func (sm *Service) Store() *smstore.Store { return sm.store }

func (sm *Service) Serve(w http.ResponseWriter, r *http.Request, op string, body []byte) {
	h, ok := smOps[op]
	if !ok {
		wire.WriteJSONError(w, smContentType, &wire.Error{Code: "UnknownOperationException",
			Message: fmt.Sprintf("rotor's local Secrets Manager does not support the operation %q", op)})
		return
	}
	out, err := h(sm, r.Context(), body)
	if err != nil {
		wire.WriteJSONError(w, smContentType, err)
		return
	}
	wire.WriteJSON(w, smContentType, out)
}

// Save writes what changed since the last save to the data file (nothing
// in memory mode), for hosts that changed the store through Store.
func (sm *Service) Save() error { return sm.save() }

// save writes the records of the secrets that changed since the last save
// (and those a failed save left) to the data file, in one transaction: a
// write costs the secrets it changed, not the whole store. It does nothing
// in memory mode, or when nothing changed (a GetSecretValue that moved no
// LastAccessedDate).
//
// The changes are taken under saveMu, so when save returns every change
// made before it was called is in the file: taken and written by this
// save, or by an earlier one that held saveMu meanwhile.
//
// When the write fails the operation has been applied in memory but is not
// durable: the client gets InternalServiceError (a 500, which the SDK
// retries; a retry with the same ClientRequestToken is idempotent and saves
// again, and so does any later write).
func (sm *Service) save() error {
	if sm.db == nil {
		return nil
	}
	sm.saveMu.Lock()
	defer sm.saveMu.Unlock()
	recs, err := sm.store.Changes()
	if err == nil {
		for _, r := range recs {
			sm.unsaved[r.Name] = r.Data
		}
		if len(sm.unsaved) == 0 {
			return nil
		}
		err = sm.db.UpdateTx(sm.write)
	}
	if err != nil {
		sm.log.Error("secrets manager: saving state", "file", sm.db.File(), "error", err)
		return &wire.Error{Code: "InternalServiceError", Status: http.StatusInternalServerError,
			Message: "rotor's local Secrets Manager applied the request but could not save it to its data file; retry it"}
	}
	clear(sm.unsaved)
	sm.headerSaved = true
	return nil
}

// write puts the unsaved records (and the header, the first time) in tx.
// The caller holds saveMu.
func (sm *Service) write(tx *bbolt.Tx) error {
	rb, err := wire.Bucket(tx, Bucket, RecordsBucket)
	if err != nil {
		return err
	}
	if !sm.headerSaved {
		if err := tx.Bucket(Bucket).Put(Key, sm.store.Header()); err != nil {
			return err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(sm.unsaved)) { // in key order, as bbolt writes best
		if data := sm.unsaved[name]; data == nil {
			err = rb.Delete([]byte(name))
		} else {
			err = rb.Put([]byte(name), data)
		}
		if err != nil {
			return fmt.Errorf("record %q: %w", name, err)
		}
	}
	return nil
}
