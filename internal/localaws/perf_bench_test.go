package localaws

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"go.etcd.io/bbolt"
)

// The endpoint's figures for `make bench`: how fast it takes Secrets
// Manager writes and runs executions at fleet scale, in memory and on a
// data file, and what a write costs the data file.

// benchServer starts a server for a benchmark; it closes with b.
func benchServer(b *testing.B, opts Options) (*Server, string) {
	b.Helper()
	srv, err := New(opts)
	if err != nil {
		b.Fatal(err)
	}
	url, err := srv.Start("127.0.0.1:0")
	if err != nil {
		srv.Close()
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	return srv, url
}

// benchHTTPClient keeps enough idle connections for the benchmark's
// concurrent callers, so that each call does not open a connection.
func benchHTTPClient(b *testing.B) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	b.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// seedSecrets creates n secrets through the store and saves them, so that
// a benchmark starts from a fleet without paying for n writes.
func seedSecrets(b *testing.B, srv *Server, n int) []string {
	b.Helper()
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("fleet/app-%05d/db", i)
		if _, err := srv.SM.Store().CreateSecret(smCtx, &secretsmanager.CreateSecretInput{
			Name: aws.String(names[i]), SecretString: aws.String(smVal(i)),
			Tags: smTags("rotor:provider", "postgres", "rotor:max-age", "720h"),
		}); err != nil {
			b.Fatal(err)
		}
	}
	if err := srv.SM.Save(); err != nil {
		b.Fatal(err)
	}
	return names
}

