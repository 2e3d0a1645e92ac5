package paginate

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPage(t *testing.T) {
	items := []string{"a", "c", "e", "g"}
	id := func(s string) string { return s }
	cases := []struct {
		name   string
		token  string
		size   int
		sorted bool
		page   []string
		next   string
		ok     bool
	}{
		{name: "first page", size: 2, page: []string{"a", "c"}, next: "c", ok: true},
		{name: "after the token", token: "c", size: 2, page: []string{"e", "g"}, ok: true},
		{name: "the last page has no next token", token: "a", size: 3, page: []string{"c", "e", "g"}, ok: true},
		{name: "no size: everything", page: items, ok: true},
		{name: "a token naming no item is refused", token: "d", size: 2, ok: false},
		{name: "sorted: a token whose item is gone goes on where it stood", token: "d", size: 1, sorted: true, page: []string{"e"}, next: "e", ok: true},
		{name: "sorted: past the end", token: "z", size: 1, sorted: true, page: []string{}, ok: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			page, next, ok := Page(items, id, tc.token, tc.size, tc.sorted)
			if diff := cmp.Diff([]any{tc.page, tc.next, tc.ok}, []any{page, next, ok}, cmp.Comparer(func(a, b []string) bool {
				return len(a) == len(b) && (len(a) == 0 || cmp.Equal(a, b))
			})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	t.Run("every item once across pages", func(t *testing.T) {
		var got []string
		token := ""
		for range 10 {
			page, next, ok := Page(items, id, token, 3, false)
			if !ok {
				t.Fatalf("token %q refused", token)
			}
			got = append(got, page...)
			if token = next; token == "" {
				break
			}
		}
		if diff := cmp.Diff(items, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
}
