// Package dynamodb is the local endpoint's DynamoDB. It serves the DynamoDB
// API (awsJson1.0, X-Amz-Target
// DynamoDB_20120810.<Op>, SigV4 signing name "dynamodb") for tables keyed
// by a partition key (and optionally a sort key) and single items:
//
//   - Tables: CreateTable (key attributes of type S, N or B; BillingMode
//     PAY_PER_REQUEST, or PROVISIONED, AWS's default, with
//     ProvisionedThroughput), DescribeTable, DeleteTable, ListTables,
//     UpdateTimeToLive and DescribeTimeToLive. A table is ACTIVE from its
//     creation and gone at its deletion (AWS passes through CREATING and
//     DELETING).
//   - Items: PutItem, GetItem and DeleteItem, with ConditionExpression on
//     the writes (see condition.go for what it may hold),
//     ExpressionAttributeNames and ExpressionAttributeValues, ReturnValues
//     and ReturnValuesOnConditionCheckFailure NONE or ALL_OLD. Every read
//     is strongly consistent, and requests are served one at a time, so a
//     conditional write is atomic as on AWS.
//
// Requests are decoded strictly: a member this endpoint does not implement
// (Expected, ProjectionExpression, GlobalSecondaryIndexes, ...) is a
// ValidationException naming it, never ignored. Items keep each attribute
// value as its wire JSON ({"S":"..."}), validated as DynamoDB does (one data
// type, numbers of at most 38 digits in DynamoDB's range, sets non-empty and
// without duplicates, nesting at most 32 levels, items at most 400 KB), and
// key attributes must be present with their declared type. Error messages
// name attributes and placeholders, never a value.
//
// Time to live, as on AWS, deletes expired items only eventually: an
// expired item stays readable and still satisfies attribute_exists until it
// is purged, which happens here during a write to its table at most once a
// minute (items whose TTL attribute, a number of epoch seconds, is past, and
// less than five years past, as AWS's sweeper does).
//
// Tables and items persist in bbolt bucket "dynamodb" when the server has a
// data file (wire.DB), one sub-bucket per table holding "table" (its description)
// and "item:<key>" (each item's wire JSON).
package dynamodb
