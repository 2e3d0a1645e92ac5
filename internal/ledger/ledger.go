// Package ledger is rotor's memory across function instances and restarts:
// one DynamoDB table that the stack deploys (and the local endpoint serves)
// holding short records keyed by what they are about.
//
// Two kinds of record live there (SECURITY.md, replayed leak alerts):
//
//   - delivery#<hex>: a leak alert the webhook accepted, keyed by what
//     identifies the alert (decoded signature bytes, or GitHub's repository,
//     alert number and action), so that a replay to any instance, after any
//     restart, is refused. Written with Claim, which succeeds once.
//   - revoked#<kind>#<value>: a credential rotor revoked (kind keyid, sha256
//     or hmsl, value its access key id or fingerprint), so that a later
//     alert for it is answered "already revoked" instead of "unmanaged".
//     Written with Put by the functions that revoke, read with Get by
//     resolve.
//   - lock#<secret ARN>: the rotation lock of a secret, held by one
//     rotation (its token) from create until switchover or its undo, taken
//     with Lock (a conditional write, so two rotations racing for it
//     cannot both win, which labels alone cannot promise) and expiring
//     after the lock TTL if its holder dies.
//   - plan#<plan id>#<page>: one page of a fan-out plan (a sweep, or a leak
//     matching several secrets), written by resolve and read by each child
//     execution's first step, so that executions pass ids, not lists.
//
// Records carry an expiry (ExpiresAttr, epoch seconds) that the table's TTL
// setting uses to delete them. DynamoDB deletes expired items only
// eventually, so every read and every condition here also treats an
// expired record as absent: correctness never waits for the TTL sweeper.
//
// Only rotor's own roles write the table; a secret's owner cannot, which is
// why a revoked record may be trusted where a tag could not.
package ledger

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// EnvTable names the table in a function's environment.
const EnvTable = "ROTOR_LEDGER_TABLE"

// The table's schema: a string partition key and a number TTL attribute.
const (
	KeyAttr     = "pk"
	ExpiresAttr = "expiresAt"
)

// Key prefixes, one per record kind; IAM policies scope each writer to its
// own with dynamodb:LeadingKeys.
const (
	DeliveryPrefix = "delivery#"
	RevokedPrefix  = "revoked#"
	PlanPrefix     = "plan#"
	LockPrefix     = "lock#"
)

// API is the part of the DynamoDB client the ledger uses.
type API interface {
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// Ledger reads and writes records of one table.
type Ledger struct {
	Client API
	Table  string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// New returns a Ledger over table with client.
func New(client API, table string) *Ledger { return &Ledger{Client: client, Table: table} }

func (l *Ledger) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

// claimAttr holds the random token of the Claim that wrote a record. The
// SDK retries a write whose answer was lost (a reset connection, a 500
// after the write was applied); the retry must recognise its own record
// as its claim, or the one delivery that claimed a key would be refused
// as a replay of itself.
const claimAttr = "claimToken"

// item builds a record: key, expiry, and string attributes. The
// attributes may not use the names the ledger itself writes, and ttl must
// reach at least the next second (expiries are epoch seconds).
func (l *Ledger) item(key string, ttl time.Duration, attrs map[string]string) (map[string]types.AttributeValue, error) {
	if ttl < time.Second {
		return nil, fmt.Errorf("ledger %s: %s: ttl %s is shorter than a second", l.Table, kind(key), ttl)
	}
	it := map[string]types.AttributeValue{
		KeyAttr:     &types.AttributeValueMemberS{Value: key},
		ExpiresAttr: &types.AttributeValueMemberN{Value: strconv.FormatInt(l.now().Add(ttl).Unix(), 10)},
	}
	for k, v := range attrs {
		if k == KeyAttr || k == ExpiresAttr || k == claimAttr {
			return nil, fmt.Errorf("ledger %s: %s: attribute %q is the ledger's own", l.Table, kind(key), k)
		}
		it[k] = &types.AttributeValueMemberS{Value: v}
	}
	return it, nil
}

// Claim records key until ttl unless a live record of it exists, and
// reports whether this call made it. Two concurrent claims of one key:
// exactly one wins (a conditional write), also when the SDK retries one.
func (l *Ledger) Claim(ctx context.Context, key string, ttl time.Duration, attrs map[string]string) (bool, error) {
	it, err := l.item(key, ttl, attrs)
	if err != nil {
		return false, err
	}
	token := rand.Text()
	it[claimAttr] = &types.AttributeValueMemberS{Value: token}
	_, err = l.Client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(l.Table),
		Item:                it,
		ConditionExpression: aws.String("attribute_not_exists(#pk) OR #exp < :now OR #tok = :tok"),
		ExpressionAttributeNames: map[string]string{
			"#pk": KeyAttr, "#exp": ExpiresAttr, "#tok": claimAttr,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":now": &types.AttributeValueMemberN{Value: strconv.FormatInt(l.now().Unix(), 10)},
			":tok": &types.AttributeValueMemberS{Value: token},
		},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("ledger %s: claim %s: %w", l.Table, kind(key), err)
	}
	return true, nil
}

// Put records key until ttl, replacing any record of it.
func (l *Ledger) Put(ctx context.Context, key string, ttl time.Duration, attrs map[string]string) error {
	it, err := l.item(key, ttl, attrs)
	if err != nil {
		return err
	}
	_, err = l.Client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(l.Table), Item: it})
	if err != nil {
		return fmt.Errorf("ledger %s: record %s: %w", l.Table, kind(key), err)
	}
	return nil
}

