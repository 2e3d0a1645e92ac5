package localaws

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
	"go.etcd.io/bbolt"
)

// The endpoint's own tests of its data file (an answered write survives a
// crash, reads do not write, a bad snapshot is a clear error), its quotas
// and its faults. Like secretsmanager_conformance_test.go they use only
// New, Options, Start, Close and the SDK.

// ---- durability of the data file ------------------------------------------------

// smCrashCopy copies the data file of a running server, as a crash would
// leave it, and starts a server on the copy.
func smCrashCopy(t *testing.T, file string, clk *smClock) *secretsmanager.Client {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(cp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, url := smStart(t, Options{Account: smAccount, DataFile: cp, Now: clk.Now})
	return smNewClient(t, url)
}

func TestSecretsManagerAnsweredWriteIsDurable(t *testing.T) {
	one := func(e *smEnv) { e.create("s", 1); e.put("s", 2, "AWSPENDING") }
	stagesOf := func(c *secretsmanager.Client) (any, error) {
		d, err := c.DescribeSecret(smCtx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("s")})
		if err != nil {
			return nil, err
		}
		out := map[string][]string{}
		for id, st := range d.VersionIdsToStages {
			out[smShort(id)] = st
		}
		return out, nil
	}
	describe := func(field func(*secretsmanager.DescribeSecretOutput) any) func(c *secretsmanager.Client) (any, error) {
		return func(c *secretsmanager.Client) (any, error) {
			d, err := c.DescribeSecret(smCtx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("s")})
			if err != nil {
				return nil, err
			}
			return field(d), nil
		}
	}
	cases := []struct {
		name  string
		fresh bool // no secret before write
		write func(e *smEnv) error
		read  func(c *secretsmanager.Client) (any, error)
		want  any
	}{
		{
			name:  "CreateSecret",
			fresh: true,
			write: func(e *smEnv) error { e.create("s", 1); return nil },
			read:  stagesOf, want: map[string][]string{"v1": {"AWSCURRENT"}},
		},
		{
			name:  "PutSecretValue",
			write: func(e *smEnv) error { _, err := e.putErr("s", 3); return err },
			read:  stagesOf, want: map[string][]string{"v1": {"AWSPREVIOUS"}, "v2": {"AWSPENDING"}, "v3": {"AWSCURRENT"}},
		},
		{
			name: "UpdateSecretVersionStage",
			write: func(e *smEnv) error {
				_, err := e.c.UpdateSecretVersionStage(smCtx, &secretsmanager.UpdateSecretVersionStageInput{
					SecretId: aws.String("s"), VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: aws.String(smTok(2)), RemoveFromVersionId: aws.String(smTok(1)),
				})
				return err
			},
			read: stagesOf, want: map[string][]string{"v1": {"AWSPREVIOUS"}, "v2": {"AWSCURRENT", "AWSPENDING"}},
		},
		{
			name: "TagResource",
			write: func(e *smEnv) error {
				_, err := e.c.TagResource(smCtx, &secretsmanager.TagResourceInput{SecretId: aws.String("s"), Tags: smTags("k", "v")})
				return err
			},
			read: describe(func(d *secretsmanager.DescribeSecretOutput) any { return d.Tags }), want: smTags("k", "v"),
		},
		{
			name: "UntagResource",
			write: func(e *smEnv) error {
				_, err := e.c.TagResource(smCtx, &secretsmanager.TagResourceInput{SecretId: aws.String("s"), Tags: smTags("k", "v", "l", "w")})
				if err != nil {
					return err
				}
				_, err = e.c.UntagResource(smCtx, &secretsmanager.UntagResourceInput{SecretId: aws.String("s"), TagKeys: []string{"k"}})
				return err
			},
			read: describe(func(d *secretsmanager.DescribeSecretOutput) any { return d.Tags }), want: smTags("l", "w"),
		},
		{
			name:  "DeleteSecret",
			write: func(e *smEnv) error { e.del("s", 7); return nil },
			read:  describe(func(d *secretsmanager.DescribeSecretOutput) any { return d.DeletedDate }),
			want:  aws.Time(smT0.Add(7 * 24 * time.Hour)),
		},
		{
			name: "DeleteSecret with ForceDeleteWithoutRecovery",
			write: func(e *smEnv) error {
				_, err := e.c.DeleteSecret(smCtx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("s"), ForceDeleteWithoutRecovery: aws.Bool(true)})
				return err
			},
			read: func(c *secretsmanager.Client) (any, error) {
				_, err := c.DescribeSecret(smCtx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("s")})
				var nf *types.ResourceNotFoundException
				return errors.As(err, &nf), nil
			},
			want: true,
		},
		{
			name: "RestoreSecret",
			write: func(e *smEnv) error {
				e.del("s", 7)
				_, err := e.c.RestoreSecret(smCtx, &secretsmanager.RestoreSecretInput{SecretId: aws.String("s")})
				return err
			},
			read: describe(func(d *secretsmanager.DescribeSecretOutput) any { return d.DeletedDate }), want: (*time.Time)(nil),
		},
		{
			name: "GetSecretValue (LastAccessedDate)",
			write: func(e *smEnv) error {
				_, err := e.get(&secretsmanager.GetSecretValueInput{SecretId: aws.String("s")})
				return err
			},
			read: describe(func(d *secretsmanager.DescribeSecretOutput) any { return d.LastAccessedDate }),
			want: aws.Time(time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC)),
		},
	}
	for _, tc := range cases {
		t.Run("an answered "+tc.name+" is in the data file before the server stops", func(t *testing.T) {
			t.Parallel()
			file := filepath.Join(t.TempDir(), "rotor.db")
			clk := &smClock{t: smT0}
			_, url := smStart(t, Options{Account: smAccount, DataFile: file, Now: clk.Now})
			e := &smEnv{t: t, c: smNewClient(t, url)}
			if !tc.fresh {
				one(e)
				if _, err := smCrashCopy(t, file, clk).DescribeSecret(smCtx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("s")}); err != nil {
					t.Fatalf("the setup is not in the data file: %v", err)
				}
			}
			if err := tc.write(e); err != nil {
				t.Fatalf("write: %v", err)
			}
			got, err := tc.read(smCrashCopy(t, file, clk))
			if err != nil {
				t.Fatalf("read after restart: %v", err)
			}
			smDiff(t, "state after restart", tc.want, got)
		})
	}
}

