package localaws

import (
	"errors"
	"hash/crc32"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/rotorhq/rotor/internal/localaws/wire"
)

func TestDynamoDBConditions(t *testing.T) {
	e := newDDBEnv(t, "", Options{})
	defer e.srv.Close()
	ctx := t.Context()
	e.table(t, "conds", types.ScalarAttributeTypeS, "")
	stored := map[string]types.AttributeValue{
		"pk":        avS("k"),
		"expiresAt": avN("100"),
		"s":         avS("b"),
		"bin":       &types.AttributeValueMemberB{Value: []byte{2}},
		"flag":      &types.AttributeValueMemberBOOL{Value: true},
		"ss":        &types.AttributeValueMemberSS{Value: []string{"x", "y"}},
		"m":         &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"x": avN("1"), "status": avS("on")}},
		"l":         &types.AttributeValueMemberL{Value: []types.AttributeValue{avS("first"), avN("2")}},
	}
	values := map[string]types.AttributeValue{
		":n50": avN("50"), ":now": avN("200"), ":n1e2": avN("1e2"), ":n99_5": avN("99.5"), ":s100": avS("100"),
		":a": avS("a"), ":b": avS("b"), ":bin1": &types.AttributeValueMemberB{Value: []byte{1}}, ":t": &types.AttributeValueMemberBOOL{Value: true},
		":yx": &types.AttributeValueMemberSS{Value: []string{"y", "x"}}, ":one": avN("1"), ":on": avS("on"), ":first": avS("first"),
	}
	for _, tc := range []struct {
		cond  string
		names map[string]string
		holds bool
		// absent is whether the condition holds when there is no item.
		absent bool
	}{
		{"attribute_exists(pk)", nil, true, false},
		{"attribute_not_exists(pk)", nil, false, true},
		{"attribute_not_exists(#pk) OR #exp < :now", map[string]string{"#pk": "pk", "#exp": "expiresAt"}, true, true},
		{"attribute_not_exists(#pk) OR #exp < :n50", map[string]string{"#pk": "pk", "#exp": "expiresAt"}, false, true},
		{"expiresAt = :n1e2", nil, true, false},
		{"expiresAt > :n99_5", nil, true, false},
		{"expiresAt <= :n1e2 AND expiresAt >= :n1e2", nil, true, false},
		{"expiresAt < :s100", nil, false, false}, // N against S: false, not an error
		{"expiresAt <> :s100", nil, true, true},  // different types are unequal; a missing side too
		{"s > :a", nil, true, false},
		{"s < :a", nil, false, false},
		{"bin > :bin1", nil, true, false},
		{"flag = :t", nil, true, false},
		{"ss = :yx", nil, true, false},
		{"m.x = :one AND m.#st = :on", map[string]string{"#st": "status"}, true, false},
		{"l[0] = :first AND l[1] = :n1e2", nil, false, false},
		{"l[0] = :first", nil, true, false},
		{"attribute_exists(l[5])", nil, false, false},
		{"attribute_exists(m.nope)", nil, false, false},
		{"NOT attribute_exists(nope)", nil, true, true},
		{"NOT s = :b", nil, false, true},
		{"not s = :a and s = :b", nil, true, false},
		{"s = :a OR s = :b AND attribute_not_exists(pk)", nil, false, false}, // AND binds tighter
		{"(s = :a OR s = :b) AND attribute_exists(pk)", nil, true, false},
		{"((attribute_exists(pk)))", nil, true, false},
		{":b = s", nil, true, false},
	} {
		t.Run(tc.cond, func(t *testing.T) {
			key := map[string]types.AttributeValue{"pk": avS("k")}
			e.put(t, "conds", stored)
			var used map[string]types.AttributeValue
			for _, k := range placeholderRE.FindAllString(tc.cond, -1) {
				if used == nil {
					used = map[string]types.AttributeValue{}
				}
				used[k] = values[k]
			}
			replacement := map[string]types.AttributeValue{"pk": avS("k"), "new": avS("yes")}
			_, err := e.c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("conds"), Item: replacement,
				ConditionExpression: aws.String(tc.cond), ExpressionAttributeNames: tc.names, ExpressionAttributeValues: used})
			want := stored
			if tc.holds {
				want = replacement
			}
			checkCondition(t, err, tc.holds)
			if diff := cmp.Diff(want, e.get(t, "conds", key), avCmp); diff != "" {
				t.Errorf("item after PutItem (-want +got):\n%s", diff)
			}

			// Against no item.
			if _, err := e.c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String("conds"), Key: key}); err != nil {
				t.Fatal(err)
			}
			_, err = e.c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("conds"), Item: replacement,
				ConditionExpression: aws.String(tc.cond), ExpressionAttributeNames: tc.names, ExpressionAttributeValues: used})
			checkCondition(t, err, tc.absent)

			// DeleteItem takes the same conditions.
			e.put(t, "conds", stored)
			_, err = e.c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String("conds"), Key: key,
				ConditionExpression: aws.String(tc.cond), ExpressionAttributeNames: tc.names, ExpressionAttributeValues: used})
			checkCondition(t, err, tc.holds)
			if got := e.get(t, "conds", key); (got == nil) != tc.holds {
				t.Errorf("after DeleteItem the item is %v", got)
			}
		})
	}

	t.Run("a failed condition returns the item when asked", func(t *testing.T) {
		e.put(t, "conds", stored)
		_, err := e.c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("conds"), Item: map[string]types.AttributeValue{"pk": avS("k")},
			ConditionExpression: aws.String("attribute_not_exists(pk)"), ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld})
		var ccf *types.ConditionalCheckFailedException
		if !errors.As(err, &ccf) {
			t.Fatalf("PutItem = %v, want ConditionalCheckFailedException", err)
		}
		if diff := cmp.Diff(stored, ccf.Item, avCmp); diff != "" {
			t.Errorf("item (-want +got):\n%s", diff)
		}
	})
}

