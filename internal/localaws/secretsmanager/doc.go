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
// With a data file the store is kept as one record per secret (its JSON,
// values included) in bucket "secretsmanager", nested bucket "secrets",
// keyed by the secret's name, beside a header (format, region, account)
// under key "store". After every successful write operation the records
// of the secrets it changed are written, in one bbolt transaction, before
// it is answered, so an answered write survives a crash and costs the
// secrets it changed, not the whole store. GetSecretValue changes state
// too (it stamps LastAccessedDate, at day resolution); it writes only when
// that changes, at the first read of a version on a given day, so reads
// cost no disk write in the common case. Secrets whose deletion date has
// passed are purged from memory lazily by any operation and from the data
// file by the next write; until then a restart loads them and purges them
// again at once, which callers cannot tell apart. A data file written
// before records existed (the whole store as one snapshot under "store")
// is converted when the service starts.
package secretsmanager