func TestSecretsManagerGetSecretValueSavesOnlyWhenLastAccessedDateChanges(t *testing.T) {
	file := filepath.Join(t.TempDir(), "rotor.db")
	clk := &smClock{t: smT0}
	_, url := smStart(t, Options{Account: smAccount, DataFile: file, Now: clk.Now})
	e := &smEnv{t: t, c: smNewClient(t, url)}
	e.create("s", 1)
	e.put("s", 2)
	read := func() []byte {
		b, err := os.ReadFile(file)
		e.must(err)
		return b
	}
	get := func(in *secretsmanager.GetSecretValueInput) {
		in.SecretId = aws.String("s")
		_, err := e.get(in)
		e.must(err)
	}
	lastAccessed := func() []*time.Time {
		vs, err := smCrashCopy(t, file, clk).ListSecretVersionIds(smCtx, &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String("s")})
		e.must(err)
		return []*time.Time{vs.Versions[0].LastAccessedDate, vs.Versions[1].LastAccessedDate}
	}
	day := func(d int) *time.Time { return aws.Time(time.Date(2024, 3, d, 0, 0, 0, 0, time.UTC)) }

	b0 := read()
	get(&secretsmanager.GetSecretValueInput{})
	b1 := read()
	if bytes.Equal(b0, b1) {
		t.Fatalf("the first GetSecretValue of the day did not save LastAccessedDate")
	}
	smDiff(t, "LastAccessedDate after the first read", []*time.Time{day(10), nil}, lastAccessed())

	clk.Advance(time.Hour)
	get(&secretsmanager.GetSecretValueInput{})
	if !bytes.Equal(b1, read()) {
		t.Errorf("a second GetSecretValue of the same version on the same day wrote the data file")
	}
	get(&secretsmanager.GetSecretValueInput{VersionStage: aws.String("AWSPREVIOUS")})
	b2 := read()
	if bytes.Equal(b1, b2) {
		t.Errorf("the first GetSecretValue of another version on the day did not save its LastAccessedDate")
	}
	smDiff(t, "LastAccessedDate after reading the other version", []*time.Time{day(10), day(10)}, lastAccessed())

	clk.Advance(24 * time.Hour)
	get(&secretsmanager.GetSecretValueInput{})
	if bytes.Equal(b2, read()) {
		t.Errorf("the first GetSecretValue of a new day did not save LastAccessedDate")
	}
	smDiff(t, "LastAccessedDate on the next day", []*time.Time{day(11), day(10)}, lastAccessed())
	smDiff(t, "secret LastAccessedDate on the next day", day(11), e.describe("s").LastAccessedDate)
}

