package smtest

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/google/uuid"
)

var arnRE = regexp.MustCompile(`^(arn:aws:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+)-[A-Za-z0-9]{6}$`)

// maskARN replaces the random suffix of a well-formed secret ARN with
// XXXXXX; anything else is returned unchanged (and shows in the diff).
func maskARN(arn string) string { return arnRE.ReplaceAllString(arn, "$1-XXXXXX") }

func secretIDCases() []testCase {
	describe := func(id string) func(e *env) (any, error) {
		return func(e *env) (any, error) {
			out, err := e.api.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: &id})
			if err != nil {
				return nil, err
			}
			return *out.Name, nil
		}
	}
	name := want("db/main")
	withSecret := func(e *env) { e.create("db/main", 1) }
	return []testCase{
		{
			name: "ARN is arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-XXXXXX with 6 random [A-Za-z0-9], the same in every output",
			do: func(e *env) (any, error) {
				out, err := e.api.CreateSecret(ctx, &sm.CreateSecretInput{Name: ptr("app/db-password"), SecretString: ptr(val(1))})
				if err != nil {
					return nil, err
				}
				return []string{maskARN(*out.ARN), *out.Name}, nil
			},
			want: want([]string{arnPrefix + "app/db-password-XXXXXX", "app/db-password"}),
			after: func(e *env) {
				arn := e.arn("app/db-password")
				g, err := e.get(&sm.GetSecretValueInput{SecretId: ptr("app/db-password")})
				e.must(err)
				l, err := e.api.ListSecrets(ctx, &sm.ListSecretsInput{})
				e.must(err)
				diff(e.t, "ARNs of GetSecretValue and ListSecrets", []string{arn, arn}, []string{*g.ARN, *l.SecretList[0].ARN})
			},
		},
		{name: "SecretId accepts the name", setup: withSecret, do: describe("db/main"), want: name},
		{
			name: "SecretId accepts the full ARN", setup: withSecret,
			do: func(e *env) (any, error) { return describe(e.arn("db/main"))(e) }, want: name,
		},
		{
			name: "SecretId accepts the partial ARN without the random suffix", setup: withSecret,
			do: describe(arnPrefix + "db/main"), want: name,
		},
		{
			name: "SecretId with an unknown name is ResourceNotFoundException", setup: withSecret,
			do: describe("db/other"), wantErr: errNotFound, wantMsg: "Secrets Manager can't find the specified secret.",
		},
		{
			name: "SecretId with a wrong suffix in a full ARN is ResourceNotFoundException", setup: withSecret,
			do: func(e *env) (any, error) {
				arn := e.arn("db/main")
				other := "zzzzzz"
				if strings.HasSuffix(arn, other) {
					other = "yyyyyy"
				}
				return describe(arn[:len(arn)-6] + other)(e)
			},
			wantErr: errNotFound,
		},
		{
			name: "SecretId with another account's ARN is ResourceNotFoundException", setup: withSecret,
			do: describe("arn:aws:secretsmanager:" + Region + ":111111111111:secret:db/main"), wantErr: errNotFound,
		},
		{
			name: "SecretId with another region's ARN is ResourceNotFoundException", setup: withSecret,
			do: describe("arn:aws:secretsmanager:eu-west-1:" + Account + ":secret:db/main"), wantErr: errNotFound,
		},
		{
			name: "SecretId full ARN of a deleted secret does not find a new secret of the same name",
			do: func(e *env) (any, error) {
				old := e.create("db/main", 1)
				_, err := e.api.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: old.ARN, ForceDeleteWithoutRecovery: ptr(true)})
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
	}
}