var placeholderRE = regexp.MustCompile(`:[A-Za-z0-9_]+`)

func checkCondition(t *testing.T, err error, holds bool) {
	t.Helper()
	var ccf *types.ConditionalCheckFailedException
	switch {
	case holds && err != nil:
		t.Errorf("the condition should hold: %v", err)
	case !holds && !errors.As(err, &ccf):
		t.Errorf("the condition should fail with ConditionalCheckFailedException: %v", err)
	}
}

// TestDynamoDBConditionErrors: what the endpoint does not implement, and
// what DynamoDB refuses, is a ValidationException naming it; the item stays
// as it was.
func TestDynamoDBConditionErrors(t *testing.T) {
	e := newDDBEnv(t, "", Options{})
	defer e.srv.Close()
	e.table(t, "conds", types.ScalarAttributeTypeS, "")
	key := map[string]types.AttributeValue{"pk": avS("k")}
	stored := map[string]types.AttributeValue{"pk": avS("k"), "n": avN("1")}
	e.put(t, "conds", stored)
	v := map[string]types.AttributeValue{":v": avN("1")}
	for _, tc := range []struct {
		name   string
		cond   *string
		names  map[string]string
		values map[string]types.AttributeValue
		parts  []string
	}{
		{"BETWEEN", aws.String("n BETWEEN :v AND :v"), nil, v, []string{"BETWEEN is not supported"}},
		{"IN", aws.String("n IN (:v)"), nil, v, []string{"IN is not supported"}},
		{"begins_with", aws.String("begins_with(pk, :v)"), nil, v, []string{"begins_with is not supported"}},
		{"contains", aws.String("contains(pk, :v)"), nil, v, []string{"contains is not supported"}},
		{"attribute_type", aws.String("attribute_type(pk, :v)"), nil, v, []string{"attribute_type is not supported"}},
		{"size", aws.String("size(pk) = :v"), nil, v, []string{"size is not supported"}},
		{"an unknown function", aws.String("exists(pk)"), nil, nil, []string{"Invalid function name; function: exists"}},
		{"a function name in capitals", aws.String("ATTRIBUTE_EXISTS(pk)"), nil, nil, []string{"Invalid function name"}},
		{"a function of a value", aws.String("attribute_exists(:v)"), nil, v, []string{"document path"}},
		{"a function of two paths", aws.String("attribute_exists(pk, n)"), nil, nil, []string{"number of operands: 2"}},
		{"an undefined #name", aws.String("attribute_exists(#x)"), nil, nil, []string{"attribute name: #x"}},
		{"an undefined :value", aws.String("n = :x"), nil, v, []string{"attribute value: :x"}},
		{"an unused #name", aws.String("n = :v"), map[string]string{"#unused": "x"}, v, []string{"ExpressionAttributeNames unused", "#unused"}},
		{"an unused :value", aws.String("attribute_exists(pk)"), nil, v, []string{"ExpressionAttributeValues unused", ":v"}},
		{"values without an expression", nil, nil, v, []string{"ExpressionAttributeValues can only be specified when using expressions"}},
		{"names without an expression", nil, map[string]string{"#n": "n"}, nil, []string{"ExpressionAttributeNames can only be specified when using expressions"}},
		{"an empty expression", aws.String(" "), nil, nil, []string{"can not be empty"}},
		{"a comparison without right side", aws.String("n ="), nil, nil, []string{"Syntax error", "<EOF>"}},
		{"trailing tokens", aws.String("n = :v n"), nil, v, []string{"Syntax error"}},
		{"an unclosed parenthesis", aws.String("(n = :v"), nil, v, []string{"Syntax error"}},
		{"an operand alone", aws.String("n"), nil, nil, []string{"Syntax error"}},
		{"a stray character", aws.String("n = :v;"), nil, v, []string{"Syntax error", `";"`}},
		{"a keyword as a name", aws.String("attribute_exists(and)"), nil, nil, []string{"Syntax error"}},
		{"< on a BOOL", aws.String("n < :t"), nil, map[string]types.AttributeValue{":t": &types.AttributeValueMemberBOOL{Value: true}}, []string{"Incorrect operand type", "operand type: BOOL"}},
		{"an empty name for a placeholder", aws.String("attribute_exists(#e)"), map[string]string{"#e": ""}, nil, []string{"Empty attribute name", "#e"}},
		{"a placeholder key without its sign", aws.String("n = :v"), map[string]string{"n": "n"}, v, []string{"ExpressionAttributeNames contains invalid key"}},
		{"an expression over 4 KB", aws.String("n = :v" + strings.Repeat(" ", 4096)), nil, v, []string{"maximum allowed size"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.c.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String("conds"), Item: map[string]types.AttributeValue{"pk": avS("k")},
				ConditionExpression: tc.cond, ExpressionAttributeNames: tc.names, ExpressionAttributeValues: tc.values})
			wantDDBError(t, err, "ValidationException", tc.parts...)
			if diff := cmp.Diff(stored, e.get(t, "conds", key), avCmp); diff != "" {
				t.Errorf("the item changed (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDynamoDBConcurrentConditionalPuts: of many conditional puts of one
// key, exactly one succeeds.
func TestDynamoDBConcurrentConditionalPuts(t *testing.T) {
	e := newDDBEnv(t, filepath.Join(t.TempDir(), "rotor.db"), Options{})
	defer e.srv.Close()
	e.table(t, "race", types.ScalarAttributeTypeS, "")
	var wg sync.WaitGroup
	results := make([]error, 20)
	for i := range results {
		wg.Go(func() {
			_, results[i] = e.c.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String("race"),
				Item:                map[string]types.AttributeValue{"pk": avS("k"), "by": avN(strconv.Itoa(i))},
				ConditionExpression: aws.String("attribute_not_exists(pk)")})
		})
	}
	wg.Wait()
	won := 0
	for _, err := range results {
		var ccf *types.ConditionalCheckFailedException
		switch {
		case err == nil:
			won++
		case !errors.As(err, &ccf):
			t.Errorf("PutItem: %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d conditional puts succeeded, want 1", won)
	}
}

// TestDynamoDBTTL: expired items stay readable until purged, as on AWS;
// the purge runs lazily with writes, at most once a minute, and leaves
// items without expiry and items expired long ago (not epoch seconds)
// alone.
func TestDynamoDBTTL(t *testing.T) {
	e := newDDBEnv(t, "", Options{})
	defer e.srv.Close()
	ctx := t.Context()
	e.table(t, "ttl", types.ScalarAttributeTypeS, "")
	if _, err := e.c.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: aws.String("ttl"),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String("expiresAt"), Enabled: aws.Bool(true)}}); err != nil {
		t.Fatal(err)
	}
	now := e.clk.Now().Unix()
	items := map[string]string{
		"expired":  strconv.FormatInt(now+30, 10),
		"later":    strconv.FormatInt(now+3600, 10),
		"ancient":  strconv.FormatInt(now-6*365*24*3600, 10),
		"no-ttl":   "",
		"text-ttl": "s",
	}
	for k, exp := range items {
		it := map[string]types.AttributeValue{"pk": avS(k)}
		switch exp {
		case "":
		case "s":
			it["expiresAt"] = avS("1")
		default:
			it["expiresAt"] = avN(exp)
		}
		e.put(t, "ttl", it)
	}
	present := func() []string {
		var got []string
		for _, k := range []string{"ancient", "expired", "later", "no-ttl", "text-ttl"} {
			if e.get(t, "ttl", map[string]types.AttributeValue{"pk": avS(k)}) != nil {
				got = append(got, k)
			}
		}
		return got
	}
	all := []string{"ancient", "expired", "later", "no-ttl", "text-ttl"}
	e.clk.Advance(40 * time.Second) // "expired" is now past its time
	if diff := cmp.Diff(all, present()); diff != "" {
		t.Errorf("reads before a purge (-want +got):\n%s", diff)
	}
	e.put(t, "ttl", map[string]types.AttributeValue{"pk": avS("trigger")})
	if diff := cmp.Diff(all, present()); diff != "" {
		t.Errorf("within a minute of the last purge (-want +got):\n%s", diff)
	}
	e.clk.Advance(time.Minute)
	if _, err := e.c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String("ttl"), Key: map[string]types.AttributeValue{"pk": avS("trigger")}}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"ancient", "later", "no-ttl", "text-ttl"}, present()); diff != "" {
		t.Errorf("after a purge (-want +got):\n%s", diff)
	}
}

