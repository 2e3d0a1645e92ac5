package smstore

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/rotorhq/rotor/internal/paginate"
)

// ---- pagination -------------------------------------------------------------

// A NextToken is opaque to callers. Inside it is the operation, the key of
// the last item returned (a version id, a secret's ARN: the one paginator,
// internal/paginate), and a hash of the request parameters other than the
// token and MaxResults: a token is only accepted by the same operation with
// the same query. Keys rather than offsets, so that a version or secret
// added or removed between two pages neither repeats nor skips an item;
// a token whose item is gone meanwhile is refused, as a stale one.
type pageToken struct {
	Op    string `json:"op"`
	After string `json:"after"`
	Query string `json:"q"`
}

func queryHash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(strconv.Itoa(len(p))))
		h.Write([]byte{':'})
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

func encodeToken(op, after, query string) *string {
	b, _ := json.Marshal(pageToken{Op: op, After: after, Query: query})
	return ptr(base64.RawURLEncoding.EncodeToString(b))
}

// decodeToken returns the key a NextToken continues after ("" without a
// token).
func decodeToken(tok *string, op, query string) (string, error) {
	if tok == nil {
		return "", nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(*tok)
	if err != nil {
		return "", invalidNextToken()
	}
	var pt pageToken
	if err := json.Unmarshal(raw, &pt); err != nil || pt.Op != op || pt.Query != query || pt.After == "" {
		return "", invalidNextToken()
	}
	return pt.After, nil
}

func pageSize(max *int32) (int, error) {
	if max == nil {
		return maxPageSize, nil
	}
	if *max < 1 || *max > maxPageSize {
		return 0, invalidParam("MaxResults must be between 1 and %d.", maxPageSize)
	}
	return int(*max), nil
}

// page returns the page of items after the key after (paginate.Page) and
// the token of the rest.
func page[T any](items []T, key func(T) string, after string, size int, op, query string) ([]T, *string, error) {
	p, next, ok := paginate.Page(items, key, after, size, false)
	if !ok {
		return nil, nil, invalidNextToken()
	}
	if next == "" {
		return p, nil, nil
	}
	return p, encodeToken(op, next, query), nil
}

// ---- ListSecretVersionIds ---------------------------------------------------

// ListSecretVersionIds lists a secret's versions, newest first; deprecated
// (unlabelled) versions only with IncludeDeprecated. It also works on a
// secret scheduled for deletion (the API reference lists no
// InvalidRequestException for it).
func (s *Store) ListSecretVersionIds(ctx context.Context, in *sm.ListSecretVersionIdsInput, _ ...func(*sm.Options)) (*sm.ListSecretVersionIdsOutput, error) {
	if in == nil {
		in = &sm.ListSecretVersionIdsInput{}
	}
	id, err := validSecretID(in.SecretId)
	if err != nil {
		return nil, err
	}
	size, err := pageSize(in.MaxResults)
	if err != nil {
		return nil, err
	}
	deprecated := in.IncludeDeprecated != nil && *in.IncludeDeprecated
	if _, err := s.begin(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	sec, err := s.lookup(id)
	if err != nil {
		return nil, err
	}
	const op = "ListSecretVersionIds"
	query := queryHash(sec.arn, strconv.FormatBool(deprecated))
	after, err := decodeToken(in.NextToken, op, query)
	if err != nil {
		return nil, err
	}
	var all []*version
	for i := len(sec.versions) - 1; i >= 0; i-- {
		if v := sec.versions[i]; deprecated || len(v.stages) > 0 {
			all = append(all, v)
		}
	}
	vs, next, err := page(all, func(v *version) string { return v.id }, after, size, op, query)
	if err != nil {
		return nil, err
	}
	out := &sm.ListSecretVersionIdsOutput{ARN: ptr(sec.arn), Name: ptr(sec.name), NextToken: next}
	for _, v := range vs {
		// KmsKeyIds is left out: KMS is not modelled.
		out.Versions = append(out.Versions, types.SecretVersionsListEntry{
			VersionId:        ptr(v.id),
			VersionStages:    cloneStages(v.stages),
			CreatedDate:      ptr(v.created),
			LastAccessedDate: cloneTime(v.lastAccessed),
		})
	}
	return out, nil
}

// ---- ListSecrets ------------------------------------------------------------

type filterValue struct {
	negate bool
	text   string
}

type filter struct {
	key    types.FilterNameStringType
	values []filterValue
}

// filterValueChar is the character set of a Filter value in the API
// reference: ^\!?[a-zA-Z0-9 :_@\/\+\=\.\-\!]*$
func filterValueChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(" :_@/+=.-!", r)
}

func compileFilters(in []types.Filter) ([]filter, error) {
	if len(in) > maxFilters {
		return nil, invalidParam("You can specify at most %d filters.", maxFilters)
	}
	out := make([]filter, 0, len(in))
	for _, f := range in {
		if !slices.Contains(f.Key.Values(), f.Key) {
			return nil, invalidParam("Invalid filter key: %q. Valid keys are %v.", string(f.Key), f.Key.Values())
		}
		if len(f.Values) == 0 || len(f.Values) > maxFilterValues {
			return nil, invalidParam("The filter %s must have 1-%d values.", f.Key, maxFilterValues)
		}
		cf := filter{key: f.Key}
		for _, v := range f.Values {
			if v == "" || len(v) > maxFilterValueLen || strings.IndexFunc(v, func(r rune) bool { return !filterValueChar(r) }) >= 0 {
				return nil, invalidParam("Invalid value for filter %s: values must be 1-%d characters of letters, digits, spaces and :_@/+=.-!", f.Key, maxFilterValueLen)
			}
			fv := filterValue{text: v}
			if rest, ok := strings.CutPrefix(v, "!"); ok {
				fv = filterValue{negate: true, text: rest}
			}
			cf.values = append(cf.values, fv)
		}
		out = append(out, cf)
	}
	return out, nil
}

// matches applies the filters. Guess (the API reference does not say how
// filters combine): filters are AND-ed, the values of one filter are OR-ed,
// and a value "!x" matches the secrets that "x" does not match (for a tag
// filter: that have no tag key, or value, starting with x).
func matches(sec *secret, filters []filter) bool {
	for _, f := range filters {
		ok := false
		for _, v := range f.values {
			if positive(sec, f.key, v.text) != v.negate {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func positive(sec *secret, key types.FilterNameStringType, text string) bool {
	switch key {
	case types.FilterNameStringTypeName:
		return strings.HasPrefix(sec.name, text)
	case types.FilterNameStringTypeDescription:
		// Prefix match, not case-sensitive, as the API reference says.
		// (moto's authors report that AWS actually matches words here.)
		return sec.description != nil && strings.HasPrefix(strings.ToLower(*sec.description), strings.ToLower(text))
	case types.FilterNameStringTypeTagKey:
		for k := range sec.tags {
			if strings.HasPrefix(k, text) {
				return true
			}
		}
		return false
	case types.FilterNameStringTypeTagValue:
		for _, v := range sec.tags {
			if strings.HasPrefix(v, text) {
				return true
			}
		}
		return false
	case types.FilterNameStringTypePrimaryRegion, types.FilterNameStringTypeOwningService:
		// Guess: AWS sets PrimaryRegion only on replicated (multi-Region)
		// secrets and OwningService only on secrets managed by another
		// service; this model has neither, so nothing matches.
		return false
	case types.FilterNameStringTypeAll:
		return matchAll(sec, text)
	}
	return false
}

// matchAll implements the "all" filter: the value is broken into words and
// matched, not case-sensitive, against the words of the name, description,
// tag keys and tag values. Guess, after the user guide's "searching
// My_Secret matches secrets with the words my or secret": one matching word
// is enough, and a word matches an attribute word it is a prefix of.
func matchAll(sec *secret, text string) bool {
	want := splitWords(text)
	if len(want) == 0 {
		return false
	}
	attrs := []string{sec.name}
	if sec.description != nil {
		attrs = append(attrs, *sec.description)
	}
	for k, v := range sec.tags {
		attrs = append(attrs, k, v)
	}
	for _, a := range attrs {
		for _, have := range splitWords(a) {
			for _, w := range want {
				if strings.HasPrefix(have, w) {
					return true
				}
			}
		}
	}
	return false
}

// splitWords breaks s into lower-cased words as the user guide describes:
// at every character that is not a letter or digit, between a lower-case and
// an upper-case letter ("credsDatabase"), before the last capital of a run
// of capitals followed by a lower-case letter ("DBPassword"), and between
// letters and digits ("db892").
func splitWords(s string) []string {
	rs := []rune(s)
	var words []string
	start := -1
	flush := func(end int) {
		if start >= 0 && end > start {
			words = append(words, strings.ToLower(string(rs[start:end])))
		}
		start = -1
	}
	for i, r := range rs {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			flush(i)
			continue
		}
		if start < 0 {
			start = i
			continue
		}
		p := rs[i-1]
		boundary := unicode.IsDigit(p) != unicode.IsDigit(r) ||
			unicode.IsLower(p) && unicode.IsUpper(r) ||
			unicode.IsUpper(p) && unicode.IsUpper(r) && i+1 < len(rs) && unicode.IsLower(rs[i+1])
		if boundary {
			flush(i)
			start = i
		}
	}
	flush(len(rs))
	return words
}

func timeOrZero(p *time.Time) time.Time {
	if p == nil {
		return time.Time{}
	}
	return *p
}

// ListSecrets lists secrets matching the filters. SortBy defaults to
// created-date; ties are broken by name (then ARN), and desc is the exact
// reverse of asc. Guess: SortOrder defaults to asc (the API reference does
// not say). Secrets scheduled for deletion are listed only with
// IncludePlannedDeletion.
func (s *Store) ListSecrets(ctx context.Context, in *sm.ListSecretsInput, _ ...func(*sm.Options)) (*sm.ListSecretsOutput, error) {
	if in == nil {
		in = &sm.ListSecretsInput{}
	}
	size, err := pageSize(in.MaxResults)
	if err != nil {
		return nil, err
	}
	order := in.SortOrder
	if order == "" {
		order = types.SortOrderTypeAsc
	}
	if !slices.Contains(order.Values(), order) {
		return nil, invalidParam("Invalid SortOrder: %q. Valid values are asc and desc.", string(order))
	}
	by := in.SortBy
	if by == "" {
		by = types.SortByTypeCreatedDate
	}
	if !slices.Contains(by.Values(), by) {
		return nil, invalidParam("Invalid SortBy: %q. Valid values are %v.", string(by), by.Values())
	}
	filters, err := compileFilters(in.Filters)
	if err != nil {
		return nil, err
	}
	planned := in.IncludePlannedDeletion != nil && *in.IncludePlannedDeletion
	const op = "ListSecrets"
	parts := []string{string(order), string(by), strconv.FormatBool(planned)}
	for _, f := range in.Filters {
		parts = append(parts, string(f.Key), strconv.Itoa(len(f.Values)))
		parts = append(parts, f.Values...)
	}
	query := queryHash(parts...)
	after, err := decodeToken(in.NextToken, op, query)
	if err != nil {
		return nil, err
	}

	if _, err := s.begin(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	order1 := func(a, b *secret) int {
		var c int
		switch by {
		case types.SortByTypeCreatedDate:
			c = a.created.Compare(b.created)
		case types.SortByTypeLastChangedDate:
			c = a.lastChanged.Compare(b.lastChanged)
		case types.SortByTypeLastAccessedDate:
			c = timeOrZero(a.lastAccessed).Compare(timeOrZero(b.lastAccessed))
		}
		c = cmp.Or(c, strings.Compare(a.name, b.name), strings.Compare(a.arn, b.arn))
		if order == types.SortOrderTypeDesc {
			c = -c
		}
		return c
	}
	listed := func(sec *secret) bool { return (planned || sec.deleted == nil) && matches(sec, filters) }
	// The page is what paginate.Page would cut from the whole sorted
	// listing (the size secrets after the token's, the token the ARN of
	// the last): the order is total, so "after the token's secret" is
	// "greater than it", and the page is the size smallest of those, kept
	// in a sorted slice of size+1 (the extra one tells that more follow)
	// rather than by sorting every secret for every page.
	var anchor *secret
	if after != "" {
		if anchor = s.byARN[after]; anchor == nil || !listed(anchor) {
			return nil, invalidNextToken()
		}
	}
	secs := make([]*secret, 0, size+1)
	for _, sec := range s.secrets {
		if !listed(sec) || anchor != nil && order1(sec, anchor) <= 0 {
			continue
		}
		if len(secs) == size+1 && order1(sec, secs[size]) >= 0 {
			continue
		}
		i, _ := slices.BinarySearchFunc(secs, sec, order1)
		if len(secs) == size+1 {
			secs = secs[:size]
		}
		secs = slices.Insert(secs, i, sec)
	}
	var next *string
	if len(secs) > size {
		secs = secs[:size]
		next = encodeToken(op, secs[size-1].arn, query)
	}
	out := &sm.ListSecretsOutput{NextToken: next, SecretList: []types.SecretListEntry{}}
	for _, sec := range secs {
		out.SecretList = append(out.SecretList, types.SecretListEntry{
			ARN:                    ptr(sec.arn),
			Name:                   ptr(sec.name),
			Description:            cloneStr(sec.description),
			KmsKeyId:               cloneStr(sec.kmsKeyID),
			Tags:                   sec.tagList(),
			CreatedDate:            ptr(sec.created),
			LastChangedDate:        ptr(sec.lastChanged),
			LastAccessedDate:       cloneTime(sec.lastAccessed),
			DeletedDate:            cloneTime(sec.deleted),
			SecretVersionsToStages: sec.stagesMap(),
		})
	}
	return out, nil
}
