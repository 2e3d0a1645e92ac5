// Package secretsmanager is the local endpoint's Secrets Manager. It
// serves AWS Secrets Manager's awsJson1.1 protocol (POST /, X-Amz-Target: secretsmanager.OPERATION) from an smstore.Store,
// which holds every rule of the service: requests decode into the SDK's own
// input types, the store's outputs and typed errors go back as they are.
//
// Operations: CreateSecret, DescribeSecret, GetSecretValue, PutSecretValue,
// UpdateSecretVersionStage, ListSecretVersionIds, ListSecrets, TagResource,
// UntagResource, DeleteSecret, RestoreSecret. Any other operation is
// UnknownOperationException.
//
// With a data file the store is loaded from bucket "secretsmanager", key
// "store", and saved there (a whole smstore snapshot, in one bbolt
// transaction) after every successful write operation before it is
// answered, so an answered write survives a crash. GetSecretValue changes
// state too (it stamps LastAccessedDate, at day resolution); it saves only
// when that changes what the data file holds, that is at the first read of
// a version on a given day (per process), so reads cost no disk write in
// the common case. Secrets whose deletion date has passed are purged from
// memory lazily by any operation and from the data file by the next save;
// until then a restart loads them and purges them again at once, which
// callers cannot tell apart.
package secretsmanager
