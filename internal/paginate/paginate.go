// Package paginate is the one paginator of every List operation of the
// local endpoint and of the Secrets Manager store: items in the order an
// operation lists them, each with a unique key, cut into pages whose token
// is the key of the last item returned. Each caller wraps that token in
// its own format and answers its own invalid-token error.
package paginate

import "slices"

// Page pages items. The items are
// in the order the operation lists them, each with a unique key; a page
// token is the key of the last item of the previous page, so that items
// added or removed elsewhere in the listing between two calls neither
// repeat nor skip an item.
//
// It returns at most size items after the item whose key is token ("" for
// the first page), and the next page's token ("" on the last page). A
// token naming no item is refused (ok false: the service answers its own
// invalid-token error), unless sorted says the items are in ascending key
// order: the page then starts after where that key would stand, so a
// listing goes on past an item deleted meanwhile.
func Page[T any](items []T, key func(T) string, token string, size int, sorted bool) (page []T, next string, ok bool) {
	if token != "" {
		i := slices.IndexFunc(items, func(t T) bool { return key(t) == token })
		switch {
		case i >= 0:
			items = items[i+1:]
		case sorted:
			i, _ = slices.BinarySearchFunc(items, token, func(t T, k string) int {
				switch kt := key(t); {
				case kt < k:
					return -1
				case kt > k:
					return 1
				}
				return 0
			})
			items = items[i:]
		default:
			return nil, "", false
		}
	}
	if size > 0 && len(items) > size {
		return items[:size], key(items[size-1]), true
	}
	return items, "", true
}
