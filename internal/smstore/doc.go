// Package smstore is an in-memory model of AWS Secrets Manager's secrets,
// versions and staging labels.
//
// It is the one place in rotor where Secrets Manager's rules are written down
// as code. Unit tests of the rotation engine use a *Store directly as their
// Secrets Manager client (its methods have the same signatures as the
// methods of *secretsmanager.Client and take and return the SDK's own input,
// output and error types), and the offline endpoint serves a *Store to the
// real SDK over the awsJson1.1 protocol.
//
// # What it models
//
//   - Secrets, addressed by name, full ARN or partial ARN (the ARN without
//     its "-XXXXXX" suffix); ARNs are
//     arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-XXXXXX.
//   - Immutable versions created by CreateSecret and PutSecretValue, with
//     ClientRequestToken idempotency (same token and value: ignored; same
//     token and another value: ResourceExistsException).
//   - Staging labels: each label on at most one version, at most 20 labels a
//     version, AWSCURRENT on exactly one version whenever the secret has a
//     value, AWSPREVIOUS following AWSCURRENT whenever AWSCURRENT moves.
//     Versions without labels are deprecated; when a secret has more than
//     100 versions the oldest deprecated ones are removed.
//   - Description, KMS key id (stored and echoed, never used), tags (at
//     most 50), created, last changed and last accessed dates (the last
//     accessed date truncated to the day, as AWS reports it).
//   - Scheduled deletion with a 7 to 30 day recovery window, forced
//     deletion, restore, and the lazy purge of secrets whose deletion date
//     has passed (checked on every call, against Options.Now).
//   - ListSecrets filters, sorting and pagination, ListSecretVersionIds
//     pagination, with opaque NextTokens.
//   - Snapshot and Load: a deterministic JSON image of the whole state,
//     secret values included, for persistence.
//   - Header, Records, Changes and LoadRecords: the same state as one
//     record per secret, for a host that keeps it in a key-value file and
//     writes, after each call, only the records of the secrets that call
//     changed (Changes), so that a write costs that secret, not the store.
//
// # What it deliberately does not model
//
//   - KMS: values are stored in plain memory; KmsKeyId is only recorded.
//     There is no DecryptionFailure or EncryptionFailure.
//   - Replication (AddReplicaRegions and the replica operations),
//     resource policies, rotation configuration (RotateSecret,
//     CancelRotateSecret, RotationRules, RotationLambdaARN), managed
//     external secrets (Type) and secrets owned by other services.
//     CreateSecret refuses AddReplicaRegions and Type rather than ignore them.
//   - IAM and request throttling; eventual consistency (every call sees the
//     result of every earlier call).
//   - The 24-hour retention of recent deprecated versions: only the
//     100-version rule is applied.
//
// Errors are always one of the SDK's typed errors
// (*types.ResourceNotFoundException, *types.InvalidParameterException,
// *types.InvalidRequestException, *types.ResourceExistsException,
// *types.LimitExceededException, *types.InvalidNextTokenException, and
// *types.InternalServiceError when Options.Rand fails), or the context's
// error when the context is already done. Request validation that AWS
// performs at its front end and reports as ValidationException (which the
// SDK has no type for) is reported as InvalidParameterException. No error
// message ever contains a secret value.
//
// Lookups by name and by ARN are map lookups, and the purge scans the
// secrets only once a deletion date has passed, so an operation's cost
// does not grow with the number of secrets (ListSecrets excepted).
//
// Every output is a fresh copy: callers may modify what they get back, and
// what they passed in, without touching the store. A *Store is safe for
// concurrent use.
//
// Where the API reference leaves AWS's behaviour open, the code says what it
// chose and marks the choice with "Guess:".
package smstore
