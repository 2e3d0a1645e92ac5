package dynamodb

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/rotorhq/rotor/internal/iampolicy"
	"github.com/rotorhq/rotor/internal/localaws/wire"
)

// Authorize tells which permission a DynamoDB request needs, for the
// server's Options.EnforceIAM: dynamodb:OP on the table's ARN (ListTables
// on "*"), and for PutItem, GetItem and DeleteItem the condition key
// dynamodb:LeadingKeys, the partition key's value in Item or Key (as
// text: a string, a number's digits, a binary's base64). A table that
// does not exist has the ARN of its name, and no LeadingKeys.
func (d *Service) Authorize(_ *http.Request, op string, body []byte) ([]wire.Access, error) {
	one := func(resource string, ctx map[string][]string) []wire.Access {
		return []wire.Access{{Request: iampolicy.Request{Action: "dynamodb:" + op, Resource: resource, Context: ctx}}}
	}
	switch op {
	case "ListTables":
		return one("*", nil), nil
	case "CreateTable", "DescribeTable", "DeleteTable", "UpdateTimeToLive", "DescribeTimeToLive", "PutItem", "GetItem", "DeleteItem":
	default:
		return nil, wire.ErrNotModelled
	}
	var in struct {
		TableName string
		Key, Item map[string]json.RawMessage
	}
	if len(body) > 0 {
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, &wire.Error{Code: "SerializationException", Message: op + ": the request body is not a valid JSON object for this operation"}
		}
	}
	arn := in.TableName
	if !strings.HasPrefix(arn, "arn:") {
		arn = "arn:aws:dynamodb:" + d.region + ":" + d.account + ":table/" + in.TableName
	}
	var hashKey string
	d.mu.Lock()
	if t, err := d.table(in.TableName); err == nil {
		arn, hashKey = t.ARN, t.Keys[0].Name
	}
	d.mu.Unlock()
	ctx := map[string][]string{}
	attrs := in.Key
	if op == "PutItem" {
		attrs = in.Item
	}
	if raw, ok := attrs[hashKey]; ok && hashKey != "" {
		var v map[string]any
		if json.Unmarshal(raw, &v) == nil && len(v) == 1 {
			for _, x := range v {
				if s, ok := x.(string); ok {
					ctx["dynamodb:LeadingKeys"] = []string{s}
				}
			}
		}
	}
	return one(arn, ctx), nil
}