func validationCases() []testCase {
	create := func(in *sm.CreateSecretInput) func(e *env) (any, error) {
		return func(e *env) (any, error) {
			out, err := e.api.CreateSecret(ctx, in)
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
			out, err := e.api.PutSecretValue(ctx, in)
			if err != nil {
				return nil, err
			}
			return out.VersionStages, nil
		}
	}
	withS := func(e *env) { e.create("s", 1) }
	notCreated := func(e *env) {
		if _, err := e.api.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: ptr("s")}); err == nil {
			e.t.Error("the refused secret was created")
		}
	}
	return []testCase{
		{name: "Name of 512 characters is accepted", do: create(named(long)), want: want(long)},
		{name: "Name may use letters, digits and /_+=.@-", do: create(named(allChars)), want: want(allChars)},
		{name: "Name of 513 characters is InvalidParameterException", do: create(named(long + "a")), wantErr: errInvalidParam},
		{name: "Name empty is InvalidParameterException", do: create(named("")), wantErr: errInvalidParam},
		{name: "Name with a space is InvalidParameterException", do: create(named("a b")), wantErr: errInvalidParam},
		{name: "Name with a colon is InvalidParameterException", do: create(named("a:b")), wantErr: errInvalidParam},
		{name: "Name with a non-ASCII letter is InvalidParameterException", do: create(named("pässword")), wantErr: errInvalidParam},
		{
			name:    "ClientRequestToken of 31 characters is InvalidParameterException",
			do:      create(&sm.CreateSecretInput{Name: ptr("s"), SecretString: ptr(val(1)), ClientRequestToken: ptr(strings.Repeat("t", 31))}),
			wantErr: errInvalidParam, wantMsg: "ClientRequestToken", after: notCreated,
		},
		{
			name:    "ClientRequestToken of 65 characters is InvalidParameterException",
			do:      create(&sm.CreateSecretInput{Name: ptr("s"), SecretString: ptr(val(1)), ClientRequestToken: ptr(strings.Repeat("t", 65))}),
			wantErr: errInvalidParam, wantMsg: "ClientRequestToken",
		},
		{
			name: "ClientRequestToken of 32 characters is accepted",
			do:   create(&sm.CreateSecretInput{Name: ptr("s"), SecretString: ptr(val(1)), ClientRequestToken: ptr(strings.Repeat("t", 32))}),
			want: want("s"),
		},
		{
			name: "ClientRequestToken of 64 characters is accepted", setup: withS,
			do:   put(&sm.PutSecretValueInput{SecretString: ptr(val(2)), ClientRequestToken: ptr(strings.Repeat("t", 64))}),
			want: want([]string{"AWSCURRENT"}),
		},
		{
			name: "PutSecretValue ClientRequestToken of 31 characters is InvalidParameterException", setup: withS,
			do:      put(&sm.PutSecretValueInput{SecretString: ptr(val(2)), ClientRequestToken: ptr(strings.Repeat("t", 31))}),
			wantErr: errInvalidParam,
			after:   stagesAre(map[string][]string{"v1": {"AWSCURRENT"}}),
		},
		{
			name:    "CreateSecret with both SecretString and SecretBinary is InvalidParameterException",
			do:      create(&sm.CreateSecretInput{Name: ptr("s"), SecretString: ptr(val(1)), SecretBinary: []byte(val(2))}),
			wantErr: errInvalidParam, wantMsg: "both", after: notCreated,
		},
		{
			name: "PutSecretValue with both SecretString and SecretBinary is InvalidParameterException", setup: withS,
			do:      put(&sm.PutSecretValueInput{SecretString: ptr(val(2)), SecretBinary: []byte(val(3))}),
			wantErr: errInvalidParam, wantMsg: "both",
		},
		{
			name: "SecretString of 65536 bytes is accepted",
			do:   create(&sm.CreateSecretInput{Name: ptr("s"), SecretString: ptr(strings.Repeat("x", 65536))}),
			want: want("s"),
		},
		{
			name:    "SecretString of 65537 bytes is InvalidParameterException",
			do:      create(&sm.CreateSecretInput{Name: ptr("s"), SecretString: ptr(strings.Repeat("x", 65537))}),
			wantErr: errInvalidParam,
		},
		{
			name: "PutSecretValue SecretString of 65537 bytes is InvalidParameterException", setup: withS,
			do:      put(&sm.PutSecretValueInput{SecretString: ptr(strings.Repeat("x", 65537))}),
			wantErr: errInvalidParam,
		},
		{
			name: "SecretBinary of 65536 bytes is accepted", setup: withS,
			do:   put(&sm.PutSecretValueInput{SecretBinary: make([]byte, 65536)}),
			want: want([]string{"AWSCURRENT"}),
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
	}
}

