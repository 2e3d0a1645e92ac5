package localaws

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/google/uuid"
	"go.etcd.io/bbolt"

	"github.com/rotorhq/rotor/internal/strictjson"
)

// DynamoDB serves the DynamoDB API (awsJson1.0, X-Amz-Target
// DynamoDB_20120810.<Op>, SigV4 signing name "dynamodb") for tables keyed
// by a partition key (and optionally a sort key) and single items:
//
//   - Tables: CreateTable (key attributes of type S, N or B; BillingMode
//     PAY_PER_REQUEST, or PROVISIONED, AWS's default, with
//     ProvisionedThroughput), DescribeTable, DeleteTable, ListTables,
//     UpdateTimeToLive and DescribeTimeToLive. A table is ACTIVE from its
//     creation and gone at its deletion (AWS passes through CREATING and
//     DELETING).
//   - Items: PutItem, GetItem and DeleteItem, with ConditionExpression on
//     the writes (see dynamodb_expr.go for what it may hold),
//     ExpressionAttributeNames and ExpressionAttributeValues, ReturnValues
//     and ReturnValuesOnConditionCheckFailure NONE or ALL_OLD. Every read
//     is strongly consistent, and requests are served one at a time, so a
//     conditional write is atomic as on AWS.
//
// Requests are decoded strictly: a member this endpoint does not implement
// (Expected, ProjectionExpression, GlobalSecondaryIndexes, ...) is a
// ValidationException naming it, never ignored. Items keep each attribute
// value as its wire JSON ({"S":"..."}), validated as DynamoDB does (one data
// type, numbers of at most 38 digits in DynamoDB's range, sets non-empty and
// without duplicates, nesting at most 32 levels, items at most 400 KB), and
// key attributes must be present with their declared type. Error messages
// name attributes and placeholders, never a value.
//
// Time to live, as on AWS, deletes expired items only eventually: an
// expired item stays readable and still satisfies attribute_exists until it
// is purged, which happens here during a write to its table at most once a
// minute (items whose TTL attribute, a number of epoch seconds, is past, and
// less than five years past, as AWS's sweeper does).
//
// Tables and items persist in bbolt bucket "dynamodb" when the server has a
// data file, one sub-bucket per table holding "table" (its description)
// and "item:<key>" (each item's wire JSON).
type DynamoDB struct {
	db              *bbolt.DB // nil keeps state in memory
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

func newDynamoDB(db *bbolt.DB, region, account string, now func() time.Time) (*DynamoDB, error) {
	d := &DynamoDB{db: db, region: region, account: account, now: now, tables: map[string]*ddbTable{}}
	if err := d.load(); err != nil {
		return nil, fmt.Errorf("loading DynamoDB state: %w", err)
	}
	return d, nil
}

func (d *DynamoDB) load() error {
	if d.db == nil {
		return nil
	}
	return d.db.View(func(tx *bbolt.Tx) error {
		root := tx.Bucket(ddbBucket)
		if root == nil {
			return nil
		}
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
	})
}

// save runs fn in a write transaction on table's bucket when state
// persists. Call with d.mu held, before changing memory.
func (d *DynamoDB) save(table string, fn func(b *bbolt.Bucket) error) error {
	if d.db == nil {
		return nil
	}
	return d.db.Update(func(tx *bbolt.Tx) error {
		b, err := subBucket(tx, ddbBucket, table)
		if err != nil {
			return err
		}
		return fn(b)
	})
}

// ddbOps are the operations, each decoding its request and encoding its
// answer.
var ddbOps = map[string]func(d *DynamoDB, body []byte) ([]byte, error){
	"CreateTable":        (*DynamoDB).createTable,
	"DescribeTable":      (*DynamoDB).describeTable,
	"DeleteTable":        (*DynamoDB).deleteTable,
	"ListTables":         (*DynamoDB).listTables,
	"UpdateTimeToLive":   (*DynamoDB).updateTimeToLive,
	"DescribeTimeToLive": (*DynamoDB).describeTimeToLive,
	"PutItem":            (*DynamoDB).putItem,
	"GetItem":            (*DynamoDB).getItem,
	"DeleteItem":         (*DynamoDB).deleteItem,
}

func (d *DynamoDB) serve(w http.ResponseWriter, _ *http.Request, op string, body []byte) {
	h, ok := ddbOps[op]
	if !ok {
		d.writeError(w, "UnknownOperationException", fmt.Sprintf("rotor's local DynamoDB does not support the operation %q", op), http.StatusBadRequest)
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
func (d *DynamoDB) writeError(w http.ResponseWriter, code, message string, status int) {
	writeDDBError(w, &apiError{Code: code, Message: message, Status: status})
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
	var ae *apiError
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
	return &apiError{Code: "ValidationException", Message: fmt.Sprintf(format, args...)}
}

func ddbTableNotFound(name string) error {
	return &apiError{Code: "ResourceNotFoundException", Message: fmt.Sprintf("Requested resource not found: Table: %s not found", name)}
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
	return &apiError{Code: "SerializationException", Message: op + ": " + strictjson.Describe(err)}
}

// table finds a table by name or ARN. Call with d.mu held.
func (d *DynamoDB) table(nameOrARN string) (*ddbTable, error) {
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

func (d *DynamoDB) createTable(body []byte) ([]byte, error) {
	var in struct {
		TableName            string
		AttributeDefinitions []struct{ AttributeName, AttributeType string }
		KeySchema            []struct{ AttributeName, KeyType string }
		BillingMode          string
		// Pointers tell a member left out from a zero.
		ProvisionedThroughput *struct{ ReadCapacityUnits, WriteCapacityUnits *int64 }
	}
	if err := ddbDecode("CreateTable", body, &in); err != nil {
		return nil, err
	}
	switch {
	case in.TableName == "":
		return nil, ddbNull("tableName")
	case !ddbTableNameRE.MatchString(in.TableName):
		return nil, ddbValidation("1 validation error detected: Value '%s' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+ and have length between 3 and 255", in.TableName)
	case len(in.KeySchema) == 0:
		return nil, ddbNull("keySchema")
	case len(in.AttributeDefinitions) == 0:
		return nil, ddbNull("attributeDefinitions")
	case len(in.KeySchema) > 2:
		return nil, ddbValidation("1 validation error detected: Value at 'keySchema' failed to satisfy constraint: Member must have length less than or equal to 2")
	}
	types := map[string]string{}
	for _, a := range in.AttributeDefinitions {
		if a.AttributeType != "S" && a.AttributeType != "N" && a.AttributeType != "B" {
			return nil, ddbValidation("1 validation error detected: Value '%s' at 'attributeDefinitions.member.attributeType' failed to satisfy constraint: Member must satisfy enum value set: [B, N, S]", a.AttributeType)
		}
		if a.AttributeName == "" {
			return nil, ddbNull("attributeDefinitions.member.attributeName")
		}
		if _, dup := types[a.AttributeName]; dup {
			return nil, ddbValidation("Cannot have two attributes with the same name: %s", a.AttributeName)
		}
		types[a.AttributeName] = a.AttributeType
	}
	t := &ddbTable{Name: in.TableName, ARN: fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s", d.region, d.account, in.TableName),
		ID: uuid.NewString(), Created: d.now().UTC(), items: map[string]ddbItem{}}
	for i, k := range in.KeySchema {
		want := [2]string{"HASH", "RANGE"}[i]
		if k.KeyType != want {
			return nil, ddbValidation("Invalid KeySchema: The first KeySchemaElement is not a HASH key type, or the second is not a RANGE key type")
		}
		typ, ok := types[k.AttributeName]
		if !ok {
			return nil, ddbValidation("One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [%s], AttributeDefinitions: [%s]", k.AttributeName, strings.Join(slices.Sorted(maps.Keys(types)), ", "))
		}
		if i == 1 && k.AttributeName == in.KeySchema[0].AttributeName {
			return nil, ddbValidation("Invalid KeySchema: Some index key attribute have no definition")
		}
		t.Keys = append(t.Keys, ddbKey{Name: k.AttributeName, Type: typ})
	}
	if len(types) != len(t.Keys) {
		return nil, ddbValidation("One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions")
	}
	switch in.BillingMode {
	case "PAY_PER_REQUEST":
		if in.ProvisionedThroughput != nil {
			return nil, ddbValidation("One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST")
		}
	case "", "PROVISIONED": // AWS's default
		pt := in.ProvisionedThroughput
		if pt == nil || pt.ReadCapacityUnits == nil || pt.WriteCapacityUnits == nil {
			return nil, ddbValidation("One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED")
		}
		if *pt.ReadCapacityUnits < 1 || *pt.WriteCapacityUnits < 1 {
			return nil, ddbValidation("1 validation error detected: Value at 'provisionedThroughput' failed to satisfy constraint: ReadCapacityUnits and WriteCapacityUnits must be at least 1")
		}
		t.Read, t.Write = *pt.ReadCapacityUnits, *pt.WriteCapacityUnits
	default:
		return nil, ddbValidation("1 validation error detected: Value '%s' at 'billingMode' failed to satisfy constraint: Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]", in.BillingMode)
	}
	t.BillingMode = in.BillingMode
	if t.BillingMode == "" {
		t.BillingMode = "PROVISIONED"
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.tables[t.Name]; ok {
		return nil, &apiError{Code: "ResourceInUseException", Message: "Table already exists: " + t.Name}
	}
	if err := d.save(t.Name, func(b *bbolt.Bucket) error { return putJSON(b, string(ddbTableRecord), t) }); err != nil {
		return nil, err
	}
	d.tables[t.Name] = t
	return encodeAWSJSON(&dynamodb.CreateTableOutput{TableDescription: t.describe(ddbtypes.TableStatusActive)})
}

// describe is a table as DescribeTable shows it. Call with d.mu held.
func (t *ddbTable) describe(status ddbtypes.TableStatus) *ddbtypes.TableDescription {
	td := &ddbtypes.TableDescription{
		TableName: aws.String(t.Name), TableArn: aws.String(t.ARN), TableId: aws.String(t.ID),
		TableStatus: status, CreationDateTime: aws.Time(t.Created),
		ItemCount: aws.Int64(int64(len(t.items))), TableSizeBytes: aws.Int64(0),
		ProvisionedThroughput: &ddbtypes.ProvisionedThroughputDescription{NumberOfDecreasesToday: aws.Int64(0),
			ReadCapacityUnits: aws.Int64(t.Read), WriteCapacityUnits: aws.Int64(t.Write)},
		DeletionProtectionEnabled: aws.Bool(false),
	}
	var size int64
	for _, it := range t.items {
		size += int64(itemSize(it))
	}
	td.TableSizeBytes = aws.Int64(size)
	for i, k := range t.Keys {
		td.AttributeDefinitions = append(td.AttributeDefinitions, ddbtypes.AttributeDefinition{AttributeName: aws.String(k.Name), AttributeType: ddbtypes.ScalarAttributeType(k.Type)})
		td.KeySchema = append(td.KeySchema, ddbtypes.KeySchemaElement{AttributeName: aws.String(k.Name), KeyType: [2]ddbtypes.KeyType{ddbtypes.KeyTypeHash, ddbtypes.KeyTypeRange}[i]})
	}
	if t.BillingMode == "PAY_PER_REQUEST" {
		td.BillingModeSummary = &ddbtypes.BillingModeSummary{BillingMode: ddbtypes.BillingModePayPerRequest, LastUpdateToPayPerRequestDateTime: aws.Time(t.Created)}
	}
	return td
}

type ddbTableInput struct{ TableName string }

// onTable runs fn on the table an operation whose only member is TableName
// names, with d.mu held.
func (d *DynamoDB) onTable(op string, body []byte, fn func(t *ddbTable) ([]byte, error)) ([]byte, error) {
	var in ddbTableInput
	if err := ddbDecode(op, body, &in); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	t, err := d.table(in.TableName)
	if err != nil {
		return nil, err
	}
	return fn(t)
}

func (d *DynamoDB) describeTable(body []byte) ([]byte, error) {
	return d.onTable("DescribeTable", body, func(t *ddbTable) ([]byte, error) {
		return encodeAWSJSON(&dynamodb.DescribeTableOutput{Table: t.describe(ddbtypes.TableStatusActive)})
	})
}

func (d *DynamoDB) deleteTable(body []byte) ([]byte, error) {
	return d.onTable("DeleteTable", body, func(t *ddbTable) ([]byte, error) {
		if d.db != nil {
			err := d.db.Update(func(tx *bbolt.Tx) error {
				if root := tx.Bucket(ddbBucket); root != nil && root.Bucket([]byte(t.Name)) != nil {
					return root.DeleteBucket([]byte(t.Name))
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
		delete(d.tables, t.Name)
		return encodeAWSJSON(&dynamodb.DeleteTableOutput{TableDescription: t.describe(ddbtypes.TableStatusDeleting)})
	})
}

func (d *DynamoDB) listTables(body []byte) ([]byte, error) {
	var in struct {
		ExclusiveStartTableName string
		Limit                   *int
	}
	if err := ddbDecode("ListTables", body, &in); err != nil {
		return nil, err
	}
	limit := 100
	if in.Limit != nil {
		if *in.Limit < 1 || *in.Limit > 100 {
			return nil, ddbValidation("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and 100", *in.Limit)
		}
		limit = *in.Limit
	}
	d.mu.Lock()
	names := slices.Sorted(maps.Keys(d.tables))
	d.mu.Unlock()
	out := &dynamodb.ListTablesOutput{TableNames: []string{}}
	for _, n := range names {
		if n <= in.ExclusiveStartTableName {
			continue
		}
		if len(out.TableNames) == limit {
			out.LastEvaluatedTableName = aws.String(out.TableNames[limit-1])
			break
		}
		out.TableNames = append(out.TableNames, n)
	}
	return encodeAWSJSON(out)
}

func (d *DynamoDB) updateTimeToLive(body []byte) ([]byte, error) {
	var in struct {
		TableName               string
		TimeToLiveSpecification *struct {
			AttributeName string
			Enabled       *bool
		}
	}
	if err := ddbDecode("UpdateTimeToLive", body, &in); err != nil {
		return nil, err
	}
	spec := in.TimeToLiveSpecification
	switch {
	case spec == nil:
		return nil, ddbNull("timeToLiveSpecification")
	case spec.Enabled == nil:
		return nil, ddbNull("timeToLiveSpecification.enabled")
	case spec.AttributeName == "":
		return nil, ddbNull("timeToLiveSpecification.attributeName")
	case len(spec.AttributeName) > 255:
		return nil, ddbValidation("1 validation error detected: Value at 'timeToLiveSpecification.attributeName' failed to satisfy constraint: Member must have length less than or equal to 255")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	t, err := d.table(in.TableName)
	if err != nil {
		return nil, err
	}
	attr := ""
	switch {
	case *spec.Enabled && t.TTLAttr != "":
		return nil, ddbValidation("TimeToLive is already enabled")
	case !*spec.Enabled && t.TTLAttr == "":
		return nil, ddbValidation("TimeToLive is already disabled")
	case !*spec.Enabled && t.TTLAttr != spec.AttributeName:
		return nil, ddbValidation("TimeToLive is active on a different AttributeName: current AttributeName is %s", t.TTLAttr)
	case *spec.Enabled:
		attr = spec.AttributeName
	}
	c := *t
	c.TTLAttr = attr
	if err := d.save(t.Name, func(b *bbolt.Bucket) error { return putJSON(b, string(ddbTableRecord), &c) }); err != nil {
		return nil, err
	}
	t.TTLAttr = attr
	return encodeAWSJSON(&dynamodb.UpdateTimeToLiveOutput{TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{
		AttributeName: aws.String(spec.AttributeName), Enabled: spec.Enabled}})
}

func (d *DynamoDB) describeTimeToLive(body []byte) ([]byte, error) {
	return d.onTable("DescribeTimeToLive", body, func(t *ddbTable) ([]byte, error) {
		desc := &ddbtypes.TimeToLiveDescription{TimeToLiveStatus: ddbtypes.TimeToLiveStatusDisabled}
		if t.TTLAttr != "" {
			desc = &ddbtypes.TimeToLiveDescription{TimeToLiveStatus: ddbtypes.TimeToLiveStatusEnabled, AttributeName: aws.String(t.TTLAttr)}
		}
		return encodeAWSJSON(&dynamodb.DescribeTimeToLiveOutput{TimeToLiveDescription: desc})
	})
}

// ddbWriteOptions are the members PutItem and DeleteItem share.
type ddbWriteOptions struct {
	ConditionExpression                 *string
	ExpressionAttributeNames            map[string]string
	ExpressionAttributeValues           map[string]jsontext.Value
	ReturnValues                        string
	ReturnValuesOnConditionCheckFailure string
	ReturnConsumedCapacity              string
	ReturnItemCollectionMetrics         string
}

// check validates the options and compiles the condition (nil when there
// is none).
func (o *ddbWriteOptions) check() (*ddbCondition, error) {
	if o.ReturnValues != "" && o.ReturnValues != "NONE" && o.ReturnValues != "ALL_OLD" {
		return nil, ddbValidation("ReturnValues %s: rotor's local DynamoDB supports NONE and ALL_OLD here (as DynamoDB does for PutItem and DeleteItem)", o.ReturnValues)
	}
	if o.ReturnValuesOnConditionCheckFailure != "" && o.ReturnValuesOnConditionCheckFailure != "NONE" && o.ReturnValuesOnConditionCheckFailure != "ALL_OLD" {
		return nil, ddbValidation("1 validation error detected: Value '%s' at 'returnValuesOnConditionCheckFailure' failed to satisfy constraint: Member must satisfy enum value set: [ALL_OLD, NONE]", o.ReturnValuesOnConditionCheckFailure)
	}
	if err := ddbNoCapacity(o.ReturnConsumedCapacity); err != nil {
		return nil, err
	}
	switch o.ReturnItemCollectionMetrics {
	case "", "NONE", "SIZE": // SIZE answers nothing without local secondary indexes, as on AWS
	default:
		return nil, ddbValidation("1 validation error detected: Value '%s' at 'returnItemCollectionMetrics' failed to satisfy constraint: Member must satisfy enum value set: [SIZE, NONE]", o.ReturnItemCollectionMetrics)
	}
	if o.ConditionExpression == nil {
		switch {
		case o.ExpressionAttributeNames != nil:
			return nil, ddbValidation("ExpressionAttributeNames can only be specified when using expressions")
		case o.ExpressionAttributeValues != nil:
			return nil, ddbValidation("ExpressionAttributeValues can only be specified when using expressions")
		}
		return nil, nil
	}
	return compileCondition(*o.ConditionExpression, o.ExpressionAttributeNames, o.ExpressionAttributeValues)
}

// ddbNoCapacity refuses ReturnConsumedCapacity other than NONE: this
// endpoint counts no capacity, and an invented figure would mislead.
func ddbNoCapacity(v string) error {
	if v != "" && v != "NONE" {
		return ddbValidation("rotor's local DynamoDB does not support ReturnConsumedCapacity %s (only NONE)", v)
	}
	return nil
}

// failed is the error a condition that does not hold answers.
func (o *ddbWriteOptions) failed(old ddbItem) error {
	if o.ReturnValuesOnConditionCheckFailure == "ALL_OLD" {
		return &ddbConditionFailed{item: old}
	}
	return &ddbConditionFailed{}
}

// ddbAttributes is what PutItem and DeleteItem answer.
type ddbAttributes struct {
	Attributes ddbItem `json:",omitempty"`
}

func (d *DynamoDB) putItem(body []byte) ([]byte, error) {
	var in struct {
		TableName string
		Item      map[string]jsontext.Value
		ddbWriteOptions
	}
	if err := ddbDecode("PutItem", body, &in); err != nil {
		return nil, err
	}
	if in.Item == nil {
		return nil, ddbNull("item")
	}
	item := ddbItem(in.Item)
	for name, raw := range item {
		v, err := parseDDBValue(raw, "Item."+name, 0)
		if err != nil {
			return nil, err
		}
		if name == "" {
			return nil, ddbValidation("One or more parameter values were invalid: An AttributeValue may not contain an empty attribute name")
		}
		item[name] = v.raw
	}
	if itemSize(item) > ddbMaxItem {
		return nil, ddbValidation("Item size has exceeded the maximum allowed size")
	}
	cond, err := in.check()
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	t, err := d.table(in.TableName)
	if err != nil {
		return nil, err
	}
	key, err := t.itemKey(item, true)
	if err != nil {
		return nil, err
	}
	if err := d.purge(t); err != nil {
		return nil, err
	}
	old := t.items[key]
	if cond != nil && !cond.eval(old) {
		return nil, in.failed(old)
	}
	if err := d.save(t.Name, func(b *bbolt.Bucket) error { return putJSONv2(b, ddbItemPrefix+key, item) }); err != nil {
		return nil, err
	}
	t.items[key] = item
	return ddbAnswer(in.ReturnValues, old)
}

type ddbKeyInput struct {
	TableName string
	Key       map[string]jsontext.Value
}

func (d *DynamoDB) getItem(body []byte) ([]byte, error) {
	var in struct {
		ddbKeyInput
		// ConsistentRead is accepted either way: every read here is
		// strongly consistent, which an eventually consistent read may
		// also be.
		ConsistentRead         *bool
		ReturnConsumedCapacity string
	}
	if err := ddbDecode("GetItem", body, &in); err != nil {
		return nil, err
	}
	if err := ddbNoCapacity(in.ReturnConsumedCapacity); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	t, key, err := d.lookup(&in.ddbKeyInput)
	if err != nil {
		return nil, err
	}
	return jsonv2.Marshal(struct {
		Item ddbItem `json:",omitempty"`
	}{t.items[key]}, jsonv2.Deterministic(true))
}

func (d *DynamoDB) deleteItem(body []byte) ([]byte, error) {
	var in struct {
		ddbKeyInput
		ddbWriteOptions
	}
	if err := ddbDecode("DeleteItem", body, &in); err != nil {
		return nil, err
	}
	cond, err := in.check()
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	t, key, err := d.lookup(&in.ddbKeyInput)
	if err != nil {
		return nil, err
	}
	if err := d.purge(t); err != nil {
		return nil, err
	}
	old, ok := t.items[key]
	if cond != nil && !cond.eval(old) {
		return nil, in.failed(old)
	}
	if ok {
		if err := d.save(t.Name, func(b *bbolt.Bucket) error { return b.Delete([]byte(ddbItemPrefix + key)) }); err != nil {
			return nil, err
		}
		delete(t.items, key)
	}
	return ddbAnswer(in.ReturnValues, old)
}

// lookup finds the table and the item key a Key names. Call with d.mu
// held.
func (d *DynamoDB) lookup(in *ddbKeyInput) (*ddbTable, string, error) {
	t, err := d.table(in.TableName)
	if err != nil {
		return nil, "", err
	}
	if in.Key == nil {
		return nil, "", ddbNull("key")
	}
	key := ddbItem{}
	for name, raw := range in.Key {
		v, err := parseDDBValue(raw, "Key."+name, 0)
		if err != nil {
			return nil, "", err
		}
		key[name] = v.raw
	}
	k, err := t.itemKey(key, false)
	return t, k, err
}

func ddbAnswer(returnValues string, old ddbItem) ([]byte, error) {
	out := ddbAttributes{}
	if returnValues == "ALL_OLD" {
		out.Attributes = old
	}
	return jsonv2.Marshal(out, jsonv2.Deterministic(true))
}

func putJSONv2(b *bbolt.Bucket, key string, v any) error {
	data, err := jsonv2.Marshal(v, jsonv2.Deterministic(true))
	if err != nil {
		return err
	}
	return b.Put([]byte(key), data)
}

// itemKey checks an item's (or, with whole false, a Key's) key attributes
// against the table's schema and returns the key items are stored under:
// the key values in canonical form (numbers compare by value, so 1 and
// 1.0 are one key).
func (t *ddbTable) itemKey(it ddbItem, whole bool) (string, error) {
	if !whole && len(it) != len(t.Keys) {
		return "", ddbValidation("The provided key element does not match the schema")
	}
	parts := make([]string, len(t.Keys))
	for i, k := range t.Keys {
		raw, ok := it[k.Name]
		if !ok {
			if whole {
				return "", ddbValidation("One or more parameter values were invalid: Missing the key %s in the item", k.Name)
			}
			return "", ddbValidation("The provided key element does not match the schema")
		}
		v, err := parseDDBValue(raw, k.Name, 0)
		if err != nil {
			return "", err
		}
		if v.t != k.Type {
			if whole {
				return "", ddbValidation("One or more parameter values were invalid: Type mismatch for key %s expected: %s actual: %s", k.Name, k.Type, v.t)
			}
			return "", ddbValidation("The provided key element does not match the schema")
		}
		size, limit := len(v.s)+len(v.b), 2048
		if i == 1 {
			limit = 1024
		}
		switch {
		case v.t != "N" && size == 0:
			return "", ddbValidation("One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty %s value. Key: %s", map[string]string{"S": "string", "B": "binary"}[v.t], k.Name)
		case size > limit:
			return "", ddbValidation("One or more parameter values were invalid: Size of %s has exceeded the maximum size limit of %d bytes", [2]string{"hashkey", "rangekey"}[i], limit)
		}
		parts[i] = v.canonical()
	}
	b, err := json.Marshal(parts)
	return string(b), err
}

// purge deletes t's expired items, at most once per ddbPurgeEvery. Call
// with d.mu held.
func (d *DynamoDB) purge(t *ddbTable) error {
	now := d.now()
	if t.TTLAttr == "" || now.Sub(t.purged) < ddbPurgeEvery {
		return nil
	}
	var expired []string
	for k, it := range t.items {
		if exp, ok := ttlOf(it, t.TTLAttr); ok && exp.Before(now) && now.Sub(exp) < ddbTTLHorizon {
			expired = append(expired, k)
		}
	}
	err := d.save(t.Name, func(b *bbolt.Bucket) error {
		for _, k := range expired {
			if err := b.Delete([]byte(ddbItemPrefix + k)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range expired {
		delete(t.items, k)
	}
	t.purged = now
	return nil
}

// ttlOf reads an item's TTL attribute: epoch seconds in a number; any
// other type means no expiry, as on AWS.
func ttlOf(it ddbItem, attr string) (time.Time, bool) {
	raw, ok := it[attr]
	if !ok {
		return time.Time{}, false
	}
	v, err := parseDDBValue(raw, attr, 0)
	if err != nil || v.t != "N" {
		return time.Time{}, false
	}
	f, _ := v.n.Float64()
	if math.Abs(f) > 1<<53 {
		return time.Time{}, false // no time this endpoint will see
	}
	return time.Unix(int64(f), 0), true
}
