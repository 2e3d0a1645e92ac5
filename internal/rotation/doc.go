// Package rotation is rotor's rotation protocol as plain Go: the steps the
// Lambda functions run (resolve, create, switchover, verify, expire, and the
// expire function's rollback and cleanup actions), over a small Secrets
// Manager interface that both the AWS SDK client and the in-memory smstore
// satisfy.
//
// The contract (docs/architecture.md, "The version protocol"):
//
//   - The token is made by the state machine once per secret rotated and is
//     the new version's id (the ClientRequestToken). Every step is idempotent
//     for its token, because Step Functions retries and a response may be lost
//     after its effect.
//   - create records a credential before it returns: a minted key is stored
//     AWSPENDING before the step succeeds (and revoked by token if its
//     response was lost), an applied password is stored AWSPENDING before it
//     is applied. Another rotation's fresh AWSPENDING is Rotor.Conflict; one
//     older than the lock TTL is reclaimed (revoked, unlabelled).
//   - switchover moves AWSCURRENT from the previous version to the token and
//     removes AWSPENDING; verify proves the credential that is now current
//     works, using only itself.
//   - expire never touches an AWSCURRENT version; it revokes the previous
//     credential and labels its version ROTOR_REVOKED. In emergency mode it
//     revokes every version that is neither current nor pending.
//   - rollback moves AWSCURRENT back, revokes the new credential and labels
//     the token ROTOR_FAILED; cleanup does the same for a rotation that never
//     switched over.
//   - Only create and expire (with rollback and cleanup) read master secrets;
//     switchover and verify never do.
//   - Payloads carry ids only. Errors are typed (rotorerr) and mapped once, at
//     the Lambda boundary (Handler), to the Rotor.* names; their messages and
//     every log line pass through the invocation's redaction set.
package rotation
