package ledger_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/rotorhq/rotor/internal/asl"
	"github.com/rotorhq/rotor/internal/ledger"
	"github.com/rotorhq/rotor/internal/localaws"
)

const table = "rotor-ledger"

type env struct {
	l   *ledger.Ledger
	c   *dynamodb.Client
	clk *asl.VirtualClock
}

// start serves DynamoDB on loopback with the ledger's table (as the stack
// deploys it: key pk, TTL on expiresAt) and returns a ledger over it,
// through the SDK. transport, if not nil, wraps the HTTP transport.
func start(t *testing.T, opts localaws.Options, transport func(http.RoundTripper) http.RoundTripper, clientOpts ...func(*dynamodb.Options)) *env {
	t.Helper()
	srv, err := localaws.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	url, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	var rt http.RoundTripper = tr
	if transport != nil {
		rt = transport(tr)
	}
	c := dynamodb.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(url), HTTPClient: &http.Client{Transport: rt},
		Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCAL", "secret", "")}, clientOpts...)
	ctx := t.Context()
	if _, err := c.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String(table), BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(ledger.KeyAttr), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(ledger.KeyAttr), KeyType: types.KeyTypeHash}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: aws.String(table),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(ledger.ExpiresAttr), Enabled: aws.Bool(true)}}); err != nil {
		t.Fatal(err)
	}
	clk := asl.NewVirtualClock(time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC))
	l := ledger.New(c, table)
	l.Now = clk.Now
	return &env{l: l, c: c, clk: clk}
}

// stored reads a record as the table holds it, bypassing the ledger.
func (e *env) stored(t *testing.T, key string) map[string]types.AttributeValue {
	t.Helper()
	out, err := e.c.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{ledger.KeyAttr: &types.AttributeValueMemberS{Value: key}}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item
}

func TestClaim(t *testing.T) {
	e := start(t, localaws.Options{}, nil)
	ctx := t.Context()
	key := ledger.DeliveryPrefix + "0a1b2c"
	steps := []struct {
		name    string
		advance time.Duration
		want    bool
	}{
		{"the first claim wins", 0, true},
		{"a second claim of a live record loses", 0, false},
		{"still live at its expiry", time.Hour, false},
		{"a claim of an expired record wins again", time.Second, true},
		{"and that claim holds", 0, false},
	}
	for _, s := range steps {
		e.clk.Advance(s.advance)
		got, err := e.l.Claim(ctx, key, time.Hour, map[string]string{"source": "github"})
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got != s.want {
			t.Errorf("%s: Claim = %v, want %v", s.name, got, s.want)
		}
	}
}

func TestClaimConcurrent(t *testing.T) {
	e := start(t, localaws.Options{}, nil)
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			won, err := e.l.Claim(t.Context(), ledger.DeliveryPrefix+"same", time.Hour, nil)
			if err != nil {
				t.Errorf("Claim: %v", err)
			}
			if won {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if n := wins.Load(); n != 1 {
		t.Errorf("%d of 20 concurrent claims won, want exactly 1", n)
	}
}

// lostOnce applies the first PutItem and then reports a reset connection
// instead of its answer, as a network failure after the write would: the
// SDK retries.
type lostOnce struct {
	rt   http.RoundTripper
	done atomic.Bool
}

func (l *lostOnce) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := l.rt.RoundTrip(r)
	if err == nil && strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".PutItem") && l.done.CompareAndSwap(false, true) {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return nil, &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	}
	return resp, err
}

// TestClaimRetriedAfterLostAnswer: when the answer to a claim's write is
// lost and the SDK retries it, the retry finds the claim's own record: the
// claim is won, not refused as a replay of itself.
func TestClaimRetriedAfterLostAnswer(t *testing.T) {
	lost := &lostOnce{}
	e := start(t, localaws.Options{}, func(rt http.RoundTripper) http.RoundTripper { lost.rt = rt; return lost })
	won, err := e.l.Claim(t.Context(), ledger.DeliveryPrefix+"lost", time.Hour, nil)
	if !lost.done.Load() {
		t.Fatal("no answer was lost")
	}
	if err != nil || !won {
		t.Fatalf("Claim = %v, %v; want won", won, err)
	}
	if won, err := e.l.Claim(t.Context(), ledger.DeliveryPrefix+"lost", time.Hour, nil); err != nil || won {
		t.Errorf("a second Claim = %v, %v; want lost", won, err)
	}
}