// Get returns the string attributes of key's live record, or nil when
// there is none (never written, deleted, or expired).
func (l *Ledger) Get(ctx context.Context, key string) (map[string]string, error) {
	out, err := l.Client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(l.Table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{KeyAttr: &types.AttributeValueMemberS{Value: key}}})
	if err != nil {
		return nil, fmt.Errorf("ledger %s: read %s: %w", l.Table, kind(key), err)
	}
	if len(out.Item) == 0 {
		return nil, nil
	}
	if n, ok := out.Item[ExpiresAttr].(*types.AttributeValueMemberN); ok {
		if exp, err := strconv.ParseInt(n.Value, 10, 64); err == nil && exp < l.now().Unix() {
			return nil, nil
		}
	}
	attrs := map[string]string{}
	for k, v := range out.Item {
		if s, ok := v.(*types.AttributeValueMemberS); ok && k != KeyAttr && k != claimAttr {
			attrs[k] = s.Value
		}
	}
	return attrs, nil
}

// OwnerAttr holds a lock's owner (the rotation token), as Get returns it.
const OwnerAttr = "owner"

// Lock takes key for owner until ttl unless another owner holds a live
// lock on it, and returns that other owner ("" when owner holds it now).
// Taking a lock one already holds renews it: a retried step wins its own
// lock again.
func (l *Ledger) Lock(ctx context.Context, key, owner string, ttl time.Duration) (string, error) {
	it, err := l.item(key, ttl, nil)
	if err != nil {
		return "", err
	}
	it[OwnerAttr] = &types.AttributeValueMemberS{Value: owner}
	_, err = l.Client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(l.Table),
		Item:                     it,
		ConditionExpression:      aws.String("attribute_not_exists(#pk) OR #exp < :now OR #own = :own"),
		ExpressionAttributeNames: map[string]string{"#pk": KeyAttr, "#exp": ExpiresAttr, "#own": OwnerAttr},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":now": &types.AttributeValueMemberN{Value: strconv.FormatInt(l.now().Unix(), 10)},
			":own": &types.AttributeValueMemberS{Value: owner},
		},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		held, gerr := l.Client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(l.Table), ConsistentRead: aws.Bool(true),
			Key: map[string]types.AttributeValue{KeyAttr: &types.AttributeValueMemberS{Value: key}}})
		if gerr != nil {
			return "", fmt.Errorf("ledger %s: read %s: %w", l.Table, kind(key), gerr)
		}
		if o, ok := held.Item[OwnerAttr].(*types.AttributeValueMemberS); ok && o.Value != owner {
			return o.Value, nil
		}
		return "", fmt.Errorf("ledger %s: %s: held, then released; try again", l.Table, kind(key))
	}
	if err != nil {
		return "", fmt.Errorf("ledger %s: lock %s: %w", l.Table, kind(key), err)
	}
	return "", nil
}

// Unlock releases key if owner holds it; a lock another owner holds (or
// none) is left alone, so repeating an Unlock is harmless.
func (l *Ledger) Unlock(ctx context.Context, key, owner string) error {
	_, err := l.Client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(l.Table),
		Key:                       map[string]types.AttributeValue{KeyAttr: &types.AttributeValueMemberS{Value: key}},
		ConditionExpression:       aws.String("#own = :own"),
		ExpressionAttributeNames:  map[string]string{"#own": OwnerAttr},
		ExpressionAttributeValues: map[string]types.AttributeValue{":own": &types.AttributeValueMemberS{Value: owner}},
	})
	var ccf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) {
		return fmt.Errorf("ledger %s: unlock %s: %w", l.Table, kind(key), err)
	}
	return nil
}

// Release deletes key's record, so that what it blocked is let through
// again (a delivery the webhook could not act on, for its redelivery).
func (l *Ledger) Release(ctx context.Context, key string) error {
	_, err := l.Client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(l.Table),
		Key: map[string]types.AttributeValue{KeyAttr: &types.AttributeValueMemberS{Value: key}}})
	if err != nil {
		return fmt.Errorf("ledger %s: release %s: %w", l.Table, kind(key), err)
	}
	return nil
}

// kind names a key in errors by its prefix only: keys hold fingerprints and
// signature digests, harmless but noisy.
func kind(key string) string {
	for _, p := range []string{DeliveryPrefix, RevokedPrefix, PlanPrefix, LockPrefix} {
		if len(key) >= len(p) && key[:len(p)] == p {
			return "a " + p[:len(p)-1] + " record"
		}
	}
	return "a record"
}