// TestDynamoDBPersistence restarts the server on its data file.
func TestDynamoDBPersistence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "rotor.db")
	e := newDDBEnv(t, file, Options{})
	ctx := t.Context()
	e.table(t, "kept", types.ScalarAttributeTypeS, "")
	e.table(t, "dropped", types.ScalarAttributeTypeS, "")
	if _, err := e.c.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: aws.String("kept"),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String("expiresAt"), Enabled: aws.Bool(true)}}); err != nil {
		t.Fatal(err)
	}
	one := map[string]types.AttributeValue{"pk": avS("one"), "m": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"n": avN("1.5")}}}
	e.put(t, "kept", one)
	e.put(t, "kept", map[string]types.AttributeValue{"pk": avS("two")})
	if _, err := e.c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String("kept"), Key: map[string]types.AttributeValue{"pk": avS("two")}}); err != nil {
		t.Fatal(err)
	}
	e.put(t, "dropped", map[string]types.AttributeValue{"pk": avS("x")})
	if _, err := e.c.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String("dropped")}); err != nil {
		t.Fatal(err)
	}
	before, err := e.c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("kept")})
	if err != nil {
		t.Fatal(err)
	}
	e.srv.Close()

	e = newDDBEnv(t, file, Options{})
	defer e.srv.Close()
	after, err := e.c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("kept")})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before.Table, after.Table, cmpopts.IgnoreUnexported(types.TableDescription{}, types.AttributeDefinition{}, types.KeySchemaElement{},
		types.BillingModeSummary{}, types.ProvisionedThroughputDescription{})); diff != "" {
		t.Errorf("table after a restart (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(one, e.get(t, "kept", map[string]types.AttributeValue{"pk": avS("one")}), avCmp); diff != "" {
		t.Errorf("item after a restart (-want +got):\n%s", diff)
	}
	if got := e.get(t, "kept", map[string]types.AttributeValue{"pk": avS("two")}); got != nil {
		t.Errorf("a deleted item came back: %v", got)
	}
	ttl, err := e.c.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String("kept")})
	if err != nil || ttl.TimeToLiveDescription.TimeToLiveStatus != types.TimeToLiveStatusEnabled {
		t.Errorf("TTL after a restart: %+v, %v", ttl, err)
	}
	list, err := e.c.ListTables(ctx, &dynamodb.ListTablesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"kept"}, list.TableNames); diff != "" {
		t.Errorf("tables after a restart (-want +got):\n%s", diff)
	}
}

