package dynamodb

import (
	"encoding/json"
	"math"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"go.etcd.io/bbolt"
)

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

func (d *Service) putItem(body []byte) ([]byte, error) {
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

func (d *Service) getItem(body []byte) ([]byte, error) {
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

func (d *Service) deleteItem(body []byte) ([]byte, error) {
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
func (d *Service) lookup(in *ddbKeyInput) (*ddbTable, string, error) {
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
func (d *Service) purge(t *ddbTable) error {
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
