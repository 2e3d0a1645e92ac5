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
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/rotorhq/rotor/internal/localaws/wire"
)

type ddbEnv struct {
	srv *Server
	url string
	hc  *http.Client
	clk *smClock
	c   *dynamodb.Client
}

// newDDBEnv starts a server (on data, "" for memory) with a settable
// clock and an SDK client that does not retry.
func newDDBEnv(t *testing.T, data string, opts Options) *ddbEnv {
	t.Helper()
	e := &ddbEnv{clk: &smClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}, hc: sdkTestHTTPClient(t)}
	opts.DataFile, opts.Now = data, e.clk.Now
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	e.url, err = srv.Start("127.0.0.1:0")
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	e.srv = srv
	e.c = dynamodb.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(e.url), HTTPClient: e.hc, RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCAL", "secret", "")})
	return e
}

// table creates an on-demand table keyed by pk (of type typ) and, if
// sortKey is set, by a string sort key.
func (e *ddbEnv) table(t *testing.T, name string, typ types.ScalarAttributeType, sortKey string) {
	t.Helper()
	in := &dynamodb.CreateTableInput{TableName: aws.String(name), BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: typ}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}}}
	if sortKey != "" {
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{AttributeName: aws.String(sortKey), AttributeType: types.ScalarAttributeTypeS})
		in.KeySchema = append(in.KeySchema, types.KeySchemaElement{AttributeName: aws.String(sortKey), KeyType: types.KeyTypeRange})
	}
	if _, err := e.c.CreateTable(t.Context(), in); err != nil {
		t.Fatalf("CreateTable %s: %v", name, err)
	}
}

func (e *ddbEnv) get(t *testing.T, table string, key map[string]types.AttributeValue) map[string]types.AttributeValue {
	t.Helper()
	out, err := e.c.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String(table), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatalf("GetItem: %v", err)
	}
	return out.Item
}

func (e *ddbEnv) put(t *testing.T, table string, item map[string]types.AttributeValue) {
	t.Helper()
	if _, err := e.c.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
		t.Fatalf("PutItem: %v", err)
	}
}

func avS(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }
func avN(n string) types.AttributeValue { return &types.AttributeValueMemberN{Value: n} }

// avCmp compares AttributeValues by content.
var avCmp = cmp.Options{cmpopts.IgnoreUnexported(types.AttributeValueMemberS{}, types.AttributeValueMemberN{},
	types.AttributeValueMemberB{}, types.AttributeValueMemberBOOL{}, types.AttributeValueMemberNULL{},
	types.AttributeValueMemberSS{}, types.AttributeValueMemberNS{}, types.AttributeValueMemberBS{},
	types.AttributeValueMemberL{}, types.AttributeValueMemberM{}), cmpopts.EquateEmpty()}

// wantDDBError checks err's code and that its message holds every part.
func wantDDBError(t *testing.T, err error, code string, parts ...string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("error = %v, want %s", err, code)
	}
	for _, p := range parts {
		if !strings.Contains(ae.ErrorMessage(), p) {
			t.Errorf("message %q lacks %q", ae.ErrorMessage(), p)
		}
	}
}