// TestDynamoDBWire checks what the SDK does not show: error __type values
// as DynamoDB sends them, the CRC32 header, and faults in the protocol.
func TestDynamoDBWire(t *testing.T) {
	e := newDDBEnv(t, "", Options{Faults: []Fault{{Service: "dynamodb", Op: "DescribeTable", Mode: "error", Rate: 1}}})
	defer e.srv.Close()
	e.table(t, "wire", types.ScalarAttributeTypeS, "")
	e.put(t, "wire", map[string]types.AttributeValue{"pk": avS("k")})
	for _, tc := range []struct {
		name, op, body string
		status         int
		typ            string
	}{
		{"a failed condition", "PutItem", `{"TableName":"wire","Item":{"pk":{"S":"k"}},"ConditionExpression":"attribute_not_exists(pk)"}`,
			400, "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException"},
		{"a validation error", "PutItem", `{"TableName":"wire","Item":{}}`, 400, "com.amazon.coral.validate#ValidationException"},
		{"an unknown table", "GetItem", `{"TableName":"nope","Key":{"pk":{"S":"k"}}}`, 400, "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"},
		{"not JSON", "GetItem", `{`, 400, "com.amazon.coral.service#SerializationException"},
		{"a duplicate member", "GetItem", `{"TableName":"wire","TableName":"other","Key":{"pk":{"S":"k"}}}`, 400, "com.amazon.coral.service#SerializationException"},
		{"an unknown operation", "Query", `{}`, 400, "com.amazon.coral.service#UnknownOperationException"},
		{"an injected fault", "DescribeTable", `{"TableName":"wire"}`, 500, "com.amazon.coral.service#InternalFailure"},
		{"success", "GetItem", `{"TableName":"wire","Key":{"pk":{"S":"k"}}}`, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, e.url, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", wire.JSON10)
			req.Header.Set("X-Amz-Target", "DynamoDB_20120810."+tc.op)
			resp, err := e.hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			if ct := resp.Header.Get("Content-Type"); ct != wire.JSON10 {
				t.Errorf("Content-Type %q", ct)
			}
			if crc := resp.Header.Get("X-Amz-Crc32"); crc != strconv.FormatUint(uint64(crc32.ChecksumIEEE(b)), 10) {
				t.Errorf("X-Amz-Crc32 %q does not match the body", crc)
			}
			if tc.typ != "" && !strings.Contains(string(b), `"__type":"`+tc.typ+`"`) {
				t.Errorf("body %s lacks __type %s", b, tc.typ)
			}
		})
	}
	_, err := e.c.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String("wire")})
	var re interface{ HTTPStatusCode() int }
	if !errors.As(err, &re) || re.HTTPStatusCode() != 500 {
		t.Errorf("DescribeTable with an injected fault = %v, want HTTP 500", err)
	}
	wantDDBError(t, err, "InternalFailure")
}
