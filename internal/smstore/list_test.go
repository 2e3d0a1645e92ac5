package smstore

import (
	"strings"
	"testing"
	"time"

	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

func TestListSecretVersionIds(t *testing.T) {
	// four: v1 deprecated, v2 AWSPREVIOUS, v3 AWSCURRENT, v4 AWSPENDING, an hour apart.
	four := func(e *env) {
		e.create("s", 1)
		for n := 2; n <= 4; n++ {
			e.clk.Advance(time.Hour)
			if n == 4 {
				e.put("s", n, "AWSPENDING")
			} else {
				e.put("s", n)
			}
		}
	}
	ids := func(deprecated bool) func(e *env) (any, error) {
		return func(e *env) (any, error) { return e.versionIDs("s", deprecated), nil }
	}
	list := func(in *sm.ListSecretVersionIdsInput) func(e *env) (any, error) {
		return func(e *env) (any, error) {
			if in.SecretId == nil {
				in.SecretId = ptr("s")
			}
			return e.s.ListSecretVersionIds(ctx, in)
		}
	}
	runCases(t, []opCase{
		{
			name: "ListSecretVersionIds lists versions with a label, newest first", setup: four,
			do: ids(false), want: func(*env) any { return []string{tok(4), tok(3), tok(2)} },
		},
		{
			name: "ListSecretVersionIds IncludeDeprecated adds versions without a label", setup: four,
			do: ids(true), want: func(*env) any { return []string{tok(4), tok(3), tok(2), tok(1)} },
		},
		{
			name: "ListSecretVersionIds orders versions created at the same instant newest first",
			setup: func(e *env) {
				e.create("s", 1)
				e.put("s", 2, "a")
				e.put("s", 3, "b")
			},
			do: ids(false), want: func(*env) any { return []string{tok(3), tok(2), tok(1)} },
		},
		{
			name: "ListSecretVersionIds entries have VersionId, VersionStages, CreatedDate and LastAccessedDate",
			setup: func(e *env) {
				four(e)
				_, err := e.get(&sm.GetSecretValueInput{SecretId: ptr("s"), VersionId: ptr(tok(1))})
				e.must(err)
			},
			do: list(&sm.ListSecretVersionIdsInput{IncludeDeprecated: ptr(true), MaxResults: ptr(int32(2))}),
			want: func(e *env) any {
				return &sm.ListSecretVersionIdsOutput{
					ARN: ptr(e.arn("s")), Name: ptr("s"),
					NextToken: encodeToken("ListSecretVersionIds", 2, queryHash(e.arn("s"), "true")),
					Versions: []types.SecretVersionsListEntry{
						{VersionId: ptr(tok(4)), VersionStages: []string{"AWSPENDING"}, CreatedDate: ptr(t0.Add(3 * time.Hour))},
						{VersionId: ptr(tok(3)), VersionStages: []string{"AWSCURRENT"}, CreatedDate: ptr(t0.Add(2 * time.Hour))},
					},
				}
			},
			after: func(e *env) {
				out, err := e.s.ListSecretVersionIds(ctx, &sm.ListSecretVersionIdsInput{SecretId: ptr("s"), IncludeDeprecated: ptr(true), MaxResults: ptr(int32(1)), NextToken: encodeToken("ListSecretVersionIds", 3, queryHash(e.arn("s"), "true"))})
				e.must(err)
				d := time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC)
				diff(e.t, "deprecated entry", []types.SecretVersionsListEntry{
					{VersionId: ptr(tok(1)), CreatedDate: ptr(t0), LastAccessedDate: &d},
				}, out.Versions)
				if out.NextToken != nil {
					e.t.Errorf("NextToken on the last page")
				}
			},
		},
		{
			name: "ListSecretVersionIds MaxResults pages with NextToken until the end", setup: four,
			do: func(e *env) (any, error) {
				var pages [][]string
				in := &sm.ListSecretVersionIdsInput{SecretId: ptr("s"), IncludeDeprecated: ptr(true), MaxResults: ptr(int32(3))}
				for {
					out, err := e.s.ListSecretVersionIds(ctx, in)
					if err != nil {
						return nil, err
					}
					var p []string
					for _, v := range out.Versions {
						p = append(p, shortID(*v.VersionId))
					}
					pages = append(pages, p)
					if out.NextToken == nil {
						return pages, nil
					}
					in.NextToken = out.NextToken
				}
			},
			want: func(*env) any { return [][]string{{"v4", "v3", "v2"}, {"v1"}} },
		},
		{
			name: "ListSecretVersionIds MaxResults 0 is InvalidParameterException", setup: four,
			do: list(&sm.ListSecretVersionIdsInput{MaxResults: ptr(int32(0))}), wantErr: errInvalidParam,
		},
		{
			name: "ListSecretVersionIds MaxResults 101 is InvalidParameterException", setup: four,
			do: list(&sm.ListSecretVersionIdsInput{MaxResults: ptr(int32(101))}), wantErr: errInvalidParam,
		},
		{
			name: "ListSecretVersionIds with a malformed NextToken is InvalidNextTokenException", setup: four,
			do: list(&sm.ListSecretVersionIdsInput{NextToken: ptr("not-a-token!")}), wantErr: errNextToken,
		},
		{
			name: "ListSecretVersionIds with an empty NextToken is InvalidNextTokenException", setup: four,
			do: list(&sm.ListSecretVersionIdsInput{NextToken: ptr("")}), wantErr: errNextToken,
		},
		{
			name:  "ListSecretVersionIds with another secret's NextToken is InvalidNextTokenException",
			setup: func(e *env) { four(e); e.create("t", 1) },
			do: func(e *env) (any, error) {
				out, err := e.s.ListSecretVersionIds(ctx, &sm.ListSecretVersionIdsInput{SecretId: ptr("s"), MaxResults: ptr(int32(1))})
				e.must(err)
				return list(&sm.ListSecretVersionIdsInput{SecretId: ptr("t"), NextToken: out.NextToken})(e)
			},
			wantErr: errNextToken,
		},
		{
			name: "ListSecretVersionIds with a NextToken from a call without IncludeDeprecated is InvalidNextTokenException", setup: four,
			do: func(e *env) (any, error) {
				out, err := e.s.ListSecretVersionIds(ctx, &sm.ListSecretVersionIdsInput{SecretId: ptr("s"), MaxResults: ptr(int32(1))})
				e.must(err)
				return list(&sm.ListSecretVersionIdsInput{IncludeDeprecated: ptr(true), NextToken: out.NextToken})(e)
			},
			wantErr: errNextToken,
		},
		{
			name: "ListSecretVersionIds with a ListSecrets NextToken is InvalidNextTokenException", setup: four,
			do: func(e *env) (any, error) {
				e.create("t", 1)
				out, err := e.s.ListSecrets(ctx, &sm.ListSecretsInput{MaxResults: ptr(int32(1))})
				e.must(err)
				return list(&sm.ListSecretVersionIdsInput{NextToken: out.NextToken})(e)
			},
			wantErr: errNextToken,
		},
		{
			name:  "ListSecretVersionIds works on a secret scheduled for deletion",
			setup: func(e *env) { four(e); e.delete("s", 0) },
			do:    ids(false), want: func(*env) any { return []string{tok(4), tok(3), tok(2)} },
		},
		{
			name: "ListSecretVersionIds on an unknown secret is ResourceNotFoundException",
			do:   list(&sm.ListSecretVersionIdsInput{}), wantErr: errNotFound,
		},
	})
}

