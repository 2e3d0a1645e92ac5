package dynamodb

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"
	"go.etcd.io/bbolt"

	"github.com/rotorhq/rotor/internal/localaws/wire"
	"github.com/rotorhq/rotor/internal/paginate"
)

func (d *Service) createTable(body []byte) ([]byte, error) {
	var in struct {
		TableName            string
		AttributeDefinitions []struct{ AttributeName, AttributeType string }
		KeySchema            []struct{ AttributeName, KeyType string }
		BillingMode          string
		// Pointers tell a member left out from a zero.
		ProvisionedThroughput *struct{ ReadCapacityUnits, WriteCapacityUnits *int64 }
	}
	if err := ddbDecode("CreateTable", body, &in); err != nil {
		return nil, err
	}
	switch {
	case in.TableName == "":
		return nil, ddbNull("tableName")
	case !ddbTableNameRE.MatchString(in.TableName):
		return nil, ddbValidation("1 validation error detected: Value '%s' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+ and have length between 3 and 255", in.TableName)
	case len(in.KeySchema) == 0:
		return nil, ddbNull("keySchema")
	case len(in.AttributeDefinitions) == 0:
		return nil, ddbNull("attributeDefinitions")
	case len(in.KeySchema) > 2:
		return nil, ddbValidation("1 validation error detected: Value at 'keySchema' failed to satisfy constraint: Member must have length less than or equal to 2")
	}
	types := map[string]string{}
	for _, a := range in.AttributeDefinitions {
		if a.AttributeType != "S" && a.AttributeType != "N" && a.AttributeType != "B" {
			return nil, ddbValidation("1 validation error detected: Value '%s' at 'attributeDefinitions.member.attributeType' failed to satisfy constraint: Member must satisfy enum value set: [B, N, S]", a.AttributeType)
		}
		if a.AttributeName == "" {
			return nil, ddbNull("attributeDefinitions.member.attributeName")
		}
		if _, dup := types[a.AttributeName]; dup {
			return nil, ddbValidation("Cannot have two attributes with the same name: %s", a.AttributeName)
		}
		types[a.AttributeName] = a.AttributeType
	}
	t := &ddbTable{Name: in.TableName, ARN: fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s", d.region, d.account, in.TableName),
		ID: uuid.NewString(), Created: d.now().UTC(), items: map[string]ddbItem{}}
	for i, k := range in.KeySchema {
		want := [2]string{"HASH", "RANGE"}[i]
		if k.KeyType != want {
			return nil, ddbValidation("Invalid KeySchema: The first KeySchemaElement is not a HASH key type, or the second is not a RANGE key type")
		}
		typ, ok := types[k.AttributeName]
		if !ok {
			return nil, ddbValidation("One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [%s], AttributeDefinitions: [%s]", k.AttributeName, strings.Join(slices.Sorted(maps.Keys(types)), ", "))
		}
		if i == 1 && k.AttributeName == in.KeySchema[0].AttributeName {
			return nil, ddbValidation("Invalid KeySchema: Some index key attribute have no definition")
		}
		t.Keys = append(t.Keys, ddbKey{Name: k.AttributeName, Type: typ})
	}
	if len(types) != len(t.Keys) {
		return nil, ddbValidation("One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions")
	}
	switch in.BillingMode {
	case "PAY_PER_REQUEST":
		if in.ProvisionedThroughput != nil {
			return nil, ddbValidation("One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST")
		}
	case "", "PROVISIONED": // AWS's default
		pt := in.ProvisionedThroughput
		if pt == nil || pt.ReadCapacityUnits == nil || pt.WriteCapacityUnits == nil {
			return nil, ddbValidation("One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED")
		}
		if *pt.ReadCapacityUnits < 1 || *pt.WriteCapacityUnits < 1 {
			return nil, ddbValidation("1 validation error detected: Value at 'provisionedThroughput' failed to satisfy constraint: ReadCapacityUnits and WriteCapacityUnits must be at least 1")
		}
		t.Read, t.Write = *pt.ReadCapacityUnits, *pt.WriteCapacityUnits
	default:
		return nil, ddbValidation("1 validation error detected: Value '%s' at 'billingMode' failed to satisfy constraint: Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]", in.BillingMode)
	}
	t.BillingMode = in.BillingMode
	if t.BillingMode == "" {
		t.BillingMode = "PROVISIONED"
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.tables[t.Name]; ok {
		return nil, &wire.Error{Code: "ResourceInUseException", Message: "Table already exists: " + t.Name}
	}
	if err := d.save(t.Name, func(b *bbolt.Bucket) error { return wire.PutJSON(b, string(ddbTableRecord), t) }); err != nil {
		return nil, err
	}
	d.tables[t.Name] = t
	return wire.EncodeJSON(&dynamodb.CreateTableOutput{TableDescription: t.describe(ddbtypes.TableStatusActive)})
}

// describe is a table as DescribeTable shows it. Call with d.mu held.
func (t *ddbTable) describe(status ddbtypes.TableStatus) *ddbtypes.TableDescription {
	td := &ddbtypes.TableDescription{
		TableName: aws.String(t.Name), TableArn: aws.String(t.ARN), TableId: aws.String(t.ID),
		TableStatus: status, CreationDateTime: aws.Time(t.Created),
		ItemCount: aws.Int64(int64(len(t.items))), TableSizeBytes: aws.Int64(0),
		ProvisionedThroughput: &ddbtypes.ProvisionedThroughputDescription{NumberOfDecreasesToday: aws.Int64(0),
			ReadCapacityUnits: aws.Int64(t.Read), WriteCapacityUnits: aws.Int64(t.Write)},
		DeletionProtectionEnabled: aws.Bool(false),
	}
	var size int64
	for _, it := range t.items {
		size += int64(itemSize(it))
	}
	td.TableSizeBytes = aws.Int64(size)
	for i, k := range t.Keys {
		td.AttributeDefinitions = append(td.AttributeDefinitions, ddbtypes.AttributeDefinition{AttributeName: aws.String(k.Name), AttributeType: ddbtypes.ScalarAttributeType(k.Type)})
		td.KeySchema = append(td.KeySchema, ddbtypes.KeySchemaElement{AttributeName: aws.String(k.Name), KeyType: [2]ddbtypes.KeyType{ddbtypes.KeyTypeHash, ddbtypes.KeyTypeRange}[i]})
	}
	if t.BillingMode == "PAY_PER_REQUEST" {
		td.BillingModeSummary = &ddbtypes.BillingModeSummary{BillingMode: ddbtypes.BillingModePayPerRequest, LastUpdateToPayPerRequestDateTime: aws.Time(t.Created)}
	}
	return td
}

type ddbTableInput struct{ TableName string }

// onTable runs fn on the table an operation whose only member is TableName
// names, with d.mu held.
func (d *Service) onTable(op string, body []byte, fn func(t *ddbTable) ([]byte, error)) ([]byte, error) {
	var in ddbTableInput
	if err := ddbDecode(op, body, &in); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	t, err := d.table(in.TableName)
	if err != nil {
		return nil, err
	}
	return fn(t)
}

func (d *Service) describeTable(body []byte) ([]byte, error) {
	return d.onTable("DescribeTable", body, func(t *ddbTable) ([]byte, error) {
		return wire.EncodeJSON(&dynamodb.DescribeTableOutput{Table: t.describe(ddbtypes.TableStatusActive)})
	})
}

func (d *Service) deleteTable(body []byte) ([]byte, error) {
	return d.onTable("DeleteTable", body, func(t *ddbTable) ([]byte, error) {
		err := d.db.Update(func(root *bbolt.Bucket) error {
			if root.Bucket([]byte(t.Name)) != nil {
				return root.DeleteBucket([]byte(t.Name))
			}
			return nil
		}, ddbBucket)
		if err != nil {
			return nil, err
		}
		delete(d.tables, t.Name)
		return wire.EncodeJSON(&dynamodb.DeleteTableOutput{TableDescription: t.describe(ddbtypes.TableStatusDeleting)})
	})
}

func (d *Service) listTables(body []byte) ([]byte, error) {
	var in struct {
		ExclusiveStartTableName string
		Limit                   *int
	}
	if err := ddbDecode("ListTables", body, &in); err != nil {
		return nil, err
	}
	limit := 100
	if in.Limit != nil {
		if *in.Limit < 1 || *in.Limit > 100 {
			return nil, ddbValidation("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and 100", *in.Limit)
		}
		limit = *in.Limit
	}
	d.mu.Lock()
	names := slices.Sorted(maps.Keys(d.tables))
	d.mu.Unlock()
	// A start table deleted meanwhile still marks where the page starts.
	page, next, _ := paginate.Page(names, func(n string) string { return n }, in.ExclusiveStartTableName, limit, true)
	out := &dynamodb.ListTablesOutput{TableNames: append([]string{}, page...)}
	if next != "" {
		out.LastEvaluatedTableName = aws.String(next)
	}
	return wire.EncodeJSON(out)
}

func (d *Service) updateTimeToLive(body []byte) ([]byte, error) {
	var in struct {
		TableName               string
		TimeToLiveSpecification *struct {
			AttributeName string
			Enabled       *bool
		}
	}
	if err := ddbDecode("UpdateTimeToLive", body, &in); err != nil {
		return nil, err
	}
	spec := in.TimeToLiveSpecification
	switch {
	case spec == nil:
		return nil, ddbNull("timeToLiveSpecification")
	case spec.Enabled == nil:
		return nil, ddbNull("timeToLiveSpecification.enabled")
	case spec.AttributeName == "":
		return nil, ddbNull("timeToLiveSpecification.attributeName")
	case len(spec.AttributeName) > 255:
		return nil, ddbValidation("1 validation error detected: Value at 'timeToLiveSpecification.attributeName' failed to satisfy constraint: Member must have length less than or equal to 255")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	t, err := d.table(in.TableName)
	if err != nil {
		return nil, err
	}
	attr := ""
	switch {
	case *spec.Enabled && t.TTLAttr != "":
		return nil, ddbValidation("TimeToLive is already enabled")
	case !*spec.Enabled && t.TTLAttr == "":
		return nil, ddbValidation("TimeToLive is already disabled")
	case !*spec.Enabled && t.TTLAttr != spec.AttributeName:
		return nil, ddbValidation("TimeToLive is active on a different AttributeName: current AttributeName is %s", t.TTLAttr)
	case *spec.Enabled:
		attr = spec.AttributeName
	}
	c := *t
	c.TTLAttr = attr
	if err := d.save(t.Name, func(b *bbolt.Bucket) error { return wire.PutJSON(b, string(ddbTableRecord), &c) }); err != nil {
		return nil, err
	}
	t.TTLAttr = attr
	return wire.EncodeJSON(&dynamodb.UpdateTimeToLiveOutput{TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{
		AttributeName: aws.String(spec.AttributeName), Enabled: spec.Enabled}})
}

func (d *Service) describeTimeToLive(body []byte) ([]byte, error) {
	return d.onTable("DescribeTimeToLive", body, func(t *ddbTable) ([]byte, error) {
		desc := &ddbtypes.TimeToLiveDescription{TimeToLiveStatus: ddbtypes.TimeToLiveStatusDisabled}
		if t.TTLAttr != "" {
			desc = &ddbtypes.TimeToLiveDescription{TimeToLiveStatus: ddbtypes.TimeToLiveStatusEnabled, AttributeName: aws.String(t.TTLAttr)}
		}
		return wire.EncodeJSON(&dynamodb.DescribeTimeToLiveOutput{TimeToLiveDescription: desc})
	})
}