func TestDynamoDBTables(t *testing.T) {
	e := newDDBEnv(t, "", Options{})
	defer e.srv.Close()
	ctx := t.Context()
	e.table(t, "ledger", types.ScalarAttributeTypeS, "")

	t.Run("DescribeTable shows the table as created", func(t *testing.T) {
		out, err := e.c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("ledger")})
		if err != nil {
			t.Fatal(err)
		}
		want := &types.TableDescription{
			TableName: aws.String("ledger"), TableArn: aws.String("arn:aws:dynamodb:us-east-1:000000000000:table/ledger"),
			TableStatus: types.TableStatusActive, CreationDateTime: aws.Time(e.clk.Now()),
			AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
			KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
			BillingModeSummary:   &types.BillingModeSummary{BillingMode: types.BillingModePayPerRequest, LastUpdateToPayPerRequestDateTime: aws.Time(e.clk.Now())},
			ItemCount:            aws.Int64(0), TableSizeBytes: aws.Int64(0), DeletionProtectionEnabled: aws.Bool(false),
			ProvisionedThroughput: &types.ProvisionedThroughputDescription{NumberOfDecreasesToday: aws.Int64(0), ReadCapacityUnits: aws.Int64(0), WriteCapacityUnits: aws.Int64(0)},
		}
		if diff := cmp.Diff(want, out.Table, cmpopts.IgnoreUnexported(types.TableDescription{}, types.AttributeDefinition{}, types.KeySchemaElement{},
			types.BillingModeSummary{}, types.ProvisionedThroughputDescription{}), cmpopts.IgnoreFields(types.TableDescription{}, "TableId"), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("table (-want +got):\n%s", diff)
		}
		if out.Table.TableId == nil || len(*out.Table.TableId) != 36 {
			t.Errorf("TableId %v is not a UUID", out.Table.TableId)
		}
	})
	t.Run("a table with a sort key and provisioned throughput", func(t *testing.T) {
		_, err := e.c.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String("sorted"),
			AttributeDefinitions:  []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeN}, {AttributeName: aws.String("sk"), AttributeType: types.ScalarAttributeTypeB}},
			KeySchema:             []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}, {AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange}},
			ProvisionedThroughput: &types.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(5), WriteCapacityUnits: aws.Int64(2)}})
		if err != nil {
			t.Fatal(err)
		}
		out, err := e.c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("arn:aws:dynamodb:us-east-1:000000000000:table/sorted")})
		if err != nil {
			t.Fatal(err)
		}
		if got := out.Table; len(got.KeySchema) != 2 || got.KeySchema[1].KeyType != types.KeyTypeRange || got.BillingModeSummary != nil ||
			aws.ToInt64(got.ProvisionedThroughput.ReadCapacityUnits) != 5 || aws.ToInt64(got.ProvisionedThroughput.WriteCapacityUnits) != 2 {
			t.Errorf("table %+v", got)
		}
	})
	t.Run("ListTables pages in name order", func(t *testing.T) {
		e.table(t, "another", types.ScalarAttributeTypeS, "")
		var pages [][]string
		var start *string
		for {
			out, err := e.c.ListTables(ctx, &dynamodb.ListTablesInput{Limit: aws.Int32(2), ExclusiveStartTableName: start})
			if err != nil {
				t.Fatal(err)
			}
			pages = append(pages, out.TableNames)
			if start = out.LastEvaluatedTableName; start == nil {
				break
			}
		}
		if diff := cmp.Diff([][]string{{"another", "ledger"}, {"sorted"}}, pages); diff != "" {
			t.Errorf("pages (-want +got):\n%s", diff)
		}
	})
	t.Run("time to live", func(t *testing.T) {
		desc := func() *types.TimeToLiveDescription {
			out, err := e.c.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String("ledger")})
			if err != nil {
				t.Fatal(err)
			}
			return out.TimeToLiveDescription
		}
		update := func(enabled bool) error {
			_, err := e.c.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: aws.String("ledger"),
				TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String("expiresAt"), Enabled: aws.Bool(enabled)}})
			return err
		}
		ttlCmp := cmpopts.IgnoreUnexported(types.TimeToLiveDescription{})
		if diff := cmp.Diff(&types.TimeToLiveDescription{TimeToLiveStatus: types.TimeToLiveStatusDisabled}, desc(), ttlCmp); diff != "" {
			t.Errorf("before (-want +got):\n%s", diff)
		}
		wantDDBError(t, update(false), "ValidationException", "already disabled")
		if err := update(true); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(&types.TimeToLiveDescription{TimeToLiveStatus: types.TimeToLiveStatusEnabled, AttributeName: aws.String("expiresAt")}, desc(), ttlCmp); diff != "" {
			t.Errorf("enabled (-want +got):\n%s", diff)
		}
		wantDDBError(t, update(true), "ValidationException", "already enabled")
	})
	t.Run("DeleteTable", func(t *testing.T) {
		out, err := e.c.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String("another")})
		if err != nil || out.TableDescription.TableStatus != types.TableStatusDeleting {
			t.Fatalf("DeleteTable = %+v, %v", out, err)
		}
		_, err = e.c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("another")})
		var nf *types.ResourceNotFoundException
		if !errors.As(err, &nf) {
			t.Errorf("DescribeTable after DeleteTable = %v, want ResourceNotFoundException", err)
		}
	})

	key := []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}}
	defs := []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}}
	for _, tc := range []struct {
		name  string
		in    *dynamodb.CreateTableInput
		code  string
		parts []string
	}{
		{"an existing table", &dynamodb.CreateTableInput{TableName: aws.String("ledger"), KeySchema: key, AttributeDefinitions: defs, BillingMode: types.BillingModePayPerRequest},
			"ResourceInUseException", []string{"Table already exists: ledger"}},
		{"provisioned (the default) without throughput", &dynamodb.CreateTableInput{TableName: aws.String("t-new"), KeySchema: key, AttributeDefinitions: defs},
			"ValidationException", []string{"ReadCapacityUnits and WriteCapacityUnits must both be specified"}},
		{"on demand with throughput", &dynamodb.CreateTableInput{TableName: aws.String("t-new"), KeySchema: key, AttributeDefinitions: defs, BillingMode: types.BillingModePayPerRequest,
			ProvisionedThroughput: &types.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(1), WriteCapacityUnits: aws.Int64(1)}},
			"ValidationException", []string{"PAY_PER_REQUEST"}},
		{"a key without definition", &dynamodb.CreateTableInput{TableName: aws.String("t-new"), BillingMode: types.BillingModePayPerRequest, KeySchema: key,
			AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}}},
			"ValidationException", []string{"not defined in AttributeDefinitions", "pk"}},
		{"a definition no key uses", &dynamodb.CreateTableInput{TableName: aws.String("t-new"), BillingMode: types.BillingModePayPerRequest, KeySchema: key,
			AttributeDefinitions: append(defs, types.AttributeDefinition{AttributeName: aws.String("other"), AttributeType: types.ScalarAttributeTypeS})},
			"ValidationException", []string{"does not exactly match"}},
		{"a RANGE key first", &dynamodb.CreateTableInput{TableName: aws.String("t-new"), BillingMode: types.BillingModePayPerRequest, AttributeDefinitions: defs,
			KeySchema: []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeRange}}},
			"ValidationException", []string{"HASH"}},
		{"a BOOL key", &dynamodb.CreateTableInput{TableName: aws.String("t-new"), BillingMode: types.BillingModePayPerRequest, KeySchema: key,
			AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: "BOOL"}}},
			"ValidationException", []string{"attributeType"}},
		{"a name too short", &dynamodb.CreateTableInput{TableName: aws.String("ab"), KeySchema: key, AttributeDefinitions: defs, BillingMode: types.BillingModePayPerRequest},
			"ValidationException", []string{"tableName"}},
		{"a global secondary index", &dynamodb.CreateTableInput{TableName: aws.String("t-new"), KeySchema: key, AttributeDefinitions: defs, BillingMode: types.BillingModePayPerRequest,
			GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{IndexName: aws.String("i"), KeySchema: key, Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll}}}},
			"ValidationException", []string{"does not support", "GlobalSecondaryIndexes"}},
		{"tags", &dynamodb.CreateTableInput{TableName: aws.String("t-new"), KeySchema: key, AttributeDefinitions: defs, BillingMode: types.BillingModePayPerRequest,
			Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}},
			"ValidationException", []string{"does not support", "Tags"}},
	} {
		t.Run("CreateTable refuses "+tc.name, func(t *testing.T) {
			_, err := e.c.CreateTable(ctx, tc.in)
			wantDDBError(t, err, tc.code, tc.parts...)
			if _, err := e.c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("t-new")}); err == nil {
				t.Errorf("the refused table exists")
			}
		})
	}
}

