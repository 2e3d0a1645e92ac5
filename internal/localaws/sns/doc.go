// Package sns is the local endpoint's SNS. It answers the SNS query
// protocol (form-encoded Action=...&Version=2010-03-31, XML answers): CreateTopic, DeleteTopic, ListTopics, Subscribe,
// Unsubscribe, ListSubscriptions, ListSubscriptionsByTopic, GetTopicAttributes,
// SetTopicAttributes and Publish.
//
// A topic's KmsMasterKeyId attribute (set by CreateTopic or
// SetTopicAttributes) names its KMS key: no key is used, messages are kept
// as they are, but under the server's Options.EnforceIAM a publisher needs
// kms:GenerateDataKey and kms:Decrypt on the key besides sns:Publish
// (PublishAccess), as on AWS.
//
// Every published message is recorded (Messages, and GET
// /_rotor/sns/messages as a JSON array, optionally filtered with
// ?topicArn=ARN) and delivered to the topic's subscriptions:
//
//   - http and https: the standard notification JSON
//     ({"Type":"Notification","MessageId","TopicArn","Subject","Message",
//     "Timestamp",...}) is POSTed to Endpoint in the background, once, with
//     a 5 s timeout; failures are logged. Notifications are not signed (no
//     Signature or SigningCertURL), subscriptions need no confirmation, and
//     the RawMessageDelivery attribute ("true") posts the message alone.
//   - file (a rotor extension): Endpoint is an absolute file path; the
//     notification JSON is appended to it as one line before Publish
//     returns.
//
// Other protocols (sqs, lambda, email, ...) are refused with
// InvalidParameter. Topics, subscriptions and messages persist in bbolt
// bucket "sns" when the server has a data file.
package sns
