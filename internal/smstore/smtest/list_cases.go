package smtest

import (
	"strings"
	"time"

	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// listFixture makes, with first versions tok(100), tok(101), ...:
//
//	name          created  description         tags
//	prod/db/main  T0       "Primary Database"  env=prod team=core
//	prod/api-key  T0+1h    "payments API key"  env=prod Owner=Alice
//	Zeta          T0+2h    -                   -
//	dev/db/main   T0+2h    -                   env=dev
//	old/thing     T0+3h    scheduled for deletion at T0+3h+30d
func listFixture(e *env) {
	n := 100
	mk := func(name, desc string, kv ...string) {
		in := &sm.CreateSecretInput{Name: ptr(name), SecretString: ptr(val(n)), ClientRequestToken: ptr(tok(n)), Tags: tags(kv...)}
		n++
		if desc != "" {
			in.Description = ptr(desc)
		}
		_, err := e.api.CreateSecret(ctx, in)
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
	e.del("old/thing", 0)
	e.clk.Advance(time.Hour)
}

// listNames runs ListSecrets to the end and returns the names in order.
func listNames(in *sm.ListSecretsInput) func(e *env) (any, error) {
	return func(e *env) (any, error) {
		var names []string
		in := *in
		for {
			out, err := e.api.ListSecrets(ctx, &in)
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

func names(n ...string) func(*env) any { return want(n) }

func filters(kv ...any) *sm.ListSecretsInput {
	in := &sm.ListSecretsInput{}
	for i := 0; i < len(kv); i += 2 {
		in.Filters = append(in.Filters, types.Filter{Key: types.FilterNameStringType(kv[i].(string)), Values: kv[i+1].([]string)})
	}
	return in
}

func listSecretsCases() []testCase {
	all4 := []string{"prod/db/main", "prod/api-key", "Zeta", "dev/db/main"}
	return []testCase{
		{
			name:  "ListSecrets sorts by CreatedDate ascending by default, ties by name, and hides secrets scheduled for deletion",
			setup: listFixture, do: listNames(&sm.ListSecretsInput{}), want: names(all4...),
		},
		{
			name: "ListSecrets IncludePlannedDeletion lists secrets scheduled for deletion, with DeletedDate", setup: listFixture,
			do: func(e *env) (any, error) {
				out, err := e.api.ListSecrets(ctx, &sm.ListSecretsInput{IncludePlannedDeletion: ptr(true)})
				if err != nil {
					return nil, err
				}
				var ns []string
				deleted := map[string]*time.Time{}
				for _, s := range out.SecretList {
					ns = append(ns, *s.Name)
					deleted[*s.Name] = s.DeletedDate
				}
				return []any{ns, deleted}, nil
			},
			want: want([]any{append(all4, "old/thing"), map[string]*time.Time{
				"prod/db/main": nil, "prod/api-key": nil, "Zeta": nil, "dev/db/main": nil,
				"old/thing": ptr(T0.Add(3*time.Hour + 30*24*time.Hour)),
			}}),
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
				_, err := e.api.TagResource(ctx, &sm.TagResourceInput{SecretId: ptr("prod/db/main"), Tags: tags("x", "y")})
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
		{name: "ListSecrets negated tag-key filter lists the secrets without such a key", setup: listFixture, do: listNames(filters("tag-key", []string{"!env"})), want: names("Zeta")},
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
				first, err := e.api.ListSecrets(ctx, &sm.ListSecretsInput{MaxResults: ptr(int32(3))})
				if err != nil {
					return nil, err
				}
				second, err := e.api.ListSecrets(ctx, &sm.ListSecretsInput{MaxResults: ptr(int32(3)), NextToken: first.NextToken})
				if err != nil {
					return nil, err
				}
				return []any{len(first.SecretList), first.NextToken != nil, len(second.SecretList), *second.SecretList[0].Name, second.NextToken == nil}, nil
			},
			want: want([]any{3, true, 1, "dev/db/main", true}),
		},
		{
			name: "ListSecrets SDK paginator walks every page", setup: listFixture,
			do: func(e *env) (any, error) {
				var pages [][]string
				p := sm.NewListSecretsPaginator(e.api, &sm.ListSecretsInput{MaxResults: ptr(int32(2))})
				for p.HasMorePages() {
					out, err := p.NextPage(ctx)
					if err != nil {
						return nil, err
					}
					var ns []string
					for _, s := range out.SecretList {
						ns = append(ns, *s.Name)
					}
					pages = append(pages, ns)
				}
				return pages, nil
			},
			want: want([][]string{{"prod/db/main", "prod/api-key"}, {"Zeta", "dev/db/main"}}),
		},
		{
			name: "ListSecrets SDK paginator with a filter pages through the matching secrets only", setup: listFixture,
			do: func(e *env) (any, error) {
				in := filters("tag-key", []string{"env"})
				in.MaxResults = ptr(int32(1))
				var pages [][]string
				p := sm.NewListSecretsPaginator(e.api, in)
				for p.HasMorePages() {
					out, err := p.NextPage(ctx)
					if err != nil {
						return nil, err
					}
					var ns []string
					for _, s := range out.SecretList {
						ns = append(ns, *s.Name)
					}
					pages = append(pages, ns)
				}
				return pages, nil
			},
			want: want([][]string{{"prod/db/main"}, {"prod/api-key"}, {"dev/db/main"}}),
		},
		{name: "ListSecrets MaxResults 0 is InvalidParameterException", do: listNames(&sm.ListSecretsInput{MaxResults: ptr(int32(0))}), wantErr: errInvalidParam},
		{name: "ListSecrets MaxResults 101 is InvalidParameterException", do: listNames(&sm.ListSecretsInput{MaxResults: ptr(int32(101))}), wantErr: errInvalidParam},
		{name: "ListSecrets with a malformed NextToken is InvalidNextTokenException", do: listNames(&sm.ListSecretsInput{NextToken: ptr("%%%")}), wantErr: errNextToken},
		{
			name: "ListSecrets with a NextToken from a call with other filters is InvalidNextTokenException", setup: listFixture,
			do: func(e *env) (any, error) {
				out, err := e.api.ListSecrets(ctx, &sm.ListSecretsInput{MaxResults: ptr(int32(1))})
				e.must(err)
				in := filters("name", []string{"prod"})
				in.NextToken = out.NextToken
				return errOnly(e.api.ListSecrets(ctx, in))
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
				return errOnly(e.api.ListSecrets(ctx, filters("name", []string{"prod/api"})))
			},
			want: func(e *env) any {
				return &sm.ListSecretsOutput{SecretList: []types.SecretListEntry{{
					ARN: ptr(e.arn("prod/api-key")), Name: ptr("prod/api-key"), Description: ptr("payments API key"),
					Tags:                   tags("Owner", "Alice", "env", "prod"),
					CreatedDate:            ptr(T0.Add(time.Hour)),
					LastChangedDate:        ptr(T0.Add(4 * time.Hour)),
					LastAccessedDate:       ptr(time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC)),
					SecretVersionsToStages: map[string][]string{tok(101): {"AWSPREVIOUS"}, tok(2): {"AWSCURRENT"}},
				}}}
			},
		},
	}
}