func TestDynamoDBItems(t *testing.T) {
	e := newDDBEnv(t, "", Options{})
	defer e.srv.Close()
	ctx := t.Context()
	e.table(t, "items", types.ScalarAttributeTypeS, "")
	e.table(t, "numbers", types.ScalarAttributeTypeN, "")
	e.table(t, "sorted", types.ScalarAttributeTypeS, "sk")

	t.Run("every attribute type round-trips", func(t *testing.T) {
		item := map[string]types.AttributeValue{
			"pk":   avS("all"),
			"s":    avS("héllo \"quoted\" \u2028"),
			"n":    avN("-12.5e3"),
			"b":    &types.AttributeValueMemberB{Value: []byte{0, 1, 0xfe, 0xff}},
			"bool": &types.AttributeValueMemberBOOL{Value: false},
			"null": &types.AttributeValueMemberNULL{Value: true},
			"ss":   &types.AttributeValueMemberSS{Value: []string{"b", "a"}},
			"ns":   &types.AttributeValueMemberNS{Value: []string{"1", "2.5"}},
			"bs":   &types.AttributeValueMemberBS{Value: [][]byte{{1}, {2}}},
			"l":    &types.AttributeValueMemberL{Value: []types.AttributeValue{avS("x"), &types.AttributeValueMemberL{Value: []types.AttributeValue{}}}},
			"m":    &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"inner": avN("1"), "empty": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}}}},
		}
		e.put(t, "items", item)
		if diff := cmp.Diff(item, e.get(t, "items", map[string]types.AttributeValue{"pk": avS("all")}), avCmp); diff != "" {
			t.Errorf("item (-want +got):\n%s", diff)
		}
	})
	t.Run("a missing item reads as none", func(t *testing.T) {
		if got := e.get(t, "items", map[string]types.AttributeValue{"pk": avS("none")}); got != nil {
			t.Errorf("item %v", got)
		}
	})
	t.Run("number keys are one key per value", func(t *testing.T) {
		e.put(t, "numbers", map[string]types.AttributeValue{"pk": avN("1.50"), "v": avS("first")})
		e.put(t, "numbers", map[string]types.AttributeValue{"pk": avN("15e-1"), "v": avS("second")})
		got := e.get(t, "numbers", map[string]types.AttributeValue{"pk": avN("1.5")})
		if diff := cmp.Diff(avS("second"), got["v"], avCmp); diff != "" {
			t.Errorf("v (-want +got):\n%s", diff)
		}
		out, _ := e.c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("numbers")})
		if n := aws.ToInt64(out.Table.ItemCount); n != 1 {
			t.Errorf("ItemCount %d, want 1", n)
		}
	})
	t.Run("sort keys", func(t *testing.T) {
		e.put(t, "sorted", map[string]types.AttributeValue{"pk": avS("p"), "sk": avS("1"), "v": avS("one")})
		e.put(t, "sorted", map[string]types.AttributeValue{"pk": avS("p"), "sk": avS("2"), "v": avS("two")})
		got := e.get(t, "sorted", map[string]types.AttributeValue{"pk": avS("p"), "sk": avS("2")})
		if diff := cmp.Diff(avS("two"), got["v"], avCmp); diff != "" {
			t.Errorf("v (-want +got):\n%s", diff)
		}
	})
	t.Run("ReturnValues ALL_OLD", func(t *testing.T) {
		key := map[string]types.AttributeValue{"pk": avS("rv")}
		put := func() map[string]types.AttributeValue {
			out, err := e.c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("items"), ReturnValues: types.ReturnValueAllOld,
				Item: map[string]types.AttributeValue{"pk": avS("rv"), "v": avS("x")}})
			if err != nil {
				t.Fatal(err)
			}
			return out.Attributes
		}
		if old := put(); old != nil {
			t.Errorf("first put returned %v", old)
		}
		if diff := cmp.Diff(map[string]types.AttributeValue{"pk": avS("rv"), "v": avS("x")}, put(), avCmp); diff != "" {
			t.Errorf("second put (-want +got):\n%s", diff)
		}
		out, err := e.c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String("items"), Key: key, ReturnValues: types.ReturnValueAllOld})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]types.AttributeValue{"pk": avS("rv"), "v": avS("x")}, out.Attributes, avCmp); diff != "" {
			t.Errorf("delete (-want +got):\n%s", diff)
		}
		if got := e.get(t, "items", key); got != nil {
			t.Errorf("deleted item reads %v", got)
		}
		if _, err := e.c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String("items"), Key: key}); err != nil {
			t.Errorf("deleting a missing item: %v", err)
		}
	})

	for _, tc := range []struct {
		name  string
		call  func() error
		code  string
		parts []string
	}{
		{"an item without its key", func() error {
			_, err := e.c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("items"), Item: map[string]types.AttributeValue{"v": avS("x")}})
			return err
		}, "ValidationException", []string{"Missing the key pk"}},
		{"a key of the wrong type", func() error {
			_, err := e.c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("items"), Item: map[string]types.AttributeValue{"pk": avN("1")}})
			return err
		}, "ValidationException", []string{"Type mismatch for key pk expected: S actual: N"}},
		{"an empty string key", func() error {
			_, err := e.c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("items"), Item: map[string]types.AttributeValue{"pk": avS("")}})
			return err
		}, "ValidationException", []string{"empty string", "Key: pk"}},
		{"a partition key over 2048 bytes", func() error {
			_, err := e.c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("items"), Item: map[string]types.AttributeValue{"pk": avS(strings.Repeat("k", 2049))}})
			return err
		}, "ValidationException", []string{"2048"}},
		{"a Key with an attribute besides the key", func() error {
			_, err := e.c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("items"), Key: map[string]types.AttributeValue{"pk": avS("all"), "v": avS("x")}})
			return err
		}, "ValidationException", []string{"The provided key element does not match the schema"}},
		{"a Key lacking the sort key", func() error {
			_, err := e.c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String("sorted"), Key: map[string]types.AttributeValue{"pk": avS("p")}})
			return err
		}, "ValidationException", []string{"The provided key element does not match the schema"}},
		{"an unknown table", func() error {
			_, err := e.c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("nope"), Key: map[string]types.AttributeValue{"pk": avS("all")}})
			return err
		}, "ResourceNotFoundException", nil},
		{"ProjectionExpression", func() error {
			_, err := e.c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("items"), ProjectionExpression: aws.String("pk"), Key: map[string]types.AttributeValue{"pk": avS("all")}})
			return err
		}, "ValidationException", []string{"does not support GetItem's member ProjectionExpression"}},
		{"the legacy Expected", func() error {
			_, err := e.c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("items"), Item: map[string]types.AttributeValue{"pk": avS("all")},
				Expected: map[string]types.ExpectedAttributeValue{"pk": {Exists: aws.Bool(false)}}})
			return err
		}, "ValidationException", []string{"does not support PutItem's member Expected"}},
		{"ReturnValues UPDATED_NEW", func() error {
			_, err := e.c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("items"), Item: map[string]types.AttributeValue{"pk": avS("all")}, ReturnValues: types.ReturnValueUpdatedNew})
			return err
		}, "ValidationException", []string{"ReturnValues UPDATED_NEW"}},
		{"ReturnConsumedCapacity TOTAL", func() error {
			_, err := e.c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("items"), Key: map[string]types.AttributeValue{"pk": avS("all")}, ReturnConsumedCapacity: types.ReturnConsumedCapacityTotal})
			return err
		}, "ValidationException", []string{"ReturnConsumedCapacity TOTAL"}},
		{"an operation not implemented", func() error {
			_, err := e.c.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String("items")})
			return err
		}, "UnknownOperationException", []string{"Scan"}},
	} {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			before := e.get(t, "items", map[string]types.AttributeValue{"pk": avS("all")})
			wantDDBError(t, tc.call(), tc.code, tc.parts...)
			if diff := cmp.Diff(before, e.get(t, "items", map[string]types.AttributeValue{"pk": avS("all")}), avCmp); diff != "" {
				t.Errorf("a refused request changed the item (-before +after):\n%s", diff)
			}
		})
	}
}