func TestSecretsManagerConcurrentWritesAreAllDurable(t *testing.T) {
	file := filepath.Join(t.TempDir(), "rotor.db")
	_, url := smStart(t, Options{Account: smAccount, DataFile: file})
	c := smNewClient(t, url)
	const n = 12
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Go(func() {
			name := fmt.Sprintf("s%02d", i)
			if _, err := c.CreateSecret(smCtx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(smVal(i))}); err != nil {
				errs <- err
				return
			}
			if _, err := c.PutSecretValue(smCtx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), SecretString: aws.String(smVal(100 + i))}); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	clk := &smClock{t: time.Now()}
	c2 := smCrashCopy(t, file, clk)
	for i := range n {
		g, err := c2.GetSecretValue(smCtx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(fmt.Sprintf("s%02d", i))})
		if err != nil {
			t.Fatalf("after restart: %v", err)
		}
		if *g.SecretString != smVal(100+i) {
			t.Errorf("s%02d = %q after restart, want %q", i, *g.SecretString, smVal(100+i))
		}
	}
}

// ---- quotas and faults --------------------------------------------------------------

// smCounter counts the PutSecretValue answers a client gets, and the
// ThrottlingException refusals among them, calling onAnswer after each.
type smCounter struct {
	next             http.RoundTripper
	answers, refused atomic.Int64
	onAnswer         func(n int64)
}

func (c *smCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(r)
	if err == nil && r.Header.Get("X-Amz-Target") == "secretsmanager.PutSecretValue" {
		if resp.Header.Get("X-Amzn-ErrorType") == "ThrottlingException" {
			c.refused.Add(1)
		}
		n := c.answers.Add(1)
		if c.onAnswer != nil {
			c.onAnswer(n)
		}
	}
	return resp, err
}

// smHeldClock stands still until released, then runs at real speed.
type smHeldClock struct {
	mu       sync.Mutex
	base     time.Time
	released time.Time
}

func (c *smHeldClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.released.IsZero() {
		return c.base
	}
	return c.base.Add(time.Since(c.released))
}

func (c *smHeldClock) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.released.IsZero() {
		c.released = time.Now()
	}
}

func TestSecretsManagerThrottlingIsRetriedBySDK(t *testing.T) {
	// The clock stands still until every PutSecretValue of the burst has
	// had a first answer, so the 50-per-second write quota (which
	// CreateSecret, in a bucket of its own, does not spend) refuses at
	// least 10 of the 60, whatever the speed of the machine; then it runs
	// and the SDK's retries get through.
	const burst = 60
	clk := &smHeldClock{base: smT0}
	_, url := smStart(t, Options{Quotas: true, Now: clk.Now})
	counter := &smCounter{next: http.DefaultTransport.(*http.Transport).Clone(), onAnswer: func(n int64) {
		if n >= burst {
			clk.release()
		}
	}}
	c := smNewClient(t, url, func(o *secretsmanager.Options) {
		o.HTTPClient = &http.Client{Transport: counter}
		o.RetryMaxAttempts = 10 // the SDK's standard retryer, with room for a slow machine
	})
	if _, err := c.CreateSecret(smCtx, &secretsmanager.CreateSecretInput{Name: aws.String("s"), SecretString: aws.String(smVal(0))}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, burst)
	for i := range burst {
		wg.Go(func() {
			_, errs[i] = c.PutSecretValue(smCtx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("s"), SecretString: aws.String(smVal(i + 1))})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("PutSecretValue %d failed: %v", i, err)
		}
	}
	if r := counter.refused.Load(); r < burst-50 {
		t.Errorf("the server refused %d PutSecretValue calls, want at least %d", r, burst-50)
	} else {
		t.Logf("%d refusals, %d answers in all", r, counter.answers.Load())
	}
	vs, err := c.ListSecretVersionIds(smCtx, &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String("s"), IncludeDeprecated: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if len(vs.Versions) != burst+1 {
		t.Errorf("%d versions, want %d (one per call, none twice)", len(vs.Versions), burst+1)
	}
}

func TestSecretsManagerLostFaultAppliesTheWrite(t *testing.T) {
	file := filepath.Join(t.TempDir(), "rotor.db")
	clk := &smClock{t: smT0}
	opts := Options{Account: smAccount, DataFile: file, Now: clk.Now,
		Faults: []Fault{{Service: "secretsmanager", Op: "PutSecretValue", Mode: "lost", Rate: 1}}}
	srv, url := smStart(t, opts)
	c := smNewClient(t, url, func(o *secretsmanager.Options) { o.RetryMaxAttempts = 1 })
	if _, err := c.CreateSecret(smCtx, &secretsmanager.CreateSecretInput{Name: aws.String("s"), SecretString: aws.String(smVal(1)), ClientRequestToken: aws.String(smTok(1))}); err != nil {
		t.Fatal(err)
	}
	_, err := c.PutSecretValue(smCtx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("s"), SecretString: aws.String(smVal(2)), ClientRequestToken: aws.String(smTok(2))})
	if err == nil {
		t.Fatal("PutSecretValue succeeded, want the error of a lost answer")
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		t.Fatalf("PutSecretValue: got an API error %v, want a transport error", err)
	}
	g, err := c.GetSecretValue(smCtx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("s")})
	if err != nil {
		t.Fatal(err)
	}
	smDiff(t, "AWSCURRENT after the lost PutSecretValue", []string{smTok(2), smVal(2)}, []string{*g.VersionId, *g.SecretString})

	// The write was durable too.
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	opts.Faults = nil
	_, url2 := smStart(t, opts)
	g, err = smNewClient(t, url2).GetSecretValue(smCtx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("s")})
	if err != nil {
		t.Fatal(err)
	}
	smDiff(t, "AWSCURRENT after a restart", []string{smTok(2), smVal(2)}, []string{*g.VersionId, *g.SecretString})
	// A retry of the lost request with its ClientRequestToken is idempotent.
	out, err := smNewClient(t, url2).PutSecretValue(smCtx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("s"), SecretString: aws.String(smVal(2)), ClientRequestToken: aws.String(smTok(2))})
	if err != nil {
		t.Fatal(err)
	}
	smDiff(t, "retry", []any{smTok(2), []string{"AWSCURRENT"}}, []any{*out.VersionId, out.VersionStages})
}

