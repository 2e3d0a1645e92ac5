package dynamodb

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"go.etcd.io/bbolt"

	"github.com/rotorhq/rotor/internal/strictjson"

	"github.com/rotorhq/rotor/internal/localaws/wire"
)

// Service is the local DynamoDB (see the package comment).
type Service struct {
	db              *wire.DB // nil keeps state in memory
	region, account string
	now             func() time.Time

	mu     sync.Mutex
	tables map[string]*ddbTable // by name
}

type ddbTable struct {
	Name, ARN, ID string
	Created       time.Time
	Keys          []ddbKey // the partition key, then the sort key if any
	BillingMode   string
	Read, Write   int64  `json:",omitempty"` // provisioned throughput
	TTLAttr       string `json:",omitempty"` // "" while TTL is disabled

	items  map[string]ddbItem // by itemKey
	purged time.Time          // when expired items were last purged
}

// ddbKey is a key attribute: its name and type (S, N or B).
type ddbKey struct{ Name, Type string }

// ddbItem is an item: attribute names to AttributeValues as wire JSON.
type ddbItem map[string]jsontext.Value

const (
	ddbJSON       = "application/x-amz-json-1.0"
	ddbMaxItem    = 400 << 10
	ddbPurgeEvery = time.Minute
	// ddbTTLHorizon: AWS's sweeper leaves items whose expiry is more than
	// five years past (a TTL attribute in milliseconds, say) alone.
	ddbTTLHorizon = 5 * 365 * 24 * time.Hour
)

var (
	ddbBucket      = []byte("dynamodb")
	ddbTableRecord = []byte("table")
	ddbTableNameRE = regexp.MustCompile(`^[a-zA-Z0-9_.-]{3,255}$`)
	ddbTableARNRE  = regexp.MustCompile(`^arn:aws[\w-]*:dynamodb:([a-z0-9-]+):(\d{12}):table/([a-zA-Z0-9_.-]{3,255})$`)
)

const ddbItemPrefix = "item:"

// New builds the service, loading its tables from env.DB.
func New(env wire.Env) (*Service, error) {
	d := &Service{db: env.DB, region: env.Region, account: env.Account, now: env.Now, tables: map[string]*ddbTable{}}
	if err := d.load(); err != nil {
		return nil, fmt.Errorf("loading DynamoDB state: %w", err)
	}
	return d, nil
}

func (d *Service) load() error {
	return d.db.View(func(root *bbolt.Bucket) error {
		return root.ForEachBucket(func(name []byte) error {
			b := root.Bucket(name)
			var t ddbTable
			if err := json.Unmarshal(b.Get(ddbTableRecord), &t); err != nil {
				return fmt.Errorf("table %q: %w", name, err)
			}
			t.items = map[string]ddbItem{}
			err := b.ForEach(func(k, v []byte) error {
				key, ok := strings.CutPrefix(string(k), ddbItemPrefix)
				if !ok {
					return nil
				}
				var it ddbItem
				if err := jsonv2.Unmarshal(bytes.Clone(v), &it); err != nil {
					// Name the record, never quote it: items may hold
					// anything.
					return fmt.Errorf("table %q: an item record is not an item: %s", name, strictjson.Describe(err))
				}
				t.items[key] = it
				return nil
			})
			if err != nil {
				return err
			}
			d.tables[t.Name] = &t
			return nil
		})
	}, ddbBucket)
}

// save runs fn in a write transaction on table's bucket when state
// persists. Call with d.mu held, before changing memory.
func (d *Service) save(table string, fn func(b *bbolt.Bucket) error) error {
	return d.db.Update(fn, ddbBucket, []byte(table))
}

// ddbOps are the operations, each decoding its request and encoding its
// answer.
var ddbOps = map[string]func(d *Service, body []byte) ([]byte, error){
	"CreateTable":        (*Service).createTable,
	"DescribeTable":      (*Service).describeTable,
	"DeleteTable":        (*Service).deleteTable,
	"ListTables":         (*Service).listTables,
	"UpdateTimeToLive":   (*Service).updateTimeToLive,
	"DescribeTimeToLive": (*Service).describeTimeToLive,
	"PutItem":            (*Service).putItem,
	"GetItem":            (*Service).getItem,
	"DeleteItem":         (*Service).deleteItem,
}

func (d *Service) Serve(w http.ResponseWriter, _ *http.Request, op string, body []byte) {
	h, ok := ddbOps[op]
	if !ok {
		d.WriteError(w, "UnknownOperationException", fmt.Sprintf("rotor's local DynamoDB does not support the operation %q", op), http.StatusBadRequest)
		return
	}
	out, err := h(d, body)
	if err != nil {
		writeDDBError(w, err)
		return
	}
	writeDDB(w, http.StatusOK, out)
}

