package secretsmanager

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"go.etcd.io/bbolt"

	"github.com/rotorhq/rotor/internal/smstore"

	"github.com/rotorhq/rotor/internal/localaws/wire"
)

// Service is the local Secrets Manager (see the package comment).
type Service struct {
	store *smstore.Store
	db    *wire.DB // nil in memory mode
	now   func() time.Time
	log   *slog.Logger

	// saveMu orders saves: each writes a snapshot taken after the previous
	// save's, so the data file never goes back to an older state.
	saveMu sync.Mutex
	// accessSaved maps a secret ARN, and a secret ARN and version id, to the
	// LastAccessedDate day the data file is known to hold. Guarded by saveMu.
	accessSaved map[string]time.Time
}

const smContentType = "application/x-amz-json-1.1"

// Bucket and Key are where the data file holds the Secrets Manager
// snapshot (read them, never change them).
var (
	Bucket = []byte("secretsmanager")
	Key    = []byte("store")
)

// smPersist says what an operation needs saved after it succeeds.
type smPersist int

const (
	smRead   smPersist = iota // changes nothing (but the lazy purge)
	smWrite                   // changes state: always saved
	smAccess                  // GetSecretValue: saved when a LastAccessedDate changes
)

// smHandler decodes, runs and persists one operation, returning its output.
type smHandler func(sm *Service, ctx context.Context, body []byte) (any, error)

var smOps = map[string]smHandler{
	"CreateSecret":             smOp((*smstore.Store).CreateSecret, smWrite),
	"DescribeSecret":           smOp((*smstore.Store).DescribeSecret, smRead),
	"GetSecretValue":           smOp((*smstore.Store).GetSecretValue, smAccess),
	"PutSecretValue":           smOp((*smstore.Store).PutSecretValue, smWrite),
	"UpdateSecretVersionStage": smOp((*smstore.Store).UpdateSecretVersionStage, smWrite),
	"ListSecretVersionIds":     smOp((*smstore.Store).ListSecretVersionIds, smRead),
	"ListSecrets":              smOp((*smstore.Store).ListSecrets, smRead),
	"TagResource":              smOp((*smstore.Store).TagResource, smWrite),
	"UntagResource":            smOp((*smstore.Store).UntagResource, smWrite),
	"DeleteSecret":             smOp((*smstore.Store).DeleteSecret, smWrite),
	"RestoreSecret":            smOp((*smstore.Store).RestoreSecret, smWrite),
}

// smOp adapts a Store method (which has the SDK client's signature) to a
// handler.
func smOp[I, O any](call func(*smstore.Store, context.Context, *I, ...func(*secretsmanager.Options)) (*O, error), p smPersist) smHandler {
	return func(sm *Service, ctx context.Context, body []byte) (any, error) {
		in := new(I)
		if err := wire.DecodeJSON(body, in); err != nil {
			return nil, err
		}
		var before time.Time
		if p == smAccess {
			before = sm.now()
		}
		out, err := call(sm.store, ctx, in)
		if err != nil {
			return nil, err
		}
		switch p {
		case smWrite:
			err = sm.save(nil)
		case smAccess:
			if g, ok := any(out).(*secretsmanager.GetSecretValueOutput); ok {
				err = sm.saveAccess(g, before)
			} else {
				err = sm.save(nil)
			}
		}
		if err != nil {
			return nil, err
		}
		return out, nil
	}
}

// New builds the service, loading its state from env.DB.
func New(env wire.Env) (*Service, error) {
	opts := smstore.Options{Region: env.Region, Account: env.Account, Now: env.Now}
	sm := &Service{
		store:       smstore.New(opts),
		db:          env.DB,
		now:         env.Now,
		log:         env.Log,
		accessSaved: map[string]time.Time{},
	}
	if sm.now == nil {
		sm.now = time.Now
	}
	if sm.log == nil {
		sm.log = slog.New(slog.DiscardHandler)
	}
	err := sm.db.View(func(b *bbolt.Bucket) error {
		data := b.Get(Key)
		if data == nil {
			return nil
		}
		st, err := smstore.Load(opts, data) // data is only valid inside the transaction
		if err != nil {
			return err
		}
		sm.store = st
		return nil
	}, Bucket)
	if err != nil {
		return nil, fmt.Errorf("secrets manager: data file %s, bucket %q, key %q: %w", sm.db.File(), Bucket, Key, err)
	}
	return sm, nil
}

// Store returns the store behind the endpoint, for hosts that read or seed
// secrets directly. Changes made through it bypass the data file until
// Save, or the next write through the endpoint, saves the whole state.
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

// Save writes the whole store to the data file (nothing in memory mode),
// for hosts that changed it through Store.
func (sm *Service) Save() error { return sm.save(nil) }

// save writes a snapshot of the whole store to the data file in one
// transaction; then, under the same lock, it runs after (if not nil). In
// memory mode it does nothing.
//
// When the write fails the operation has been applied in memory but is not
// durable: the client gets InternalServiceError (a 500, which the SDK
// retries; a retry with the same ClientRequestToken is idempotent and saves
// again).
func (sm *Service) save(after func()) error {
	if sm.db == nil {
		return nil
	}
	sm.saveMu.Lock()
	defer sm.saveMu.Unlock()
	snap, err := sm.store.Snapshot()
	if err == nil {
		err = sm.db.Update(func(b *bbolt.Bucket) error { return b.Put(Key, snap) }, Bucket)
	}
	if err != nil {
		sm.log.Error("secrets manager: saving state", "file", sm.db.File(), "error", err)
		return &wire.Error{Code: "InternalServiceError", Status: http.StatusInternalServerError,
			Message: "rotor's local Secrets Manager applied the request but could not save it to its data file; retry it"}
	}
	if after != nil {
		after()
	}
	return nil
}

// saveAccess saves after a GetSecretValue that started at before, unless
// the data file already holds the LastAccessedDate day it stamped on the
// secret and on the version.
func (sm *Service) saveAccess(out *secretsmanager.GetSecretValueOutput, before time.Time) error {
	if sm.db == nil || out.ARN == nil || out.VersionId == nil {
		return sm.save(nil)
	}
	d := accessDay(before)
	if accessDay(sm.now()) != d {
		// The day turned during the call: which day the store stamped is
		// unknown, so save without recording it.
		return sm.save(nil)
	}
	secKey, verKey := *out.ARN, *out.ARN+"\x00"+*out.VersionId
	sm.saveMu.Lock()
	saved := sm.accessSaved[secKey].Equal(d) && sm.accessSaved[verKey].Equal(d)
	sm.saveMu.Unlock()
	if saved {
		return nil
	}
	return sm.save(func() {
		if len(sm.accessSaved) > 100_000 {
			clear(sm.accessSaved) // forgetting only costs a save
		}
		sm.accessSaved[secKey], sm.accessSaved[verKey] = d, d
	})
}

// accessDay is LastAccessedDate as smstore records it: the UTC day.
func accessDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