func TestPutGet(t *testing.T) {
	e := start(t, localaws.Options{}, nil)
	ctx := t.Context()
	key := ledger.RevokedPrefix + "keyid#AKIAEXAMPLE0000000001"
	if got, err := e.l.Get(ctx, key); err != nil || got != nil {
		t.Fatalf("Get before Put = %v, %v; want nil", got, err)
	}
	if err := e.l.Put(ctx, key, 48*time.Hour, map[string]string{"secret": "arn:aws:secretsmanager:us-east-1:000000000000:secret:app-AbCdEf", "by": "expire"}); err != nil {
		t.Fatal(err)
	}
	got, err := e.l.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"secret": "arn:aws:secretsmanager:us-east-1:000000000000:secret:app-AbCdEf", "by": "expire"}, got); diff != "" {
		t.Errorf("Get (-want +got):\n%s", diff)
	}
	if err := e.l.Put(ctx, key, 48*time.Hour, map[string]string{"by": "leak"}); err != nil {
		t.Fatal(err)
	}
	got, _ = e.l.Get(ctx, key)
	if diff := cmp.Diff(map[string]string{"by": "leak"}, got); diff != "" {
		t.Errorf("Get after a second Put (-want +got):\n%s", diff)
	}

	e.clk.Advance(48*time.Hour + time.Second)
	if got, err := e.l.Get(ctx, key); err != nil || got != nil {
		t.Errorf("Get of an expired record = %v, %v; want nil", got, err)
	}
	// DynamoDB may still hold it (TTL deletes eventually): the ledger's own
	// check is what hides it.
	if e.stored(t, key) == nil {
		t.Errorf("the table no longer holds the expired record; this test no longer shows the ledger's check")
	}
}

func TestRelease(t *testing.T) {
	e := start(t, localaws.Options{}, nil)
	ctx := t.Context()
	key := ledger.DeliveryPrefix + "rel"
	for i, want := range []bool{true, false} {
		if got, err := e.l.Claim(ctx, key, time.Hour, nil); err != nil || got != want {
			t.Fatalf("claim %d = %v, %v; want %v", i, got, err, want)
		}
	}
	if err := e.l.Release(ctx, key); err != nil {
		t.Fatal(err)
	}
	if got, err := e.l.Claim(ctx, key, time.Hour, nil); err != nil || !got {
		t.Errorf("Claim after Release = %v, %v; want true", got, err)
	}
	if err := e.l.Release(ctx, ledger.DeliveryPrefix+"never"); err != nil {
		t.Errorf("Release of a key never claimed: %v", err)
	}
}

// TestBadInput: what the ledger refuses is refused before anything is
// written.
func TestBadInput(t *testing.T) {
	e := start(t, localaws.Options{}, nil)
	key := ledger.DeliveryPrefix + "bad"
	for _, tc := range []struct {
		name  string
		ttl   time.Duration
		attrs map[string]string
		want  string
	}{
		{"no ttl", 0, nil, "ttl 0s is shorter than a second"},
		{"a negative ttl", -time.Hour, nil, "shorter than a second"},
		{"an attribute named as the key", time.Hour, map[string]string{ledger.KeyAttr: "other"}, `attribute "pk" is the ledger's own`},
		{"an attribute named as the expiry", time.Hour, map[string]string{ledger.ExpiresAttr: "9"}, `attribute "expiresAt" is the ledger's own`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, cerr := e.l.Claim(t.Context(), key, tc.ttl, tc.attrs)
			perr := e.l.Put(t.Context(), key, tc.ttl, tc.attrs)
			for _, err := range []error{cerr, perr} {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("error %v, want %q", err, tc.want)
				}
			}
			if got := e.stored(t, key); got != nil {
				t.Errorf("a refused record was written: %v", got)
			}
		})
	}
}