// writeDDB answers body with the CRC32 header DynamoDB sends and the SDK
// checks.
func writeDDB(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", ddbJSON)
	w.Header().Set("X-Amz-Crc32", fmt.Sprint(crc32.ChecksumIEEE(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeError answers injected faults and unknown operations.
func (d *Service) WriteError(w http.ResponseWriter, code, message string, status int) {
	writeDDBError(w, &wire.Error{Code: code, Message: message, Status: status})
}

// ddbNamespaces are the namespaces DynamoDB's __type puts before an error
// code; the others are com.amazonaws.dynamodb.v20120810's.
var ddbNamespaces = map[string]string{
	"ValidationException":       "com.amazon.coral.validate#",
	"SerializationException":    "com.amazon.coral.service#",
	"UnknownOperationException": "com.amazon.coral.service#",
	"InternalFailure":           "com.amazon.coral.service#",
}

// ddbConditionFailed is a ConditionalCheckFailedException, with the item
// the condition saw when the request asked for it.
type ddbConditionFailed struct{ item ddbItem }

func (e *ddbConditionFailed) Error() string { return "ConditionalCheckFailedException" }

// writeDDBError answers err as DynamoDB does: {"__type":
// "<namespace>#<code>", "message": ...}, and the SDK maps the code after
// "#" to its typed errors.
func writeDDBError(w http.ResponseWriter, err error) {
	body := map[string]any{}
	code, msg, status := "InternalServerError", "rotor's local DynamoDB failed: "+err.Error(), http.StatusInternalServerError
	var ae *wire.Error
	var cf *ddbConditionFailed
	switch {
	case errors.As(err, &cf):
		code, msg, status = "ConditionalCheckFailedException", "The conditional request failed", http.StatusBadRequest
		if cf.item != nil {
			body["Item"] = cf.item
		}
	case errors.As(err, &ae):
		code, msg, status = ae.Code, ae.Message, ae.Status
		if status == 0 {
			status = http.StatusBadRequest
		}
	}
	ns, ok := ddbNamespaces[code]
	if !ok {
		ns = "com.amazonaws.dynamodb.v20120810#"
	}
	body["__type"], body["message"] = ns+code, msg
	b, err := jsonv2.Marshal(body, jsonv2.Deterministic(true))
	if err != nil {
		b = []byte(`{"__type":"com.amazon.coral.service#InternalFailure","message":"encoding an error failed"}`)
	}
	writeDDB(w, status, b)
}

// Errors, in DynamoDB's words.

func ddbValidation(format string, args ...any) error {
	return &wire.Error{Code: "ValidationException", Message: fmt.Sprintf(format, args...)}
}

func ddbTableNotFound(name string) error {
	return &wire.Error{Code: "ResourceNotFoundException", Message: fmt.Sprintf("Requested resource not found: Table: %s not found", name)}
}

func ddbNull(member string) error {
	return ddbValidation("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", member)
}

// ddbDecode decodes a request strictly: members are matched exactly,
// duplicates are refused, and a member the operation's struct lacks is one
// this endpoint does not implement.
func ddbDecode(op string, body []byte, in any) error {
	if len(body) == 0 {
		body = []byte("{}")
	}
	err := jsonv2.Unmarshal(body, in, jsonv2.RejectUnknownMembers(true))
	if err == nil {
		return nil
	}
	var se *jsonv2.SemanticError
	if errors.As(err, &se) && errors.Is(se.Err, jsonv2.ErrUnknownName) {
		return ddbValidation("rotor's local DynamoDB does not support %s's member %s", op, strings.TrimPrefix(string(se.JSONPointer), "/"))
	}
	return &wire.Error{Code: "SerializationException", Message: op + ": " + strictjson.Describe(err)}
}

// table finds a table by name or ARN. Call with d.mu held.
func (d *Service) table(nameOrARN string) (*ddbTable, error) {
	if nameOrARN == "" {
		return nil, ddbNull("tableName")
	}
	name := nameOrARN
	if m := ddbTableARNRE.FindStringSubmatch(nameOrARN); m != nil {
		if m[1] != d.region || m[2] != d.account {
			return nil, ddbTableNotFound(nameOrARN)
		}
		name = m[3]
	} else if !ddbTableNameRE.MatchString(name) {
		return nil, ddbValidation("1 validation error detected: Value '%s' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+ and have length between 3 and 255", name)
	}
	t, ok := d.tables[name]
	if !ok {
		return nil, ddbTableNotFound(name)
	}
	return t, nil
}