func createCases() []testCase {
	createIn := func(in *sm.CreateSecretInput) func(e *env) (any, error) {
		return func(e *env) (any, error) { return errOnly(e.api.CreateSecret(ctx, in)) }
	}
	one := func(e *env) { e.create("s", 1) }
	created := func(vid *string) func(e *env) any {
		return func(e *env) any { return &sm.CreateSecretOutput{ARN: ptr(e.arn("s")), Name: ptr("s"), VersionId: vid} }
	}
	return []testCase{
		{
			name: "CreateSecret with a value creates the first version labelled AWSCURRENT with ClientRequestToken as VersionId",
			do:   createIn(&sm.CreateSecretInput{Name: ptr("s"), SecretString: ptr(val(1)), ClientRequestToken: ptr(tok(1))}),
			want: created(ptr(tok(1))), after: stagesAre(map[string][]string{"v1": {"AWSCURRENT"}}),
		},
		{
			// Through the SDK the client fills in the token; the store
			// generates the id itself. Either way it is a UUIDv4.
			name: "CreateSecret with a value and no ClientRequestToken gets a UUIDv4 version id, which GetSecretValue returns",
			do: func(e *env) (any, error) {
				out, err := e.api.CreateSecret(ctx, &sm.CreateSecretInput{Name: ptr("s"), SecretBinary: []byte("s3cr3t")})
				if err != nil {
					return nil, err
				}
				u, err := uuid.Parse(*out.VersionId)
				g, gerr := e.get(&sm.GetSecretValueInput{SecretId: ptr("s")})
				if gerr != nil {
					return nil, gerr
				}
				return []bool{err == nil && u.Version() == 4 && u.String() == *out.VersionId, *g.VersionId == *out.VersionId}, nil
			},
			want: want([]bool{true, true}),
		},
		{
			name: "CreateSecret without a value creates a secret with no versions",
			do:   createIn(&sm.CreateSecretInput{Name: ptr("s")}),
			want: created(nil),
			after: func(e *env) {
				if m := e.describe("s").VersionIdsToStages; len(m) != 0 {
					e.t.Errorf("VersionIdsToStages = %v, want none", m)
				}
				diff(e.t, "versions", []string(nil), e.versionIDs("s", true))
				_, err := e.get(&sm.GetSecretValueInput{SecretId: ptr("s")})
				checkErr(e.t, err, errNotFound, "")
			},
		},
		{
			name: "CreateSecret without a value ignores ClientRequestToken",
			do: func(e *env) (any, error) {
				out, err := e.api.CreateSecret(ctx, &sm.CreateSecretInput{Name: ptr("s"), ClientRequestToken: ptr(tok(1))})
				if err != nil {
					return nil, err
				}
				return out.VersionId, nil
			},
			want: want((*string)(nil)),
		},
		{
			name: "CreateSecret on an existing name is ResourceExistsException", setup: one,
			do:      createIn(&sm.CreateSecretInput{Name: ptr("s"), SecretString: ptr(val(2))}),
			wantErr: errExists, wantMsg: "already exists",
			after: stagesAre(map[string][]string{"v1": {"AWSCURRENT"}}),
		},
		{
			name: "CreateSecret on an existing name with the same token but another value is ResourceExistsException", setup: one,
			do:      createIn(&sm.CreateSecretInput{Name: ptr("s"), SecretString: ptr(val(2)), ClientRequestToken: ptr(tok(1))}),
			wantErr: errExists,
		},
		{
			name: "CreateSecret retried with the same token and value is ignored and returns the same version", setup: one,
			do: func(e *env) (any, error) {
				e.clk.Advance(time.Minute)
				return createIn(&sm.CreateSecretInput{Name: ptr("s"), SecretString: ptr(val(1)), ClientRequestToken: ptr(tok(1))})(e)
			},
			want: created(ptr(tok(1))),
			after: func(e *env) {
				diff(e.t, "LastChangedDate", T0, *e.describe("s").LastChangedDate)
				diff(e.t, "versions", [][]string{{"v1", "AWSCURRENT"}}, e.versions("s", true))
			},
		},
		{
			name: "CreateSecret on a name scheduled for deletion is InvalidRequestException", setup: func(e *env) { one(e); e.del("s", 7) },
			do:      createIn(&sm.CreateSecretInput{Name: ptr("s"), SecretString: ptr(val(2))}),
			wantErr: errInvalidRequest, wantMsg: "scheduled for deletion",
		},
		{
			name: "CreateSecret stores Description, KmsKeyId, Tags, CreatedDate and LastChangedDate",
			do: func(e *env) (any, error) {
				_, err := e.api.CreateSecret(ctx, &sm.CreateSecretInput{
					Name: ptr("s"), Description: ptr("the db"), KmsKeyId: ptr("alias/rotor"), Tags: tags("team", "core", "env", "prod"),
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
					Tags: tags("env", "prod", "team", "core"), CreatedDate: ptr(T0), LastChangedDate: ptr(T0),
					VersionIdsToStages: map[string][]string{tok(1): {"AWSCURRENT"}},
				}
			},
		},
		{
			name: "CreateSecret with 51 tags is LimitExceededException",
			do: func(e *env) (any, error) {
				var ts []types.Tag
				for i := range 51 {
					ts = append(ts, types.Tag{Key: ptr(strings.Repeat("k", i+1)), Value: ptr("v")})
				}
				return createIn(&sm.CreateSecretInput{Name: ptr("s"), Tags: ts})(e)
			},
			wantErr: errLimit,
		},
		{
			name:    "CreateSecret with AddReplicaRegions is refused: replication is not modelled",
			do:      createIn(&sm.CreateSecretInput{Name: ptr("s"), AddReplicaRegions: []types.ReplicaRegionType{{Region: ptr("eu-west-1")}}}),
			wantErr: errInvalidParam, wantMsg: "replication",
		},
	}
}

func describeCases() []testCase {
	return []testCase{
		{
			name:  "DescribeSecret VersionIdsToStages lists only versions with a label",
			setup: func(e *env) { e.create("s", 1); e.put("s", 2); e.put("s", 3) },
			do:    func(e *env) (any, error) { return e.stages("s"), nil },
			want:  want(map[string][]string{"v2": {"AWSPREVIOUS"}, "v3": {"AWSCURRENT"}}),
		},
		{
			name:  "DescribeSecret works on a secret scheduled for deletion and shows DeletedDate",
			setup: func(e *env) { e.create("s", 1); e.clk.Advance(time.Hour); e.del("s", 10) },
			do:    func(e *env) (any, error) { return e.describe("s"), nil },
			want: func(e *env) any {
				return &sm.DescribeSecretOutput{
					ARN: ptr(e.arn("s")), Name: ptr("s"), CreatedDate: ptr(T0),
					LastChangedDate:    ptr(T0.Add(time.Hour)),
					DeletedDate:        ptr(T0.Add(time.Hour + 10*24*time.Hour)),
					VersionIdsToStages: map[string][]string{tok(1): {"AWSCURRENT"}},
				}
			},
		},
		{
			name:  "DescribeSecret omits Description, KmsKeyId, Tags and LastAccessedDate when unset",
			setup: func(e *env) { e.createEmpty("s") },
			do:    func(e *env) (any, error) { return e.describe("s"), nil },
			want: func(e *env) any {
				return &sm.DescribeSecretOutput{ARN: ptr(e.arn("s")), Name: ptr("s"), CreatedDate: ptr(T0), LastChangedDate: ptr(T0)}
			},
		},
		{
			name: "DescribeSecret reports dates from the clock in UTC at millisecond precision",
			setup: func(e *env) {
				e.clk.Set(time.Date(2024, 3, 10, 14, 0, 0, 123_456_789, time.FixedZone("X", 2*3600)))
				e.createEmpty("s")
			},
			do:   func(e *env) (any, error) { return e.describe("s").CreatedDate.String(), nil },
			want: want(time.Date(2024, 3, 10, 12, 0, 0, 123_000_000, time.UTC).String()),
		},
	}
}

func getCases() []testCase {
	// three: v1 deprecated, v2 AWSPREVIOUS, v3 AWSCURRENT, v4 AWSPENDING,
	// created an hour apart.
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
			return errOnly(e.get(in))
		}
	}
	value := func(n int, stages ...string) func(e *env) any {
		return func(e *env) any {
			return &sm.GetSecretValueOutput{
				ARN: ptr(e.arn("s")), Name: ptr("s"), VersionId: ptr(tok(n)), SecretString: ptr(val(n)),
				VersionStages: stages, CreatedDate: ptr(T0.Add(time.Duration(n-1) * time.Hour)),
			}
		}
	}
	bin := make([]byte, 512)
	for i := range bin {
		bin[i] = byte(i)
	}
	return []testCase{
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
			setup: func(e *env) { e.create("s", 1); e.del("s", 0) },
			do:    get("", ""), wantErr: errInvalidRequest, wantMsg: "marked for deletion",
		},
		{name: "GetSecretValue on an unknown secret is ResourceNotFoundException", do: get("", ""), wantErr: errNotFound},
		{
			name: "GetSecretValue accepts the full and the partial ARN as SecretId", setup: three,
			do: func(e *env) (any, error) {
				arn := e.arn("s")
				var ids []string
				for _, id := range []string{arn, arn[:len(arn)-7]} {
					g, err := e.get(&sm.GetSecretValueInput{SecretId: ptr(id)})
					if err != nil {
						return nil, fmt.Errorf("%s: %w", id, err)
					}
					ids = append(ids, shortID(*g.VersionId))
				}
				return ids, nil
			},
			want: want([]string{"v3", "v3"}),
		},
		{
			name: "GetSecretValue returns SecretBinary byte for byte, without SecretString",
			setup: func(e *env) {
				_, err := e.api.CreateSecret(ctx, &sm.CreateSecretInput{Name: ptr("s"), SecretBinary: bin, ClientRequestToken: ptr(tok(1))})
				e.must(err)
			},
			do: get("", ""),
			want: func(e *env) any {
				return &sm.GetSecretValueOutput{
					ARN: ptr(e.arn("s")), Name: ptr("s"), VersionId: ptr(tok(1)), SecretBinary: bin,
					VersionStages: []string{"AWSCURRENT"}, CreatedDate: ptr(T0),
				}
			},
		},
		{
			name:  "GetSecretValue sets LastAccessedDate of the secret and the version, truncated to the day",
			setup: func(e *env) { three(e); e.clk.Advance(24 * time.Hour) },
			do: func(e *env) (any, error) {
				if _, err := get(tok(2), "")(e); err != nil {
					return nil, err
				}
				got := map[string]*time.Time{"secret": e.describe("s").LastAccessedDate}
				for _, v := range e.versionEntries("s", false) {
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
			want: want(ptr(T0)),
		},
	}
}

