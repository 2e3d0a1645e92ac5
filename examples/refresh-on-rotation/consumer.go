// Package refreshonrotation is a worked example of a consumer of a secret
// that rotor rotates. It reads the secret through the AWS Secrets Manager
// caching client (github.com/aws/aws-secretsmanager-caching-go/v2), so that
// a call does not cost a Secrets Manager request, and keeps the cache right
// in two ways:
//
//   - HandleEvent, the Lambda handler of an EventBridge rule matching
//     rotor's events (rule.json), reads the secret afresh as soon as rotor
//     says its current version changed: "Rotation Switched Over" (the new
//     version is current and verified, and the previous credential still
//     works for the grace period), "Rotation Succeeded" and "Rotation
//     Expire Failed" (also after a new version became current: the
//     switch-over event may have been missed).
//   - Do retries a call once with a fresh read when the credential it used
//     was refused: an event that arrived late, or not at all, costs one
//     failed call, never an error for the caller.
//
// Only ids come with an event (never a value): the consumer reads the new
// value from Secrets Manager itself.
package refreshonrotation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-secretsmanager-caching-go/v2/secretcache"
)

// The event source and the detail-types after which the secret's current
// version is another one.
const (
	EventSource            = "rotor"
	DetailTypeSwitchedOver = "Rotation Switched Over"
	DetailTypeSucceeded    = "Rotation Succeeded"
	DetailTypeExpireFailed = "Rotation Expire Failed"
)

var changedVersion = map[string]bool{DetailTypeSwitchedOver: true, DetailTypeSucceeded: true, DetailTypeExpireFailed: true}

// ErrUnauthorized is what a call passed to Do wraps when the service it
// called refused the credential (HTTP 401, a database's authentication
// error): Do then retries it once with a fresh read.
var ErrUnauthorized = errors.New("the credential was refused")

// Consumer reads one secret through a cache.
type Consumer struct {
	secretID string
	newCache func() *secretcache.Cache
	cache    atomic.Pointer[secretcache.Cache]
	// Refreshes counts fresh reads (events and retries); Retries counts
	// calls Do made again after ErrUnauthorized.
	Refreshes, Retries atomic.Int64
}

// New returns a consumer of the secret secretID (a name or an ARN) read
// with client, its value cached for ttl (the caching client's
// CacheItemTTL; 0 is its default, 1 hour).
func New(client secretcache.SecretsManagerAPIClient, secretID string, ttl time.Duration) (*Consumer, error) {
	if client == nil || secretID == "" {
		return nil, errors.New("refreshonrotation: a Secrets Manager client and a secret id are required")
	}
	if ttl < 0 {
		return nil, fmt.Errorf("refreshonrotation: ttl %s is negative", ttl)
	}
	c := &Consumer{secretID: secretID}
	c.newCache = func() *secretcache.Cache {
		// New fails only when it must load a default configuration for a
		// client of its own; it is given one.
		cache, _ := secretcache.New(func(sc *secretcache.Cache) {
			sc.Client = client
			sc.CacheItemTTL = ttl.Nanoseconds()
		})
		return cache
	}
	c.cache.Store(c.newCache())
	return c, nil
}

// Value returns the secret's current value, from the cache while it is
// fresh.
func (c *Consumer) Value(ctx context.Context) (string, error) {
	return c.cache.Load().GetSecretStringWithContext(ctx, c.secretID)
}

// Refresh reads the secret afresh into a new cache and puts it in place
// of the old one, which readers use until then. The caching client's
// RefreshNow would do it in place, but it first sleeps 2.5 to 5 seconds of
// jitter (against retry storms) and does not lock the item it changes.
func (c *Consumer) Refresh(ctx context.Context) (string, error) {
	fresh := c.newCache()
	v, err := fresh.GetSecretStringWithContext(ctx, c.secretID)
	if err != nil {
		return "", fmt.Errorf("refreshing %s: %w", c.secretID, err)
	}
	c.cache.Store(fresh)
	c.Refreshes.Add(1)
	return v, nil
}

// Do calls call with the secret's value. When call's error wraps
// ErrUnauthorized, Do reads the secret afresh and, if its value changed,
// calls once more with the new one; a value that did not change is not
// tried again, and the error is returned.
func (c *Consumer) Do(ctx context.Context, call func(ctx context.Context, value string) error) error {
	v, err := c.Value(ctx)
	if err != nil {
		return fmt.Errorf("reading %s: %w", c.secretID, err)
	}
	err = call(ctx, v)
	if !errors.Is(err, ErrUnauthorized) {
		return err
	}
	fresh, rerr := c.Refresh(ctx)
	if rerr != nil {
		return errors.Join(err, rerr)
	}
	if fresh == v {
		return fmt.Errorf("%w (the secret's current value is the one refused)", err)
	}
	c.Retries.Add(1)
	return call(ctx, fresh)
}

// rotorDetail is the part of a rotor event's detail the consumer reads.
type rotorDetail struct {
	SecretID string `json:"secretId"`
}

// HandleEvent is the Lambda handler of an EventBridge rule delivering
// rotor's events: after an event saying that this secret's current
// version changed, the next read is a fresh one. Other events (another
// source, another detail-type, another secret) are ignored.
func (c *Consumer) HandleEvent(ctx context.Context, ev events.CloudWatchEvent) error {
	if ev.Source != EventSource || !changedVersion[ev.DetailType] {
		return nil
	}
	var d rotorDetail
	if err := json.Unmarshal(ev.Detail, &d); err != nil {
		return fmt.Errorf("event %s (%s): detail: %w", ev.ID, ev.DetailType, err)
	}
	if d.SecretID == "" {
		return fmt.Errorf("event %s (%s): detail has no secretId", ev.ID, ev.DetailType)
	}
	if !SameSecret(c.secretID, d.SecretID) {
		return nil
	}
	_, err := c.Refresh(ctx)
	return err
}

// SameSecret tells whether id (a secret's name or ARN) names the secret
// whose ARN is arn. A secret's ARN ends in its name, a hyphen and six
// random characters.
func SameSecret(id, arn string) bool {
	if id == arn {
		return true
	}
	_, rest, ok := strings.Cut(arn, ":secret:")
	if !ok || len(rest) < 8 || rest[len(rest)-7] != '-' || strings.HasPrefix(id, "arn:") {
		return false
	}
	return rest[:len(rest)-7] == id
}
