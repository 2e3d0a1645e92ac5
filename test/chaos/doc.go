// Package chaos runs rotor on the local endpoint the way an operator's bad
// day would go, and checks after every rotation and at the end that nothing
// unsafe is left (issue 11, build point 5).
//
// Run starts an Endpoint (`rotor local serve` as a child process, or
// rotorlocal in this process), creates a mix of managed secrets (random;
// awsiam on IAM users of the local endpoint that consent by their
// rotor:secret tag; httpapi against a key API of internal/keyservice on
// loopback, one per secret, whose master consents with Serves), rotates each
// once without faults (but every other awsiam secret, which starts with no
// key so that its first key is minted under faults), then restarts the
// endpoint with faults injected into
// every Secrets Manager write and every IAM and STS call (and the key APIs'
// own faults: 500s and answers lost after the call took effect) and drives
// a load planned from a seed: single rotations, two rotations of one secret
// racing, leak alerts (GuardDuty findings and signed generic webhook alerts)
// racing rotations, grace periods of 0 to MaxGrace seconds, and SIGKILLs of
// the endpoint followed by restarts on its data file.
//
// Each secret runs its planned bursts one after the other; a burst ends
// when every execution it started has ended, and the secret is then checked
// (quiescent: no execution of it runs):
//
//   - exactly one version is AWSCURRENT, and none is AWSPENDING;
//   - the current credential works at its provider (STS GetCallerIdentity
//     signed with the awsiam key answers the secret's user; the key API
//     accepts the httpapi key; a random value is not empty);
//   - every live credential at the provider (active IAM keys of the user,
//     live keys of the key API) is held by a labelled version: by
//     AWSCURRENT, or, when by a version that is not current, one labelled
//     neither ROTOR_REVOKED nor ROTOR_FAILED (rotor would then claim it
//     revoked), and only with a notification saying "NOT revoked" that
//     names the version or key, after which the harness revokes it as the
//     person told would, and counts a person needed;
//
// and at the end, after every execution ended (those resumed after a
// restart included) and the endpoint restarted without faults:
//
//   - the same checks for every secret, and a fault-free rotation of each
//     secret that had no violation succeeds (no lock, no leftover blocks it);
//   - no secret value (every value the harness read or minted, in every
//     encoding redact.Encodings lists) appears in any execution history, any
//     SNS message or the endpoint's and functions' output;
//   - every execution that failed published a notification naming it.
//
// A secret with a violation gets no further load: its state is reported
// once rather than compounded. A Report counts executions, successes,
// failures by error, persons needed, violations by kind (each with its
// evidence: the failed tasks' errors and causes, secret values masked), and
// the time from a rotation's start to the state passing the checks.
//
// The plan (which secrets, which bursts, grace periods, delays, when the
// endpoint is killed) is a function of the seed; the endpoint draws its
// faults from its own random source, and goroutines interleave as they do,
// so two runs of a seed are alike, not identical.
package chaos
