package localaws

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

// SecretsManager serves AWS Secrets Manager's awsJson1.1 protocol
// (POST /, X-Amz-Target: secretsmanager.OPERATION) from an smstore.Store,
// which holds every rule of the service: requests decode into the SDK's own
// input types, the store's outputs and typed errors go back as they are.
//
// Operations: CreateSecret, DescribeSecret, GetSecretValue, PutSecretValue,
// UpdateSecretVersionStage, ListSecretVersionIds, ListSecrets, TagResource,
// UntagResource, DeleteSecret, RestoreSecret. Any other operation is
// UnknownOperationException.
//
// With a data file the store is loaded from bucket "secretsmanager", key
// "store", and saved there (a whole smstore snapshot, in one bbolt
// transaction) after every successful write operation before it is
// answered, so an answered write survives a crash. GetSecretValue changes
// state too (it stamps LastAccessedDate, at day resolution); it saves only
// when that changes what the data file holds, that is at the first read of
// a version on a given day (per process), so reads cost no disk write in
// the common case. Secrets whose deletion date has passed are purged from
// memory lazily by any operation and from the data file by the next save;
// until then a restart loads them and purges them again at once, which
// callers cannot tell apart.
type SecretsManager struct {
	store *smstore.Store
	db    *bbolt.DB // nil in memory mode
	file  string
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

// The data file's bucket and key of the Secrets Manager snapshot.
var (
	smBucket = []byte("secretsmanager")
	smKey    = []byte("store")
)

// smPersist says what an operation needs saved after it succeeds.
type smPersist int

const (
	smRead   smPersist = iota // changes nothing (but the lazy purge)
	smWrite                   // changes state: always saved
	smAccess                  // GetSecretValue: saved when a LastAccessedDate changes
)

// smHandler decodes, runs and persists one operation, returning its output.
type smHandler func(sm *SecretsManager, ctx context.Context, body []byte) (any, error)

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
	return func(sm *SecretsManager, ctx context.Context, body []byte) (any, error) {
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

// newSecretsManager builds the service, loading its state from the data
// file when the server has one.
func newSecretsManager(s *Server) (*SecretsManager, error) {
	opts := smstore.Options{Region: s.opts.Region, Account: s.opts.Account, Now: s.opts.Now}
	sm := &SecretsManager{
		store:       smstore.New(opts),
		db:          s.db,
		file:        s.opts.DataFile,
		now:         s.opts.Now,
		log:         s.opts.Log,
		accessSaved: map[string]time.Time{},
	}
	if sm.now == nil {
		sm.now = time.Now
	}
	if sm.log == nil {
		sm.log = slog.New(slog.DiscardHandler)
	}
	if sm.db == nil {
		return sm, nil
	}
	err := sm.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(smBucket)
		if b == nil {
			return nil
		}
		data := b.Get(smKey)
		if data == nil {
			return nil
		}
		st, err := smstore.Load(opts, data) // data is only valid inside the transaction
		if err != nil {
			return err
		}
		sm.store = st
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("secrets manager: data file %s, bucket %q, key %q: %w", sm.file, smBucket, smKey, err)
	}
	return sm, nil
}

// Store returns the store behind the endpoint, for hosts that read or seed
// secrets directly. Changes made through it bypass the data file until the
// next write through the endpoint saves the whole state.
func (sm *SecretsManager) Store() *smstore.Store { return sm.store }

func (sm *SecretsManager) Serve(w http.ResponseWriter, r *http.Request, op string, body []byte) {
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

// save writes a snapshot of the whole store to the data file in one
// transaction; then, under the same lock, it runs after (if not nil). In
// memory mode it does nothing.
//
// When the write fails the operation has been applied in memory but is not
// durable: the client gets InternalServiceError (a 500, which the SDK
// retries; a retry with the same ClientRequestToken is idempotent and saves
// again).
func (sm *SecretsManager) save(after func()) error {
	if sm.db == nil {
		return nil
	}
	sm.saveMu.Lock()
	defer sm.saveMu.Unlock()
	snap, err := sm.store.Snapshot()
	if err == nil {
		err = sm.db.Update(func(tx *bbolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists(smBucket)
			if err != nil {
				return err
			}
			return b.Put(smKey, snap)
		})
	}
	if err != nil {
		sm.log.Error("secrets manager: saving state", "file", sm.file, "error", err)
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
func (sm *SecretsManager) saveAccess(out *secretsmanager.GetSecretValueOutput, before time.Time) error {
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