func binaryCases() []testCase {
	return []testCase{
		{
			name:  "SecretBinary given to PutSecretValue comes back byte for byte, and the string version stays readable",
			setup: func(e *env) { e.create("b", 1) },
			do: func(e *env) (any, error) {
				bin := []byte{0, 0xff, '\n', 0x80, 's'}
				if _, err := e.api.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: ptr("b"), SecretBinary: bin, ClientRequestToken: ptr(tok(2))}); err != nil {
					return nil, err
				}
				cur, err := e.get(&sm.GetSecretValueInput{SecretId: ptr("b")})
				if err != nil {
					return nil, err
				}
				prev, err := e.get(&sm.GetSecretValueInput{SecretId: ptr("b"), VersionStage: ptr("AWSPREVIOUS")})
				if err != nil {
					return nil, err
				}
				return []any{cur.SecretBinary, cur.SecretString, prev.SecretBinary, *prev.SecretString}, nil
			},
			want: want([]any{[]byte{0, 0xff, '\n', 0x80, 's'}, (*string)(nil), []byte(nil), val(1)}),
		},
		{
			name: "SecretBinary retried with the same ClientRequestToken and the same bytes is accepted, other bytes are ResourceExistsException",
			setup: func(e *env) {
				_, err := e.api.CreateSecret(ctx, &sm.CreateSecretInput{Name: ptr("b"), SecretBinary: []byte{1, 2, 3}, ClientRequestToken: ptr(tok(1))})
				e.must(err)
			},
			do: func(e *env) (any, error) {
				if _, err := e.api.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: ptr("b"), SecretBinary: []byte{1, 2, 3}, ClientRequestToken: ptr(tok(1))}); err != nil {
					return nil, fmt.Errorf("the retry with the same bytes: %w", err)
				}
				return errOnly(e.api.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: ptr("b"), SecretBinary: []byte{1, 2, 4}, ClientRequestToken: ptr(tok(1))}))
			},
			wantErr: errExists,
		},
	}
}