// TestServerError: a failing table is an error wrapped with what the
// ledger was doing, naming the record's kind and never its key.
func TestServerError(t *testing.T) {
	var faults []localaws.Fault
	for _, op := range []string{"PutItem", "GetItem", "DeleteItem"} {
		faults = append(faults, localaws.Fault{Service: "dynamodb", Op: op, Mode: "error", Rate: 1})
	}
	e := start(t, localaws.Options{Faults: faults}, nil, func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
	ctx := context.Background()
	const secretish = "5ec7e75ba1d0" // a signature digest: harmless, but never in errors
	key := ledger.DeliveryPrefix + secretish
	for _, tc := range []struct {
		name, what string
		call       func() error
	}{
		{"Claim", "claim a delivery record", func() error { _, err := e.l.Claim(ctx, key, time.Hour, nil); return err }},
		{"Put", "record a delivery record", func() error { return e.l.Put(ctx, key, time.Hour, nil) }},
		{"Get", "read a delivery record", func() error { _, err := e.l.Get(ctx, key); return err }},
		{"Release", "release a delivery record", func() error { return e.l.Release(ctx, key) }},
		{"Get of another kind", "read a record", func() error { _, err := e.l.Get(ctx, "other#"+secretish); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != "InternalFailure" {
				t.Fatalf("error %v, want the server's InternalFailure wrapped", err)
			}
			if want := "ledger " + table + ": " + tc.what + ": "; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error %q does not start with %q", err, want)
			}
			if strings.Contains(err.Error(), secretish) {
				t.Errorf("error %q names the key", err)
			}
		})
	}
}

// TestLock: a lock has one owner at a time; its owner takes it again (a
// retried step); it expires; Unlock by anyone but the owner does nothing.
func TestLock(t *testing.T) {
	e := start(t, localaws.Options{}, nil)
	ctx := t.Context()
	key := ledger.LockPrefix + "arn:aws:secretsmanager:us-east-1:000000000000:secret:app/x-AbCdEf"
	steps := []struct {
		name    string
		advance time.Duration
		op      string // lock, unlock
		owner   string
		want    string // the other holder Lock reports
	}{
		{"a takes it", 0, "lock", "a", ""},
		{"b is refused, told a holds it", 0, "lock", "b", "a"},
		{"a takes it again (a retry)", 0, "lock", "a", ""},
		{"b's unlock does nothing", 0, "unlock", "b", ""},
		{"b is still refused", 0, "lock", "b", "a"},
		{"after the ttl b takes it", 31 * time.Minute, "lock", "b", ""},
		{"a's late unlock does nothing", 0, "unlock", "a", ""},
		{"a is refused", 0, "lock", "a", "b"},
		{"b unlocks", 0, "unlock", "b", ""},
		{"a takes it", 0, "lock", "a", ""},
	}
	for _, s := range steps {
		e.clk.Advance(s.advance)
		switch s.op {
		case "lock":
			got, err := e.l.Lock(ctx, key, s.owner, 30*time.Minute)
			if err != nil || got != s.want {
				t.Errorf("%s: Lock = %q, %v; want %q", s.name, got, err, s.want)
			}
		case "unlock":
			if err := e.l.Unlock(ctx, key, s.owner); err != nil {
				t.Errorf("%s: Unlock: %v", s.name, err)
			}
		}
	}
}

// TestLockConcurrent: of 20 owners racing for one lock, exactly one wins.
func TestLockConcurrent(t *testing.T) {
	e := start(t, localaws.Options{}, nil)
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			other, err := e.l.Lock(t.Context(), ledger.LockPrefix+"same", string(rune('a'+i)), time.Hour)
			if err != nil {
				t.Errorf("Lock: %v", err)
			}
			if other == "" {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if n := wins.Load(); n != 1 {
		t.Errorf("%d of 20 concurrent locks won, want exactly 1", n)
	}
}