// dbStats reads the data file's bytes allocated by write transactions and
// its last committed transaction id (so the number of commits), or zeros
// in memory.
func dbStats(b *testing.B, srv *Server) (alloc, commits int64) {
	if srv.db == nil {
		return 0, 0
	}
	err := srv.db.View(func(tx *bbolt.Tx) error {
		commits = int64(tx.ID())
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	st := srv.db.Stats()
	return st.TxStats.GetPageAlloc(), commits
}

// BenchmarkSecretsManagerWrites: PutSecretValue through the SDK over
// loopback, 8 callers at once spread over a fleet of 1,000 or 10,000
// secrets, quotas off. Reports writes/s and, with a data file, the bytes
// bbolt allocated (and so wrote) per write.
func BenchmarkSecretsManagerWrites(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		for _, mode := range []string{"memory", "file"} {
			b.Run(fmt.Sprintf("secrets=%d/%s", n, mode), func(b *testing.B) {
				opts := Options{Account: smAccount}
				if mode == "file" {
					opts.DataFile = filepath.Join(b.TempDir(), "rotor.db")
				}
				srv, url := benchServer(b, opts)
				names := seedSecrets(b, srv, n)
				hc := benchHTTPClient(b)
				c := secretsmanager.NewFromConfig(aws.Config{Region: "us-east-1",
					Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCAL", "secret", ""), HTTPClient: hc},
					func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String(url) })
				alloc0, _ := dbStats(b, srv)
				var next atomic.Int64
				b.SetParallelism(4)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						i := next.Add(1)
						if _, err := c.PutSecretValue(smCtx, &secretsmanager.PutSecretValueInput{
							SecretId: aws.String(names[int(i)%n]), SecretString: aws.String(smVal(int(i))),
						}); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.StopTimer()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
				if alloc, _ := dbStats(b, srv); srv.db != nil {
					b.ReportMetric(float64(alloc-alloc0)/float64(b.N), "B-written/write")
				}
			})
		}
	}
}

// benchMachine has the shape of a rotation step: a Lambda task, a Pass
// and a second task.
const benchMachine = `{"StartAt":"Create","States":{
  "Create":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:000000000000:function:step","ResultPath":"$.create","Next":"Note"},
  "Note":{"Type":"Pass","Result":"noted","ResultPath":"$.note","Next":"Verify"},
  "Verify":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:000000000000:function:step","ResultPath":"$.verify","End":true}}}`

// BenchmarkStepFunctionsExecutions: executions of benchMachine started
// through the SDK, up to 64 at a time, each task an in-process function
// that takes 2 ms. Reports executions/s and, with a data file, the write
// transactions per execution.
func BenchmarkStepFunctionsExecutions(b *testing.B) {
	for _, mode := range []string{"memory", "file"} {
		b.Run(mode, func(b *testing.B) {
			opts := Options{}
			if mode == "file" {
				opts.DataFile = filepath.Join(b.TempDir(), "rotor.db")
			}
			srv, url := benchServer(b, opts)
			srv.Lambda.Register("step", func(ctx context.Context, p []byte) ([]byte, error) {
				time.Sleep(2 * time.Millisecond)
				return []byte(`{"ok":true}`), nil
			})
			c := sfn.NewFromConfig(aws.Config{Region: "us-east-1", HTTPClient: benchHTTPClient(b),
				Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")},
				func(o *sfn.Options) { o.BaseEndpoint = aws.String(url) })
			sm, err := c.CreateStateMachine(smCtx, &sfn.CreateStateMachineInput{Name: aws.String("bench"),
				Definition: aws.String(benchMachine), RoleArn: aws.String("arn:aws:iam::000000000000:role/r")})
			if err != nil {
				b.Fatal(err)
			}
			_, commits0 := dbStats(b, srv)
			slots := make(chan struct{}, 64)
			var wg sync.WaitGroup
			var failed atomic.Int64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				slots <- struct{}{}
				wg.Go(func() {
					defer func() { <-slots }()
					x, err := c.StartExecution(smCtx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn,
						Name: aws.String(fmt.Sprintf("x-%d", i)), Input: aws.String(`{"secret":"fleet/app/db"}`)})
					if err != nil {
						b.Error(err)
						return
					}
					if st, err := srv.SFN.Wait(smCtx, aws.ToString(x.ExecutionArn)); err != nil || st != "SUCCEEDED" {
						failed.Add(1)
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			if n := failed.Load(); n > 0 {
				b.Fatalf("%d executions did not succeed", n)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "executions/s")
			if _, commits := dbStats(b, srv); srv.db != nil {
				b.ReportMetric(float64(commits-commits0)/float64(b.N), "commits/execution")
			}
		})
	}
}

// BenchmarkLambdaInProcessConcurrency: 64 callers invoking one in-process
// function that takes 5 ms. Run one at a time, the function bounds the
// rate at 200 invocations/s.
func BenchmarkLambdaInProcessConcurrency(b *testing.B) {
	srv, _ := benchServer(b, Options{})
	srv.Lambda.Register("slow", func(ctx context.Context, p []byte) ([]byte, error) {
		time.Sleep(5 * time.Millisecond)
		return p, nil
	})
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := srv.Lambda.Invoke(smCtx, "slow", []byte(`{}`)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "invocations/s")
}

// BenchmarkSecretsManagerListFleet: one whole ListSecrets listing (100 a
// page, filtered on a tag key, as a sweep's plan reads it) of 1,000 or
// 10,000 secrets, through the SDK's paginator over loopback.
func BenchmarkSecretsManagerListFleet(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("secrets=%d", n), func(b *testing.B) {
			srv, url := benchServer(b, Options{Account: smAccount})
			seedSecrets(b, srv, n)
			c := secretsmanager.NewFromConfig(aws.Config{Region: "us-east-1", HTTPClient: benchHTTPClient(b),
				Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCAL", "secret", "")},
				func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String(url) })
			for b.Loop() {
				p := secretsmanager.NewListSecretsPaginator(c, &secretsmanager.ListSecretsInput{MaxResults: aws.Int32(100),
					Filters: []smtypes.Filter{{Key: smtypes.FilterNameStringTypeTagKey, Values: []string{"rotor:provider"}}}})
				listed := 0
				for p.HasMorePages() {
					page, err := p.NextPage(smCtx)
					if err != nil {
						b.Fatal(err)
					}
					listed += len(page.SecretList)
				}
				if listed != n {
					b.Fatalf("listed %d secrets, want %d", listed, n)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/listing")
		})
	}
}

// BenchmarkEnforceIAM: DescribeSecret through the SDK over loopback, 4
// callers at once over 1,000 tagged secrets, without EnforceIAM, with it
// for the root, and with it for a role session (signature verified with
// the session's secret, the request's permission decided against the
// create role's three policies). Reports requests/s.
func BenchmarkEnforceIAM(b *testing.B) {
	for _, mode := range []string{"off", "root", "role"} {
		b.Run(mode, func(b *testing.B) {
			srv, url := benchServer(b, Options{Account: smAccount, EnforceIAM: mode != "off"})
			names := seedSecrets(b, srv, 1000)
			creds := aws.Credentials{AccessKeyID: "AKIDLOCAL", SecretAccessKey: "secret"}
			if mode == "role" {
				roles := putFixtureRoles(b, srv)
				c, err := srv.STS.Issue(roles["create"], "bench", time.Hour)
				if err != nil {
					b.Fatal(err)
				}
				creds = aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}
			}
			c := secretsmanager.NewFromConfig(aws.Config{Region: "us-east-1", HTTPClient: benchHTTPClient(b),
				Credentials: credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)},
				func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String(url) })
			var next atomic.Int64
			b.SetParallelism(2)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := next.Add(1)
					if _, err := c.DescribeSecret(smCtx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(names[int(i)%len(names)])}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "requests/s")
		})
	}
}

// BenchmarkAuthorizeRequest is the authorization of one GetSecretValue by
// a role session, without HTTP and the signature: Secrets Manager's
// Authorize (decoding the body, resolving the secret and its tags) and the
// decision over the role's policies.
func BenchmarkAuthorizeRequest(b *testing.B) {
	srv, err := New(Options{Account: smAccount, EnforceIAM: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	names := seedSecrets(b, srv, 1000)
	roles := putFixtureRoles(b, srv)
	who := srv.IAM.RolePrincipal(roles["create"], "bench")
	body := []byte(`{"SecretId":"` + names[500] + `"}`)
	b.ReportAllocs()
	for b.Loop() {
		accesses, err := srv.SM.Authorize(nil, "GetSecretValue", body)
		if err != nil {
			b.Fatal(err)
		}
		if d, _ := srv.check(who, "us-east-1", accesses); d != nil {
			b.Fatal(d.Message())
		}
	}
}