// fixture for ListSecrets:
//
//	name          created  description         tags (first version tok(100+i))
//	prod/db/main  t0     "Primary Database"  env=prod team=core
//	prod/api-key  t0+1h  "payments API key"  env=prod Owner=Alice
//	Zeta          t0+2h  -                   -
//	dev/db/main   t0+2h  -                   env=dev
//	old/thing     t0+3h  scheduled for deletion
func listFixture(e *env) {
	n := 100
	mk := func(name, desc string, tags ...string) {
		in := &sm.CreateSecretInput{Name: ptr(name), SecretString: ptr(val(n)), ClientRequestToken: ptr(tok(n))}
		n++
		if desc != "" {
			in.Description = ptr(desc)
		}
		for i := 0; i < len(tags); i += 2 {
			in.Tags = append(in.Tags, types.Tag{Key: ptr(tags[i]), Value: ptr(tags[i+1])})
		}
		_, err := e.s.CreateSecret(ctx, in)
		e.must(err)
	}
	mk("prod/db/main", "Primary Database", "env", "prod", "team", "core")
	e.clk.Advance(time.Hour)
	mk("prod/api-key", "payments API key", "env", "prod", "Owner", "Alice")
	e.clk.Advance(time.Hour)
	mk("dev/db/main", "", "env", "dev")
	mk("Zeta", "")
	e.clk.Advance(time.Hour)
	mk("old/thing", "")
	e.delete("old/thing", 0)
	e.clk.Advance(time.Hour)
}

