package smstore

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
)

// fuzzInput hands out bytes of the fuzzer's input; past its end it yields 0.
type fuzzInput struct {
	b []byte
}

func (in *fuzzInput) more() bool { return len(in.b) > 0 }

func (in *fuzzInput) byte() byte {
	if len(in.b) == 0 {
		return 0
	}
	c := in.b[0]
	in.b = in.b[1:]
	return c
}

func (in *fuzzInput) pick(n int) int { return int(in.byte()) % n }

// FuzzStore applies random sequences of operations on a few secrets, labels
// and tokens, and checks after every step that: nothing panics; every error
// is one of the SDK's typed errors and names no secret value; each label is
// on at most one version; AWSCURRENT exists exactly when the secret has a
// value; a successful call did what its rule says. At the end the state must
// survive Snapshot, Load, Snapshot byte for byte.
func FuzzStore(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 0, 1, 1, 2, 1, 3, 0, 2, 1, 2, 4, 0, 1, 2, 0})
	f.Add([]byte{0, 1, 0, 1, 1, 1, 1, 2, 1, 1, 3, 3, 4, 1, 2, 3, 2, 6, 1, 7, 1, 9, 2})
	f.Add([]byte("rotation: create put pending switch over expire delete restore list snapshot"))
	f.Add(bytes.Repeat([]byte{1, 0, 1, 0, 5}, 40))
	// Pseudo-random seeds reach deep sequences without a fuzzing run.
	for seed := range byte(16) {
		b := make([]byte, 600)
		_, _ = seeded(seed).Read(b)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &fuzzInput{b: data}
		clk := &fakeClock{t: t0}
		s := New(Options{Now: clk.Now, Rand: seeded(in.byte())})
		names := []string{"a", "b/c", "d"}
		labelPool := []string{"AWSCURRENT", "AWSPREVIOUS", "AWSPENDING", "L1", "L2"}
		name := func() string { return names[in.pick(len(names))] }
		id := func(n string) string {
			switch in.pick(3) {
			case 0:
				return n
			case 1:
				if d, err := s.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: &n}); err == nil {
					return *d.ARN
				}
			}
			return "arn:aws:secretsmanager:us-east-1:000000000000:secret:" + n
		}
		token := func() *string {
			if k := in.pick(8); k < 6 {
				return ptr(tok(k))
			}
			return nil
		}
		// version picks a version id: a known token, or an existing version.
		version := func(n string) *string {
			k := in.pick(10)
			if k < 6 {
				return ptr(tok(k))
			}
			if k == 9 {
				return nil
			}
			out, err := s.ListSecretVersionIds(ctx, &sm.ListSecretVersionIdsInput{SecretId: &n, IncludeDeprecated: ptr(true)})
			if err != nil || len(out.Versions) == 0 {
				return ptr(tok(0))
			}
			return out.Versions[in.pick(len(out.Versions))].VersionId
		}
		value := func() (*string, []byte) {
			switch in.pick(4) {
			case 0:
				return nil, []byte("s3cr3t-bin-" + string(rune('a'+in.pick(3))))
			case 1:
				return nil, nil
			default:
				return ptr(val(in.pick(4))), nil
			}
		}
		stagesOf := func() []string {
			var st []string
			for range in.pick(4) {
				st = append(st, labelPool[in.pick(len(labelPool))])
			}
			return st
		}
		check := func(op string, err error) {
			t.Helper()
			if err == nil {
				return
			}
			var ae smithy.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("%s: error %T is not an API error: %v", op, err, err)
			}
			switch err.(type) {
			case *types.ResourceNotFoundException, *types.InvalidParameterException, *types.InvalidRequestException,
				*types.ResourceExistsException, *types.LimitExceededException, *types.InvalidNextTokenException:
			default:
				t.Fatalf("%s: unexpected error type %T: %v", op, err, err)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Fatalf("%s: error message leaks a value: %v", op, err)
			}
		}

		for step := 0; step < 80 && in.more(); step++ {
			switch op := in.pick(12); op {
			case 0:
				str, bin := value()
				n := name()
				_, err := s.CreateSecret(ctx, &sm.CreateSecretInput{Name: &n, SecretString: str, SecretBinary: bin, ClientRequestToken: token()})
				check("CreateSecret", err)
			case 1:
				n := name()
				str, bin := value()
				st := stagesOf()
				pin := &sm.PutSecretValueInput{SecretId: ptr(id(n)), SecretString: str, SecretBinary: bin, ClientRequestToken: token()}
				if len(st) > 0 {
					pin.VersionStages = st
				}
				before, _ := s.ListSecretVersionIds(ctx, &sm.ListSecretVersionIdsInput{SecretId: &n, IncludeDeprecated: ptr(true)})
				oldCurrent := ""
				if before != nil {
					for _, v := range before.Versions {
						if slicesContains(v.VersionStages, "AWSCURRENT") {
							oldCurrent = *v.VersionId
						}
					}
				}
				out, err := s.PutSecretValue(ctx, pin)
				check("PutSecretValue", err)
				if err != nil {
					break
				}
				fresh := true
				if before != nil {
					for _, v := range before.Versions {
						fresh = fresh && *v.VersionId != *out.VersionId
					}
				}
				// A new version has every requested label, and AWSCURRENT
				// when no labels were requested.
				if fresh {
					want := st
					if len(want) == 0 {
						want = []string{"AWSCURRENT"}
					}
					for _, l := range want {
						g, err := s.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: &n, VersionStage: &l})
						if err != nil || *g.VersionId != *out.VersionId {
							t.Fatalf("PutSecretValue: label %s not on the new version %s (err %v)", l, *out.VersionId, err)
						}
					}
					// AWSPREVIOUS follows AWSCURRENT to the version it left.
					if oldCurrent != "" && slicesContains(want, "AWSCURRENT") && !slicesContains(want, "AWSPREVIOUS") {
						g, err := s.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: &n, VersionStage: ptr("AWSPREVIOUS")})
						if err != nil || *g.VersionId != oldCurrent {
							t.Fatalf("PutSecretValue: AWSPREVIOUS not on the former AWSCURRENT %s (err %v)", oldCurrent, err)
						}
					}
				}
			case 2:
				n := name()
				uin := &sm.UpdateSecretVersionStageInput{
					SecretId: ptr(id(n)), VersionStage: ptr(labelPool[in.pick(len(labelPool))]),
					MoveToVersionId: version(n), RemoveFromVersionId: version(n),
				}
				_, err := s.UpdateSecretVersionStage(ctx, uin)
				check("UpdateSecretVersionStage", err)
				if err == nil && uin.MoveToVersionId != nil {
					g, err := s.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: &n, VersionStage: uin.VersionStage})
					if err != nil || *g.VersionId != *uin.MoveToVersionId {
						t.Fatalf("UpdateSecretVersionStage: %s not on %s afterwards (err %v)", *uin.VersionStage, *uin.MoveToVersionId, err)
					}
				}
			case 3:
				n := name()
				gin := &sm.GetSecretValueInput{SecretId: ptr(id(n))}
				if in.pick(2) == 0 {
					gin.VersionId = version(n)
				}
				if in.pick(2) == 0 {
					gin.VersionStage = ptr(labelPool[in.pick(len(labelPool))])
				}
				_, err := s.GetSecretValue(ctx, gin)
				check("GetSecretValue", err)
			case 4:
				_, err := s.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: ptr(id(name()))})
				check("DescribeSecret", err)
			case 5:
				din := &sm.DeleteSecretInput{SecretId: ptr(id(name()))}
				switch in.pick(4) {
				case 0:
					din.ForceDeleteWithoutRecovery = ptr(true)
				case 1:
					din.RecoveryWindowInDays = ptr(int64(in.pick(40)))
				}
				_, err := s.DeleteSecret(ctx, din)
				check("DeleteSecret", err)
			case 6:
				_, err := s.RestoreSecret(ctx, &sm.RestoreSecretInput{SecretId: ptr(id(name()))})
				check("RestoreSecret", err)
			case 7:
				_, err := s.TagResource(ctx, &sm.TagResourceInput{SecretId: ptr(id(name())), Tags: tags(labelPool[in.pick(5)], "v")})
				check("TagResource", err)
			case 8:
				_, err := s.UntagResource(ctx, &sm.UntagResourceInput{SecretId: ptr(id(name())), TagKeys: []string{labelPool[in.pick(5)]}})
				check("UntagResource", err)
			case 9:
				lin := &sm.ListSecretsInput{IncludePlannedDeletion: ptr(in.pick(2) == 0), MaxResults: ptr(int32(1 + in.pick(3)))}
				if in.pick(2) == 0 {
					lin.Filters = []types.Filter{{Key: types.FilterNameStringTypeAll, Values: []string{string("abcd"[in.pick(4)])}}}
				}
				for range 10 {
					out, err := s.ListSecrets(ctx, lin)
					check("ListSecrets", err)
					if err != nil || out.NextToken == nil {
						break
					}
					lin.NextToken = out.NextToken
				}
			case 10:
				_, err := s.ListSecretVersionIds(ctx, &sm.ListSecretVersionIdsInput{SecretId: ptr(id(name())), MaxResults: ptr(int32(1 + in.pick(3)))})
				check("ListSecretVersionIds", err)
			case 11:
				clk.Advance(time.Duration(in.pick(16)) * 24 * time.Hour)
			}
			checkInvariants(t, s)
			apiInvariants(t, s, names)
		}

		snap1, err := s.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		l, err := Load(Options{Now: clk.Now}, snap1)
		if err != nil {
			t.Fatalf("Load of a snapshot failed: %v", err)
		}
		snap2, err := l.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(snap1, snap2) {
			t.Fatalf("Snapshot/Load/Snapshot changed the bytes")
		}
	})
}

// apiInvariants checks through the API what checkInvariants checks inside:
// each label on at most one version, and AWSCURRENT listed exactly when the
// secret has a version.
func apiInvariants(t *testing.T, s *Store, names []string) {
	t.Helper()
	for _, n := range names {
		d, err := s.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: &n})
		if err != nil {
			continue
		}
		seen := map[string]string{}
		for vid, st := range d.VersionIdsToStages {
			if len(st) == 0 {
				t.Fatalf("%s: version %s listed without labels", n, vid)
			}
			for _, l := range st {
				if other, ok := seen[l]; ok {
					t.Fatalf("%s: label %s on %s and %s", n, l, other, vid)
				}
				seen[l] = vid
			}
		}
		vs, err := s.ListSecretVersionIds(ctx, &sm.ListSecretVersionIdsInput{SecretId: &n, IncludeDeprecated: ptr(true)})
		if err != nil {
			t.Fatalf("%s: ListSecretVersionIds: %v", n, err)
		}
		if _, ok := seen["AWSCURRENT"]; ok != (len(vs.Versions) > 0) {
			t.Fatalf("%s: AWSCURRENT present=%v with %d versions", n, ok, len(vs.Versions))
		}
	}
}