// contextCases: a call whose context is already done returns the context's
// error and changes nothing.
func contextCases() []testCase {
	cancelled := func(call func(e *env, c context.Context) error) func(e *env) (any, error) {
		return func(e *env) (any, error) {
			c, cancel := context.WithCancel(ctx)
			cancel()
			if err := call(e, c); !errors.Is(err, context.Canceled) {
				return nil, fmt.Errorf("err = %v, want context.Canceled", err)
			}
			return nil, nil
		}
	}
	withS := func(e *env) { e.create("s", 1) }
	return []testCase{
		{
			name: "CreateSecret with a cancelled context returns the context's error and creates nothing",
			do: cancelled(func(e *env, c context.Context) error {
				_, err := e.api.CreateSecret(c, &sm.CreateSecretInput{Name: ptr("t")})
				return err
			}),
			after: func(e *env) {
				_, err := e.api.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: ptr("t")})
				checkErr(e.t, err, errNotFound, "")
			},
		},
		{
			name: "GetSecretValue with a cancelled context returns the context's error", setup: withS,
			do: cancelled(func(e *env, c context.Context) error {
				_, err := e.api.GetSecretValue(c, &sm.GetSecretValueInput{SecretId: ptr("s")})
				return err
			}),
			after: func(e *env) { diff(e.t, "LastAccessedDate", (*time.Time)(nil), e.describe("s").LastAccessedDate) },
		},
		{
			name: "ListSecrets with a cancelled context returns the context's error", setup: withS,
			do: cancelled(func(e *env, c context.Context) error {
				_, err := e.api.ListSecrets(c, &sm.ListSecretsInput{})
				return err
			}),
		},
	}
}
