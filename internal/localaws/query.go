package localaws

import "net/url"

func parseQuery(body []byte) (url.Values, error) { return url.ParseQuery(string(body)) }