// TestDynamoDBValues: invalid AttributeValues are ValidationExceptions
// naming the attribute, never quoting a value, and store nothing.
func TestDynamoDBValues(t *testing.T) {
	e := newDDBEnv(t, "", Options{})
	defer e.srv.Close()
	e.table(t, "vals", types.ScalarAttributeTypeS, "")
	const secret = "s3cr3t"
	deep := types.AttributeValue(avS(secret))
	for range 33 {
		deep = &types.AttributeValueMemberL{Value: []types.AttributeValue{deep}}
	}
	for _, tc := range []struct {
		name  string
		v     types.AttributeValue
		parts []string
	}{
		{"a number that is not one", avN(secret), []string{"cannot be converted into a number", "Item.v"}},
		{"a number with 39 digits", avN("1" + strings.Repeat("2", 38)), []string{"38 significant digits"}},
		{"a number too large", avN("1e126"), []string{"overflow"}},
		{"a number too small", avN("1e-131"), []string{"underflow"}},
		{"a number with a huge exponent", avN("1e-99999999999999999999"), []string{"underflow"}},
		{"a hexadecimal number", avN("0x10"), []string{"cannot be converted"}},
		{"an empty string set", &types.AttributeValueMemberSS{Value: []string{}}, []string{"string set may not be empty"}},
		{"a string set with duplicates", &types.AttributeValueMemberSS{Value: []string{secret, secret}}, []string{"duplicates"}},
		{"a number set with equal numbers", &types.AttributeValueMemberNS{Value: []string{"1", "1.0"}}, []string{"duplicates"}},
		{"a NULL that is false", &types.AttributeValueMemberNULL{Value: false}, []string{"Null attribute value types must have the value of true"}},
		{"nesting over 32 levels", deep, []string{"Nesting Levels"}},
		{"an item over 400 KB", avS(strings.Repeat("x", 400<<10)), []string{"Item size has exceeded"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.c.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String("vals"), Item: map[string]types.AttributeValue{"pk": avS("k"), "v": tc.v}})
			wantDDBError(t, err, "ValidationException", tc.parts...)
			if strings.Contains(err.Error(), secret) {
				t.Errorf("the error quotes a value: %v", err)
			}
			if got := e.get(t, "vals", map[string]types.AttributeValue{"pk": avS("k")}); got != nil {
				t.Errorf("a refused item was stored: %v", got)
			}
		})
	}

	// What the SDK cannot send: AttributeValues that are not one type.
	for _, tc := range []struct{ name, v, part string }{
		{"an empty AttributeValue", `{}`, "empty"},
		{"two data types", `{"S":"a","N":"1"}`, "more than one datatypes"},
		{"an unknown data type", `{"X":"a"}`, "unknown data type X"},
		{"S holding a number", `{"S":1}`, "must be a string"},
		{"B that is not base64", `{"B":"***"}`, "not base64"},
	} {
		t.Run("wire: "+tc.name, func(t *testing.T) {
			status, body := rawRequest(t, e.hc, http.MethodPost, e.url, "", `{"TableName":"vals","Item":{"pk":{"S":"k"},"v":`+tc.v+`}}`,
				map[string]string{"Content-Type": wire.JSON10, "X-Amz-Target": "DynamoDB_20120810.PutItem"})
			if status != http.StatusBadRequest || !strings.Contains(body, "ValidationException") || !strings.Contains(body, tc.part) {
				t.Errorf("status %d, body %s; want 400 ValidationException with %q", status, body, tc.part)
			}
		})
	}
}

// TestDynamoDBConditions evaluates conditions against a stored item (and
// against no item) through PutItem and DeleteItem: a condition that fails
// is ConditionalCheckFailedException and changes nothing.
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
