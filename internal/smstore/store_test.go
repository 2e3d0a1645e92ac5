package smstore

import (
	"regexp"
	"strings"
	"testing"
	"time"

	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/google/uuid"
)

var arnRE = regexp.MustCompile(`^arn:aws:secretsmanager:us-east-1:000000000000:secret:db/main-[A-Za-z0-9]{6}$`)

func TestSecretID(t *testing.T) {
	describe := func(id string) func(e *env) (any, error) {
		return func(e *env) (any, error) {
			out, err := e.s.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: &id})
			if err != nil {
				return nil, err
			}
			return *out.Name, nil
		}
	}
	name := func(e *env) any { return "db/main" }
	withSecret := func(e *env) { e.create("db/main", 1) }
	runCases(t, []opCase{
		{
			name: "ARN is arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-XXXXXX with 6 random [A-Za-z0-9]",
			do: func(e *env) (any, error) {
				out := e.create("db/main", 1)
				return arnRE.MatchString(*out.ARN), nil
			},
			want: func(e *env) any { return true },
		},
		{name: "SecretId accepts the name", setup: withSecret, do: describe("db/main"), want: name},
		{
			name: "SecretId accepts the full ARN", setup: withSecret,
			do: func(e *env) (any, error) { return describe(e.arn("db/main"))(e) }, want: name,
		},
		{
			name: "SecretId accepts the partial ARN without the random suffix", setup: withSecret,
			do: describe("arn:aws:secretsmanager:us-east-1:000000000000:secret:db/main"), want: name,
		},
		{
			name: "SecretId with an unknown name is ResourceNotFoundException", setup: withSecret,
			do: describe("db/other"), wantErr: errNotFound, wantMsg: "Secrets Manager can't find the specified secret.",
		},
		{
			name: "SecretId with a wrong suffix in a full ARN is ResourceNotFoundException", setup: withSecret,
			do: describe("arn:aws:secretsmanager:us-east-1:000000000000:secret:db/main-zzzzzz"), wantErr: errNotFound,
		},
		{
			name: "SecretId with another account's ARN is ResourceNotFoundException", setup: withSecret,
			do: describe("arn:aws:secretsmanager:us-east-1:111111111111:secret:db/main"), wantErr: errNotFound,
		},
		{
			name: "SecretId with another region's ARN is ResourceNotFoundException", setup: withSecret,
			do: describe("arn:aws:secretsmanager:eu-west-1:000000000000:secret:db/main"), wantErr: errNotFound,
		},
		{
			name: "SecretId full ARN of a deleted secret does not find a new secret of the same name",
			do: func(e *env) (any, error) {
				old := e.create("db/main", 1)
				_, err := e.s.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: old.ARN, ForceDeleteWithoutRecovery: ptr(true)})
				e.must(err)
				if now := e.create("db/main", 2); *now.ARN == *old.ARN {
					e.t.Fatalf("recreated secret got the same ARN %s", *now.ARN)
				}
				return describe(*old.ARN)(e)
			},
			wantErr: errNotFound,
		},
		{name: "SecretId empty is InvalidParameterException", do: describe(""), wantErr: errInvalidParam},
		{name: "SecretId longer than 2048 characters is InvalidParameterException", do: describe(strings.Repeat("a", 2049)), wantErr: errInvalidParam},
	})
}