// ---- data file errors ---------------------------------------------------------------

func TestSecretsManagerBadSnapshotIsAnErrorNamingTheBucket(t *testing.T) {
	// good leaves a data file holding one secret, saved by an answered
	// CreateSecret.
	good := func(t *testing.T, file string) {
		t.Helper()
		srv, url := smStart(t, Options{Account: smAccount, DataFile: file})
		if _, err := smNewClient(t, url).CreateSecret(smCtx, &secretsmanager.CreateSecretInput{Name: aws.String("s"), SecretString: aws.String(smVal(1))}); err != nil {
			t.Fatal(err)
		}
		if err := srv.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// corrupt overwrites the snapshot where the error says it is.
	corrupt := func(t *testing.T, file string) {
		t.Helper()
		good(t, file)
		db, err := bbolt.Open(file, 0o600, &bbolt.Options{Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		err = db.Update(func(tx *bbolt.Tx) error {
			b := tx.Bucket([]byte("secretsmanager"))
			if b == nil {
				return errors.New(`no bucket "secretsmanager"`)
			}
			return b.Put([]byte("store"), []byte(`{"format":1,`))
		})
		if cerr := db.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name  string
		setup func(t *testing.T, file string)
		opts  Options
	}{
		{name: "a snapshot that is not JSON", setup: corrupt, opts: Options{Account: smAccount}},
		{name: "a snapshot of another account", setup: good, opts: Options{Account: "999999999999"}},
		{name: "a snapshot of another region", setup: good, opts: Options{Account: smAccount, Region: "eu-west-1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name+" makes New fail with an error naming the file and bucket secretsmanager", func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "rotor.db")
			tc.setup(t, file)
			opts := tc.opts
			opts.DataFile = file
			srv, err := New(opts)
			if err == nil {
				srv.Close()
				t.Fatal("New succeeded")
			}
			for _, want := range []string{file, `"secretsmanager"`, `"store"`} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %s", err, want)
				}
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error leaks a value: %v", err)
			}
			// New released the file.
			db, err := bbolt.Open(file, 0o600, &bbolt.Options{Timeout: time.Second})
			if err != nil {
				t.Fatalf("the data file is still locked after New failed: %v", err)
			}
			db.Close()
		})
	}

	t.Run("a data file without the bucket starts empty", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "rotor.db")
		_, url := smStart(t, Options{DataFile: file})
		out, err := smNewClient(t, url).ListSecrets(smCtx, &secretsmanager.ListSecretsInput{})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.SecretList) != 0 {
			t.Errorf("%d secrets in a new data file", len(out.SecretList))
		}
	})
}
