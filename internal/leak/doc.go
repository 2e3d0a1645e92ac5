// Package leak turns leak alerts from five sources into one normalized
// Alert, and checks the signatures of the webhooks that carry two of them.
//
// Sources and what they name:
//
//   - "guardduty": an EventBridge event of a GuardDuty finding about an IAM
//     access key (ParseGuardDuty); names the key id.
//   - "health": an EventBridge event of AWS Health's RISK service saying
//     credentials were exposed or compromised (ParseHealth); names key ids.
//   - "github": GitHub's secret_scanning_alert webhook (ParseGitHub); names
//     the alert only, the caller fetches its secret through the REST API
//     (Alert.GitHub.APIURL) and fingerprints it.
//   - "gitguardian": a GitGuardian custom-webhook incident event
//     (ParseGitGuardian); names the HasMySecretLeaked hash of the secret as
//     an "hmsl:" fingerprint.
//   - "generic": rotor's own alert (ParseGeneric); names a fingerprint, a key
//     id or a secret id.
//
// ParseEvent dispatches an EventBridge event to ParseGuardDuty or
// ParseHealth on its source.
//
// Contract. Every function here is pure: no I/O, no clock (the caller passes
// the time to VerifyGitGuardianSignature), no context. A parser returns
// either an Alert that names at least one thing to match (an access key id,
// a fingerprint, a secret id, or a GitHub alert to fetch) or an error that
// wraps exactly one of:
//
//   - ErrNotALeak: a well-formed event that starts nothing (a resolved
//     alert, a ping, a finding about an EC2 instance, another source's event);
//     a webhook answers it with success and does nothing;
//   - ErrMalformed: the input cannot be read as an alert of that source (not
//     JSON, over MaxBodyBytes, a missing or wrongly typed field, a bad access
//     key id or fingerprint);
//   - ErrSignature: from the Verify functions only, a missing, wrong or stale
//     signature.
//
// Check them with errors.Is. Messages name what is wrong (the field's path
// and the form expected) and never quote a value from the input: an input
// may hold a secret, and these messages end up in logs and in the state
// machine's history. An Alert never holds a leaked value, only ids, hashes
// of values, and references.
//
// Fingerprints are "sha256:" or "hmsl:" followed by 64 lowercase hex digits:
// SHA256 and HMSLHash compute them from a value. Access key ids are "AKIA"
// (long-term) or "ASIA" (temporary, STS) followed by 16 uppercase letters or
// digits.
//
// Verify a webhook's signature over the raw body before parsing it.
package leak