func TestARNSuffixComesFromRand(t *testing.T) {
	mk := func(seed byte) string {
		s := New(Options{Rand: seeded(seed)})
		out, err := s.CreateSecret(ctx, &sm.CreateSecretInput{Name: ptr("db/main")})
		if err != nil {
			t.Fatal(err)
		}
		return *out.ARN
	}
	if a, b := mk(7), mk(7); a != b {
		t.Errorf("same Rand gave different ARNs %s and %s", a, b)
	}
	if a, b := mk(7), mk(8); a == b {
		t.Errorf("different Rand gave the same ARN %s", a)
	}
	s := New(Options{Region: "eu-central-1", Account: "123456789012", Rand: seeded(1)})
	out, err := s.CreateSecret(ctx, &sm.CreateSecretInput{Name: ptr("x")})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^arn:aws:secretsmanager:eu-central-1:123456789012:secret:x-[A-Za-z0-9]{6}$`).MatchString(*out.ARN) {
		t.Errorf("ARN %s does not use Options.Region and Options.Account", *out.ARN)
	}
}

func TestValidation(t *testing.T) {
	create := func(in *sm.CreateSecretInput) func(e *env) (any, error) {
		return func(e *env) (any, error) {
			out, err := e.s.CreateSecret(ctx, in)
			if err != nil {
				return nil, err
			}
			return *out.Name, nil
		}
	}
	named := func(n string) *sm.CreateSecretInput { return &sm.CreateSecretInput{Name: ptr(n)} }
	long := strings.Repeat("a", 512)
	allChars := "AZaz09/_+=.@-"
	put := func(in *sm.PutSecretValueInput) func(e *env) (any, error) {
		return func(e *env) (any, error) {
			in.SecretId = ptr("s")
			out, err := e.s.PutSecretValue(ctx, in)
			if err != nil {
				return nil, err
			}
			return out.VersionStages, nil
		}
	}
	withS := func(e *env) { e.create("s", 1) }
	runCases(t, []opCase{
		{name: "Name of 512 characters is accepted", do: create(named(long)), want: func(*env) any { return long }},
		{name: "Name may use letters, digits and /_+=.@-", do: create(named(allChars)), want: func(*env) any { return allChars }},
		{name: "Name of 513 characters is InvalidParameterException", do: create(named(long + "a")), wantErr: errInvalidParam},
		{name: "Name empty is InvalidParameterException", do: create(named("")), wantErr: errInvalidParam},
		{name: "Name missing is InvalidParameterException", do: create(&sm.CreateSecretInput{}), wantErr: errInvalidParam},
		{name: "Name with a space is InvalidParameterException", do: create(named("a b")), wantErr: errInvalidParam},
		{name: "Name with a colon is InvalidParameterException", do: create(named("a:b")), wantErr: errInvalidParam},
		{name: "Name with a non-ASCII letter is InvalidParameterException", do: create(named("pässword")), wantErr: errInvalidParam},
		{
			name:    "ClientRequestToken of 31 characters is InvalidParameterException",
			do:      create(&sm.CreateSecretInput{Name: ptr("s"), SecretString: ptr(val(1)), ClientRequestToken: ptr(strings.Repeat("t", 31))}),
			wantErr: errInvalidParam, wantMsg: "ClientRequestToken",
		},
		{
			name:    "ClientRequestToken of 65 characters is InvalidParameterException",
			do:      create(&sm.CreateSecretInput{Name: ptr("s"), SecretString: ptr(val(1)), ClientRequestToken: ptr(strings.Repeat("t", 65))}),
			wantErr: errInvalidParam, wantMsg: "ClientRequestToken",
		},
		{
			name: "ClientRequestToken of 32 characters is accepted",
			do:   create(&sm.CreateSecretInput{Name: ptr("s"), SecretString: ptr(val(1)), ClientRequestToken: ptr(strings.Repeat("t", 32))}),
			want: func(*env) any { return "s" },
		},
		{
			name: "ClientRequestToken of 64 characters is accepted", setup: withS,
			do:   put(&sm.PutSecretValueInput{SecretString: ptr(val(2)), ClientRequestToken: ptr(strings.Repeat("t", 64))}),
			want: func(*env) any { return []string{"AWSCURRENT"} },
		},
		{
			name: "PutSecretValue ClientRequestToken of 31 characters is InvalidParameterException", setup: withS,
			do:      put(&sm.PutSecretValueInput{SecretString: ptr(val(2)), ClientRequestToken: ptr(strings.Repeat("t", 31))}),
			wantErr: errInvalidParam,
		},
		{
			name:    "CreateSecret with both SecretString and SecretBinary is InvalidParameterException",
			do:      create(&sm.CreateSecretInput{Name: ptr("s"), SecretString: ptr(val(1)), SecretBinary: []byte(val(2))}),
			wantErr: errInvalidParam, wantMsg: "both",
			after: func(e *env) {
				if _, err := e.s.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: ptr("s")}); err == nil {
					e.t.Error("the refused secret was created")
				}
			},
		},
		{
			name: "PutSecretValue with both SecretString and SecretBinary is InvalidParameterException", setup: withS,
			do:      put(&sm.PutSecretValueInput{SecretString: ptr(val(2)), SecretBinary: []byte(val(3))}),
			wantErr: errInvalidParam, wantMsg: "both",
		},
		{
			name: "SecretString of 65536 bytes is accepted",
			do:   create(&sm.CreateSecretInput{Name: ptr("s"), SecretString: ptr(strings.Repeat("x", 65536))}),
			want: func(*env) any { return "s" },
		},
		{
			name:    "SecretString of 65537 bytes is InvalidParameterException",
			do:      create(&sm.CreateSecretInput{Name: ptr("s"), SecretString: ptr(strings.Repeat("x", 65537))}),
			wantErr: errInvalidParam,
		},
		{
			name: "SecretBinary of 65536 bytes is accepted", setup: withS,
			do:   put(&sm.PutSecretValueInput{SecretBinary: make([]byte, 65536)}),
			want: func(*env) any { return []string{"AWSCURRENT"} },
		},
		{
			name: "SecretBinary of 65537 bytes is InvalidParameterException", setup: withS,
			do:      put(&sm.PutSecretValueInput{SecretBinary: make([]byte, 65537)}),
			wantErr: errInvalidParam,
		},
		{
			name:    "Description over 2048 characters is InvalidParameterException",
			do:      create(&sm.CreateSecretInput{Name: ptr("s"), Description: ptr(strings.Repeat("d", 2049))}),
			wantErr: errInvalidParam,
		},
		{
			name: "nil input is InvalidParameterException, not a panic",
			do: func(e *env) (any, error) {
				_, err := e.s.GetSecretValue(ctx, nil)
				return nil, err
			},
			wantErr: errInvalidParam,
		},
	})
}

func TestCreateSecret(t *testing.T) {
	runCases(t, []opCase{
		{
			name: "CreateSecret with a value creates the first version labelled AWSCURRENT with ClientRequestToken as VersionId",
			do:   func(e *env) (any, error) { return e.create("db/main", 1), nil },
			want: func(e *env) any {
				return &sm.CreateSecretOutput{ARN: ptr(e.arn("db/main")), Name: ptr("db/main"), VersionId: ptr(tok(1))}
			},
			after: func(e *env) { diff(e.t, "stages", map[string][]string{"v1": {"AWSCURRENT"}}, e.stages("db/main")) },
		},
		{
			name: "CreateSecret with a value and no token generates a UUIDv4 version id",
			do: func(e *env) (any, error) {
				out, err := e.s.CreateSecret(ctx, &sm.CreateSecretInput{Name: ptr("s"), SecretBinary: []byte("s3cr3t")})
				if err != nil {
					return nil, err
				}
				u, err := uuid.Parse(*out.VersionId)
				return err == nil && u.Version() == 4 && u.String() == *out.VersionId, nil
			},
			want: func(*env) any { return true },
		},
		{
			name: "CreateSecret without a value creates a secret with no versions",
			do:   func(e *env) (any, error) { return e.createEmpty("s"), nil },
			want: func(e *env) any { return &sm.CreateSecretOutput{ARN: ptr(e.arn("s")), Name: ptr("s")} },
			after: func(e *env) {
				if m := e.describe("s").VersionIdsToStages; m != nil {
					e.t.Errorf("VersionIdsToStages = %v, want none", m)
				}
				out, err := e.s.ListSecretVersionIds(ctx, &sm.ListSecretVersionIdsInput{SecretId: ptr("s"), IncludeDeprecated: ptr(true)})
				e.must(err)
				if len(out.Versions) != 0 {
					e.t.Errorf("versions = %v, want none", out.Versions)
				}
			},
		},
		{
			name: "CreateSecret without a value ignores ClientRequestToken",
			do: func(e *env) (any, error) {
				out, err := e.s.CreateSecret(ctx, &sm.CreateSecretInput{Name: ptr("s"), ClientRequestToken: ptr(tok(1))})
				if err != nil {
					return nil, err
				}
				return out.VersionId, nil
			},
			want: func(*env) any { return (*string)(nil) },
		},
		{
			name:  "CreateSecret on an existing name is ResourceExistsException",
			setup: func(e *env) { e.create("s", 1) },
			do: func(e *env) (any, error) {
				return e.s.CreateSecret(ctx, &sm.CreateSecretInput{Name: ptr("s"), SecretString: ptr(val(2))})
			},
			wantErr: errExists, wantMsg: "already exists",
		},
		{
			name:  "CreateSecret on an existing name with the same token but another value is ResourceExistsException",
			setup: func(e *env) { e.create("s", 1) },
			do: func(e *env) (any, error) {
				return e.s.CreateSecret(ctx, &sm.CreateSecretInput{Name: ptr("s"), SecretString: ptr(val(2)), ClientRequestToken: ptr(tok(1))})
			},
			wantErr: errExists,
		},
		{
			name:  "CreateSecret retried with the same token and value is ignored",
			setup: func(e *env) { e.create("s", 1) },
			do: func(e *env) (any, error) {
				e.clk.Advance(time.Minute)
				return e.s.CreateSecret(ctx, &sm.CreateSecretInput{Name: ptr("s"), SecretString: ptr(val(1)), ClientRequestToken: ptr(tok(1))})
			},
			want: func(e *env) any {
				return &sm.CreateSecretOutput{ARN: ptr(e.arn("s")), Name: ptr("s"), VersionId: ptr(tok(1))}
			},
			after: func(e *env) {
				d := e.describe("s")
				diff(e.t, "LastChangedDate", t0, *d.LastChangedDate)
			},
		},
		{
			name:  "CreateSecret on a name scheduled for deletion is InvalidRequestException",
			setup: func(e *env) { e.create("s", 1); e.delete("s", 7) },
			do: func(e *env) (any, error) {
				return e.s.CreateSecret(ctx, &sm.CreateSecretInput{Name: ptr("s"), SecretString: ptr(val(2))})
			},
			wantErr: errInvalidRequest, wantMsg: "scheduled for deletion",
		},
		{
			name: "CreateSecret stores Description, KmsKeyId, Tags, CreatedDate and LastChangedDate",
			do: func(e *env) (any, error) {
				_, err := e.s.CreateSecret(ctx, &sm.CreateSecretInput{
					Name: ptr("s"), Description: ptr("the db"), KmsKeyId: ptr("alias/rotor"),
					Tags:         []types.Tag{{Key: ptr("team"), Value: ptr("core")}, {Key: ptr("env"), Value: ptr("prod")}},
					SecretString: ptr(val(1)), ClientRequestToken: ptr(tok(1)),
				})
				if err != nil {
					return nil, err
				}
				return e.describe("s"), nil
			},
			want: func(e *env) any {
				return &sm.DescribeSecretOutput{
					ARN: ptr(e.arn("s")), Name: ptr("s"), Description: ptr("the db"), KmsKeyId: ptr("alias/rotor"),
					Tags:               []types.Tag{{Key: ptr("env"), Value: ptr("prod")}, {Key: ptr("team"), Value: ptr("core")}},
					CreatedDate:        ptr(t0),
					LastChangedDate:    ptr(t0),
					VersionIdsToStages: map[string][]string{tok(1): {"AWSCURRENT"}},
				}
			},
		},
		{
			name: "CreateSecret with 51 tags is LimitExceededException",
			do: func(e *env) (any, error) {
				var tags []types.Tag
				for i := range 51 {
					tags = append(tags, types.Tag{Key: ptr(strings.Repeat("k", i+1)), Value: ptr("v")})
				}
				return e.s.CreateSecret(ctx, &sm.CreateSecretInput{Name: ptr("s"), Tags: tags})
			},
			wantErr: errLimit,
		},
		{
			name: "CreateSecret with AddReplicaRegions is refused: replication is not modelled",
			do: func(e *env) (any, error) {
				return e.s.CreateSecret(ctx, &sm.CreateSecretInput{Name: ptr("s"), AddReplicaRegions: []types.ReplicaRegionType{{Region: ptr("eu-west-1")}}})
			},
			wantErr: errInvalidParam, wantMsg: "replication",
		},
	})
}

func TestGetSecretValue(t *testing.T) {
	// Three versions: v1 deprecated, v2 AWSPREVIOUS, v3 AWSCURRENT, v4 AWSPENDING.
	three := func(e *env) {
		e.create("s", 1)
		e.clk.Advance(time.Hour)
		e.put("s", 2)
		e.clk.Advance(time.Hour)
		e.put("s", 3)
		e.clk.Advance(time.Hour)
		e.put("s", 4, "AWSPENDING")
		e.clk.Advance(time.Hour)
	}
	get := func(vid, stage string) func(e *env) (any, error) {
		return func(e *env) (any, error) {
			in := &sm.GetSecretValueInput{SecretId: ptr("s")}
			if vid != "" {
				in.VersionId = &vid
			}
			if stage != "" {
				in.VersionStage = &stage
			}
			return e.get(in)
		}
	}
	value := func(n int, stages ...string) func(e *env) any {
		return func(e *env) any {
			return &sm.GetSecretValueOutput{
				ARN: ptr(e.arn("s")), Name: ptr("s"), VersionId: ptr(tok(n)), SecretString: ptr(val(n)),
				VersionStages: stages, CreatedDate: ptr(t0.Add(time.Duration(n-1) * time.Hour)),
			}
		}
	}
	runCases(t, []opCase{
		{name: "GetSecretValue defaults to AWSCURRENT", setup: three, do: get("", ""), want: value(3, "AWSCURRENT")},
		{name: "GetSecretValue by VersionStage AWSPREVIOUS", setup: three, do: get("", "AWSPREVIOUS"), want: value(2, "AWSPREVIOUS")},
		{name: "GetSecretValue by VersionStage AWSPENDING", setup: three, do: get("", "AWSPENDING"), want: value(4, "AWSPENDING")},
		{name: "GetSecretValue by VersionId", setup: three, do: get(tok(2), ""), want: value(2, "AWSPREVIOUS")},
		{name: "GetSecretValue with VersionId and the VersionStage of that version", setup: three, do: get(tok(3), "AWSCURRENT"), want: value(3, "AWSCURRENT")},
		{
			name: "GetSecretValue with VersionId and VersionStage of different versions is InvalidRequestException", setup: three,
			do: get(tok(2), "AWSCURRENT"), wantErr: errInvalidRequest, wantMsg: "VersionStage that is not associated to the provided VersionId",
		},
		{name: "GetSecretValue reads a deprecated version by VersionId", setup: three, do: get(tok(1), ""), want: value(1)},
		{
			name: "GetSecretValue with an unknown VersionId is ResourceNotFoundException", setup: three,
			do: get(tok(9), ""), wantErr: errNotFound, wantMsg: "VersionId: " + tok(9),
		},
		{
			name: "GetSecretValue with an unknown VersionStage is ResourceNotFoundException", setup: three,
			do: get("", "NOPE"), wantErr: errNotFound, wantMsg: "staging label: NOPE",
		},
		{
			name:  "GetSecretValue on a secret without a value is ResourceNotFoundException",
			setup: func(e *env) { e.createEmpty("s") },
			do:    get("", ""), wantErr: errNotFound, wantMsg: "staging label: AWSCURRENT",
		},
		{
			name:  "GetSecretValue on a secret scheduled for deletion is InvalidRequestException",
			setup: func(e *env) { e.create("s", 1); e.delete("s", 0) },
			do:    get("", ""), wantErr: errInvalidRequest, wantMsg: "marked for deletion",
		},
		{name: "GetSecretValue on an unknown secret is ResourceNotFoundException", do: get("", ""), wantErr: errNotFound},
		{
			name: "GetSecretValue returns SecretBinary",
			setup: func(e *env) {
				_, err := e.s.CreateSecret(ctx, &sm.CreateSecretInput{Name: ptr("s"), SecretBinary: []byte{0, 1, 2, 255}, ClientRequestToken: ptr(tok(1))})
				e.must(err)
			},
			do: get("", ""),
			want: func(e *env) any {
				return &sm.GetSecretValueOutput{
					ARN: ptr(e.arn("s")), Name: ptr("s"), VersionId: ptr(tok(1)), SecretBinary: []byte{0, 1, 2, 255},
					VersionStages: []string{"AWSCURRENT"}, CreatedDate: ptr(t0),
				}
			},
		},
		{
			name: "GetSecretValue sets LastAccessedDate of the secret and the version, truncated to the day",
			setup: func(e *env) {
				three(e)
				e.clk.Advance(24 * time.Hour)
			},
			do: func(e *env) (any, error) {
				if _, err := get(tok(2), "")(e); err != nil {
					return nil, err
				}
				vs, err := e.s.ListSecretVersionIds(ctx, &sm.ListSecretVersionIdsInput{SecretId: ptr("s")})
				if err != nil {
					return nil, err
				}
				got := map[string]*time.Time{"secret": e.describe("s").LastAccessedDate}
				for _, v := range vs.Versions {
					got[shortID(*v.VersionId)] = v.LastAccessedDate
				}
				return got, nil
			},
			want: func(e *env) any {
				d := time.Date(2024, 3, 11, 0, 0, 0, 0, time.UTC)
				return map[string]*time.Time{"secret": &d, "v2": &d, "v3": nil, "v4": nil}
			},
		},
		{
			name:  "GetSecretValue does not change LastChangedDate",
			setup: func(e *env) { e.create("s", 1); e.clk.Advance(time.Hour) },
			do: func(e *env) (any, error) {
				if _, err := get("", "")(e); err != nil {
					return nil, err
				}
				return e.describe("s").LastChangedDate, nil
			},
			want: func(*env) any { return ptr(t0) },
		},
	})
}

func TestDescribeSecret(t *testing.T) {
	runCases(t, []opCase{
		{
			name: "DescribeSecret VersionIdsToStages lists only versions with a label",
			setup: func(e *env) {
				e.create("s", 1)
				e.put("s", 2)
				e.put("s", 3)
			},
			do:   func(e *env) (any, error) { return e.stages("s"), nil },
			want: func(*env) any { return map[string][]string{"v2": {"AWSPREVIOUS"}, "v3": {"AWSCURRENT"}} },
		},
		{
			name:  "DescribeSecret works on a secret scheduled for deletion and shows DeletedDate",
			setup: func(e *env) { e.create("s", 1); e.clk.Advance(time.Hour); e.delete("s", 10) },
			do:    func(e *env) (any, error) { return e.describe("s"), nil },
			want: func(e *env) any {
				return &sm.DescribeSecretOutput{
					ARN: ptr(e.arn("s")), Name: ptr("s"), CreatedDate: ptr(t0),
					LastChangedDate:    ptr(t0.Add(time.Hour)),
					DeletedDate:        ptr(t0.Add(time.Hour + 10*24*time.Hour)),
					VersionIdsToStages: map[string][]string{tok(1): {"AWSCURRENT"}},
				}
			},
		},
		{
			name:  "DescribeSecret omits Description, KmsKeyId, Tags and LastAccessedDate when unset",
			setup: func(e *env) { e.createEmpty("s") },
			do:    func(e *env) (any, error) { return e.describe("s"), nil },
			want: func(e *env) any {
				return &sm.DescribeSecretOutput{ARN: ptr(e.arn("s")), Name: ptr("s"), CreatedDate: ptr(t0), LastChangedDate: ptr(t0)}
			},
		},
		{
			name: "DescribeSecret reports dates from Options.Now in UTC at millisecond precision",
			setup: func(e *env) {
				e.clk.t = time.Date(2024, 3, 10, 14, 0, 0, 123_456_789, time.FixedZone("X", 2*3600))
				e.createEmpty("s")
			},
			do: func(e *env) (any, error) { return e.describe("s").CreatedDate.String(), nil },
			want: func(*env) any {
				return time.Date(2024, 3, 10, 12, 0, 0, 123_000_000, time.UTC).String()
			},
		},
	})
}

func TestPutSecretValue(t *testing.T) {
	stagesAfter := func(want map[string][]string) func(e *env) {
		return func(e *env) { diff(e.t, "stages", want, e.stages("s")) }
	}
	putOut := func(n int, stages ...string) func(e *env) any {
		return func(e *env) any {
			return &sm.PutSecretValueOutput{ARN: ptr(e.arn("s")), Name: ptr("s"), VersionId: ptr(tok(n)), VersionStages: stages}
		}
	}
	do := func(n int, stages ...string) func(e *env) (any, error) {
		return func(e *env) (any, error) { return e.putErr("s", n, stages...) }
	}
	one := func(e *env) { e.create("s", 1) }
	two := func(e *env) { e.create("s", 1); e.put("s", 2) }
	runCases(t, []opCase{
		{
			name:  "PutSecretValue without VersionStages moves AWSCURRENT to the new version and AWSPREVIOUS to the old one",
			setup: one, do: do(2), want: putOut(2, "AWSCURRENT"),
			after: stagesAfter(map[string][]string{"v1": {"AWSPREVIOUS"}, "v2": {"AWSCURRENT"}}),
		},
		{
			name:  "PutSecretValue without VersionStages takes AWSPREVIOUS from the version that had it",
			setup: two, do: do(3), want: putOut(3, "AWSCURRENT"),
			after: stagesAfter(map[string][]string{"v2": {"AWSPREVIOUS"}, "v3": {"AWSCURRENT"}}),
		},
		{
			name:  "PutSecretValue with VersionStages attaches exactly those labels and leaves AWSCURRENT alone",
			setup: two, do: do(3, "AWSPENDING"), want: putOut(3, "AWSPENDING"),
			after: stagesAfter(map[string][]string{"v1": {"AWSPREVIOUS"}, "v2": {"AWSCURRENT"}, "v3": {"AWSPENDING"}}),
		},
		{
			name:  "PutSecretValue with VersionStages removes those labels from other versions",
			setup: func(e *env) { two(e); e.put("s", 3, "AWSPENDING", "mine") },
			do:    do(4, "AWSPENDING"), want: putOut(4, "AWSPENDING"),
			after: stagesAfter(map[string][]string{"v1": {"AWSPREVIOUS"}, "v2": {"AWSCURRENT"}, "v3": {"mine"}, "v4": {"AWSPENDING"}}),
		},
		{
			name:  "PutSecretValue with VersionStages including AWSCURRENT also moves AWSPREVIOUS",
			setup: two, do: do(3, "AWSCURRENT", "blue"), want: putOut(3, "AWSCURRENT", "blue"),
			after: stagesAfter(map[string][]string{"v2": {"AWSPREVIOUS"}, "v3": {"AWSCURRENT", "blue"}}),
		},
		{
			name:  "PutSecretValue with VersionStages naming AWSPREVIOUS keeps it on the new version",
			setup: two, do: do(3, "AWSPREVIOUS"), want: putOut(3, "AWSPREVIOUS"),
			after: stagesAfter(map[string][]string{"v2": {"AWSCURRENT"}, "v3": {"AWSPREVIOUS"}}),
		},
		{
			name:  "PutSecretValue merges duplicate VersionStages",
			setup: one, do: do(2, "B", "A", "B"), want: putOut(2, "A", "B"),
		},
		{
			name:  "PutSecretValue same token same value is ignored",
			setup: func(e *env) { two(e); e.put("s", 3, "AWSPENDING"); e.clk.Advance(time.Hour) },
			do:    do(3, "AWSCURRENT"), want: putOut(3, "AWSPENDING"),
			after: func(e *env) {
				stagesAfter(map[string][]string{"v1": {"AWSPREVIOUS"}, "v2": {"AWSCURRENT"}, "v3": {"AWSPENDING"}})(e)
				diff(e.t, "LastChangedDate", t0, *e.describe("s").LastChangedDate)
			},
		},
		{
			name:  "PutSecretValue same token same value returns the version's current labels after they moved",
			setup: func(e *env) { two(e); e.put("s", 3) },
			do:    do(2), want: putOut(2, "AWSPREVIOUS"),
		},
		{
			name:  "PutSecretValue same token different value is ResourceExistsException",
			setup: two,
			do: func(e *env) (any, error) {
				return e.s.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: ptr("s"), ClientRequestToken: ptr(tok(2)), SecretString: ptr(val(99))})
			},
			wantErr: errExists, wantMsg: "can't modify an existing version",
			after: stagesAfter(map[string][]string{"v1": {"AWSPREVIOUS"}, "v2": {"AWSCURRENT"}}),
		},
		{
			name:  "PutSecretValue same token with the value as binary instead of string is ResourceExistsException",
			setup: two,
			do: func(e *env) (any, error) {
				return e.s.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: ptr("s"), ClientRequestToken: ptr(tok(2)), SecretBinary: []byte(val(2))})
			},
			wantErr: errExists,
		},
		{
			name:  "PutSecretValue without SecretString or SecretBinary is InvalidParameterException",
			setup: one,
			do: func(e *env) (any, error) {
				return e.s.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: ptr("s"), ClientRequestToken: ptr(tok(2))})
			},
			wantErr: errInvalidParam,
		},
		{
			name:  "PutSecretValue accepts an empty SecretString as a value",
			setup: one,
			do: func(e *env) (any, error) {
				return e.s.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: ptr("s"), ClientRequestToken: ptr(tok(2)), SecretString: ptr("")})
			},
			want: putOut(2, "AWSCURRENT"),
		},
		{
			name: "PutSecretValue with 20 labels is accepted", setup: one,
			do: do(2, labels(20)...), want: putOut(2, labels(20)...),
		},
		{
			name: "PutSecretValue with 21 labels is LimitExceededException", setup: one,
			do: do(2, labels(21)...), wantErr: errLimit,
			after: stagesAfter(map[string][]string{"v1": {"AWSCURRENT"}}),
		},
		{
			name: "PutSecretValue with an empty VersionStages list is InvalidParameterException", setup: one,
			do: func(e *env) (any, error) {
				return e.s.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: ptr("s"), SecretString: ptr(val(2)), VersionStages: []string{}})
			},
			wantErr: errInvalidParam,
		},
		{
			name: "PutSecretValue with an empty label is InvalidParameterException", setup: one,
			do: do(2, "AWSPENDING", ""), wantErr: errInvalidParam,
		},
		{
			name:  "PutSecretValue creating the first version always attaches AWSCURRENT",
			setup: func(e *env) { e.createEmpty("s") },
			do:    do(1, "AWSPENDING"), want: putOut(1, "AWSCURRENT", "AWSPENDING"),
		},
		{
			name:  "PutSecretValue creating the first version without VersionStages attaches AWSCURRENT only",
			setup: func(e *env) { e.createEmpty("s") },
			do:    do(1), want: putOut(1, "AWSCURRENT"),
		},
		{
			name: "PutSecretValue without a token generates a UUIDv4 version id", setup: one,
			do: func(e *env) (any, error) {
				out, err := e.s.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: ptr("s"), SecretString: ptr(val(2))})
				if err != nil {
					return nil, err
				}
				u, err := uuid.Parse(*out.VersionId)
				return err == nil && u.Version() == 4, nil
			},
			want: func(*env) any { return true },
		},
		{
			name:  "PutSecretValue on a secret scheduled for deletion is InvalidRequestException",
			setup: func(e *env) { one(e); e.delete("s", 0) },
			do:    do(2), wantErr: errInvalidRequest, wantMsg: "marked for deletion",
		},
		{name: "PutSecretValue on an unknown secret is ResourceNotFoundException", do: do(1), wantErr: errNotFound},
		{
			name:  "PutSecretValue updates LastChangedDate",
			setup: func(e *env) { one(e); e.clk.Advance(time.Hour) },
			do: func(e *env) (any, error) {
				e.put("s", 2)
				d := e.describe("s")
				return []time.Time{*d.CreatedDate, *d.LastChangedDate}, nil
			},
			want: func(*env) any { return []time.Time{t0, t0.Add(time.Hour)} },
		},
		{
			name:  "PutSecretValue keeps at most 100 versions by deleting the oldest deprecated ones",
			setup: one,
			do: func(e *env) (any, error) {
				for n := 2; n <= 105; n++ {
					e.put("s", n)
				}
				return e.versionIDs("s", true), nil
			},
			want: func(*env) any {
				var ids []string
				for n := 105; n >= 6; n-- {
					ids = append(ids, tok(n))
				}
				return ids
			},
		},
		{
			name:  "PutSecretValue never deletes a labelled version to stay under 100",
			setup: one,
			do: func(e *env) (any, error) {
				e.put("s", 2, "keep-2")
				for n := 3; n <= 102; n++ {
					e.put("s", n)
				}
				ids := e.versionIDs("s", true)
				return []any{len(ids), slicesContains(ids, tok(2)), slicesContains(ids, tok(1))}, nil
			},
			want: func(*env) any { return []any{100, true, false} },
		},
		{
			name:  "PutSecretValue lets labelled versions exceed 100 when none is deprecated",
			setup: one,
			do: func(e *env) (any, error) {
				for n := 2; n <= 101; n++ {
					e.put("s", n, "L"+tok(n))
				}
				return len(e.versionIDs("s", true)), nil
			},
			want: func(*env) any { return 101 },
		},
	})
}

func labels(n int) []string {
	var out []string
	for i := range n {
		out = append(out, "L"+strings.Repeat("x", i))
	}
	return out
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// versionIDs lists the version ids of a secret, newest first.
func (e *env) versionIDs(name string, deprecated bool) []string {
	e.t.Helper()
	var ids []string
	p := sm.NewListSecretVersionIdsPaginator(e.s, &sm.ListSecretVersionIdsInput{SecretId: &name, IncludeDeprecated: &deprecated})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		e.must(err)
		for _, v := range out.Versions {
			ids = append(ids, *v.VersionId)
		}
	}
	return ids
}
