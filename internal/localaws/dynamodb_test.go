package localaws

import (
	"errors"
	"net/http"
	"strings"
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