// listNames runs ListSecrets to the end and returns the names in order.
func listNames(in *sm.ListSecretsInput) func(e *env) (any, error) {
	return func(e *env) (any, error) {
		var names []string
		in := *in
		for {
			out, err := e.s.ListSecrets(ctx, &in)
			if err != nil {
				return nil, err
			}
			for _, s := range out.SecretList {
				names = append(names, *s.Name)
			}
			if out.NextToken == nil {
				return names, nil
			}
			in.NextToken = out.NextToken
		}
	}
}

func names(n ...string) func(*env) any { return func(*env) any { return n } }

func filters(kv ...any) *sm.ListSecretsInput {
	in := &sm.ListSecretsInput{}
	for i := 0; i < len(kv); i += 2 {
		in.Filters = append(in.Filters, types.Filter{Key: types.FilterNameStringType(kv[i].(string)), Values: kv[i+1].([]string)})
	}
	return in
}

func TestListSecrets(t *testing.T) {
	all4 := []string{"prod/db/main", "prod/api-key", "Zeta", "dev/db/main"}
	runCases(t, []opCase{
		{
			name:  "ListSecrets sorts by CreatedDate ascending by default, ties by name, and hides secrets scheduled for deletion",
			setup: listFixture, do: listNames(&sm.ListSecretsInput{}), want: names(all4...),
		},
		{
			name: "ListSecrets IncludePlannedDeletion lists secrets scheduled for deletion", setup: listFixture,
			do:   listNames(&sm.ListSecretsInput{IncludePlannedDeletion: ptr(true)}),
			want: names(append(all4, "old/thing")...),
		},
		{
			name: "ListSecrets SortOrder desc is the reverse of asc", setup: listFixture,
			do:   listNames(&sm.ListSecretsInput{SortOrder: types.SortOrderTypeDesc}),
			want: names("dev/db/main", "Zeta", "prod/api-key", "prod/db/main"),
		},
		{
			name: "ListSecrets SortBy name", setup: listFixture,
			do:   listNames(&sm.ListSecretsInput{SortBy: types.SortByTypeName}),
			want: names("Zeta", "dev/db/main", "prod/api-key", "prod/db/main"),
		},
		{
			name: "ListSecrets SortBy last-changed-date",
			setup: func(e *env) {
				listFixture(e)
				_, err := e.s.TagResource(ctx, &sm.TagResourceInput{SecretId: ptr("prod/db/main"), Tags: []types.Tag{{Key: ptr("x"), Value: ptr("y")}}})
				e.must(err)
			},
			do:   listNames(&sm.ListSecretsInput{SortBy: types.SortByTypeLastChangedDate}),
			want: names("prod/api-key", "Zeta", "dev/db/main", "prod/db/main"),
		},
		{
			name: "ListSecrets SortBy last-accessed-date puts never-accessed secrets first",
			setup: func(e *env) {
				listFixture(e)
				_, err := e.get(&sm.GetSecretValueInput{SecretId: ptr("Zeta")})
				e.must(err)
			},
			do:   listNames(&sm.ListSecretsInput{SortBy: types.SortByTypeLastAccessedDate}),
			want: names("dev/db/main", "prod/api-key", "prod/db/main", "Zeta"),
		},
		{name: "ListSecrets invalid SortOrder is InvalidParameterException", setup: listFixture, do: listNames(&sm.ListSecretsInput{SortOrder: "up"}), wantErr: errInvalidParam},
		{name: "ListSecrets invalid SortBy is InvalidParameterException", setup: listFixture, do: listNames(&sm.ListSecretsInput{SortBy: "size"}), wantErr: errInvalidParam},
		{name: "ListSecrets filter name is a case-sensitive prefix", setup: listFixture, do: listNames(filters("name", []string{"prod/"})), want: names("prod/db/main", "prod/api-key")},
		{name: "ListSecrets filter name does not match another case", setup: listFixture, do: listNames(filters("name", []string{"Prod"})), want: names()},
		{name: "ListSecrets filter name does not match inside the name", setup: listFixture, do: listNames(filters("name", []string{"db"})), want: names()},
		{name: "ListSecrets filter description is a prefix that is not case-sensitive", setup: listFixture, do: listNames(filters("description", []string{"PRIMARY d"})), want: names("prod/db/main")},
		{name: "ListSecrets filter description does not match a later word", setup: listFixture, do: listNames(filters("description", []string{"Database"})), want: names()},
		{name: "ListSecrets filter tag-key is a case-sensitive prefix", setup: listFixture, do: listNames(filters("tag-key", []string{"Own"})), want: names("prod/api-key")},
		{name: "ListSecrets filter tag-key does not match another case", setup: listFixture, do: listNames(filters("tag-key", []string{"own"})), want: names()},
		{name: "ListSecrets filter tag-value is a case-sensitive prefix", setup: listFixture, do: listNames(filters("tag-value", []string{"pro"})), want: names("prod/db/main", "prod/api-key")},
		{name: "ListSecrets filter value starting with ! negates it", setup: listFixture, do: listNames(filters("name", []string{"!prod"})), want: names("Zeta", "dev/db/main")},
		{name: "ListSecrets negated tag filter matches secrets with no matching tag", setup: listFixture, do: listNames(filters("tag-value", []string{"!prod"})), want: names("Zeta", "dev/db/main")},
		{name: "ListSecrets values within one filter are OR-ed", setup: listFixture, do: listNames(filters("name", []string{"dev", "Zeta"})), want: names("Zeta", "dev/db/main")},
		{name: "ListSecrets filters are AND-ed", setup: listFixture, do: listNames(filters("name", []string{"prod"}, "tag-key", []string{"Owner"})), want: names("prod/api-key")},
		{name: "ListSecrets filter all matches words of the name", setup: listFixture, do: listNames(filters("all", []string{"DB"})), want: names("prod/db/main", "dev/db/main")},
		{name: "ListSecrets filter all matches words of the description", setup: listFixture, do: listNames(filters("all", []string{"database"})), want: names("prod/db/main")},
		{name: "ListSecrets filter all matches tag keys and values, not case-sensitive", setup: listFixture, do: listNames(filters("all", []string{"alice"})), want: names("prod/api-key")},
		{name: "ListSecrets filter all splits camelCase values into words, any of which may match", setup: listFixture, do: listNames(filters("all", []string{"zetaPayments"})), want: names("prod/api-key", "Zeta")},
		{name: "ListSecrets filter all matches word prefixes", setup: listFixture, do: listNames(filters("all", []string{"pay"})), want: names("prod/api-key")},
		{name: "ListSecrets filter all negated", setup: listFixture, do: listNames(filters("all", []string{"!prod"})), want: names("Zeta", "dev/db/main")},
		{name: "ListSecrets filter primary-region never matches: replication is not modelled", setup: listFixture, do: listNames(filters("primary-region", []string{"us-east-1"})), want: names()},
		{name: "ListSecrets filter owning-service never matches: service-owned secrets are not modelled", setup: listFixture, do: listNames(filters("owning-service", []string{"!rds"})), want: names(all4...)},
		{name: "ListSecrets filter with an unknown key is InvalidParameterException", setup: listFixture, do: listNames(filters("colour", []string{"x"})), wantErr: errInvalidParam},
		{name: "ListSecrets filter without values is InvalidParameterException", setup: listFixture, do: listNames(filters("name", []string{})), wantErr: errInvalidParam},
		{name: "ListSecrets filter with 10 values is accepted", setup: listFixture, do: listNames(filters("name", strings.Split("a b c d e f g h i Zeta", " "))), want: names("Zeta", "dev/db/main")},
		{name: "ListSecrets filter with 11 values is InvalidParameterException", setup: listFixture, do: listNames(filters("name", strings.Split("a b c d e f g h i j k", " "))), wantErr: errInvalidParam},
		{
			name: "ListSecrets with 11 filters is InvalidParameterException", setup: listFixture,
			do: func(e *env) (any, error) {
				in := &sm.ListSecretsInput{}
				for range 11 {
					in.Filters = append(in.Filters, types.Filter{Key: types.FilterNameStringTypeName, Values: []string{"a"}})
				}
				return listNames(in)(e)
			},
			wantErr: errInvalidParam,
		},
		{name: "ListSecrets filter value with a character outside the allowed set is InvalidParameterException", setup: listFixture, do: listNames(filters("name", []string{"a#b"})), wantErr: errInvalidParam},
		{name: "ListSecrets filter value longer than 512 characters is InvalidParameterException", setup: listFixture, do: listNames(filters("name", []string{strings.Repeat("a", 513)})), wantErr: errInvalidParam},
		{
			name: "ListSecrets MaxResults pages with NextToken", setup: listFixture,
			do: func(e *env) (any, error) {
				first, err := e.s.ListSecrets(ctx, &sm.ListSecretsInput{MaxResults: ptr(int32(3))})
				if err != nil {
					return nil, err
				}
				second, err := e.s.ListSecrets(ctx, &sm.ListSecretsInput{MaxResults: ptr(int32(3)), NextToken: first.NextToken})
				if err != nil {
					return nil, err
				}
				return []any{len(first.SecretList), first.NextToken != nil, *second.SecretList[0].Name, second.NextToken == nil}, nil
			},
			want: func(*env) any { return []any{3, true, "dev/db/main", true} },
		},
		{
			name: "ListSecrets SDK paginator walks every page", setup: listFixture,
			do: func(e *env) (any, error) {
				var got []string
				p := sm.NewListSecretsPaginator(e.s, &sm.ListSecretsInput{}, func(o *sm.ListSecretsPaginatorOptions) { o.Limit = 1 })
				for p.HasMorePages() {
					out, err := p.NextPage(ctx)
					if err != nil {
						return nil, err
					}
					for _, s := range out.SecretList {
						got = append(got, *s.Name)
					}
				}
				return got, nil
			},
			want: names(all4...),
		},
		{name: "ListSecrets MaxResults 0 is InvalidParameterException", do: listNames(&sm.ListSecretsInput{MaxResults: ptr(int32(0))}), wantErr: errInvalidParam},
		{name: "ListSecrets MaxResults 101 is InvalidParameterException", do: listNames(&sm.ListSecretsInput{MaxResults: ptr(int32(101))}), wantErr: errInvalidParam},
		{name: "ListSecrets with a malformed NextToken is InvalidNextTokenException", do: listNames(&sm.ListSecretsInput{NextToken: ptr("%%%")}), wantErr: errNextToken},
		{
			name: "ListSecrets with a NextToken from a call with other filters is InvalidNextTokenException", setup: listFixture,
			do: func(e *env) (any, error) {
				out, err := e.s.ListSecrets(ctx, &sm.ListSecretsInput{MaxResults: ptr(int32(1))})
				e.must(err)
				in := filters("name", []string{"prod"})
				in.NextToken = out.NextToken
				return e.s.ListSecrets(ctx, in)
			},
			wantErr: errNextToken,
		},
		{
			name: "ListSecrets entries have ARN, Name, Description, Tags, dates and SecretVersionsToStages",
			setup: func(e *env) {
				listFixture(e)
				e.put("prod/api-key", 2)
				_, err := e.get(&sm.GetSecretValueInput{SecretId: ptr("prod/api-key")})
				e.must(err)
			},
			do: func(e *env) (any, error) {
				return e.s.ListSecrets(ctx, filters("name", []string{"prod/api"}))
			},
			want: func(e *env) any {
				s := e.describe("prod/api-key")
				return &sm.ListSecretsOutput{SecretList: []types.SecretListEntry{{
					ARN: s.ARN, Name: ptr("prod/api-key"), Description: ptr("payments API key"),
					Tags:                   []types.Tag{{Key: ptr("Owner"), Value: ptr("Alice")}, {Key: ptr("env"), Value: ptr("prod")}},
					CreatedDate:            ptr(t0.Add(time.Hour)),
					LastChangedDate:        ptr(t0.Add(4 * time.Hour)),
					LastAccessedDate:       ptr(time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC)),
					SecretVersionsToStages: map[string][]string{tok(101): {"AWSPREVIOUS"}, tok(2): {"AWSCURRENT"}},
				}}}
			},
		},
	})
}
