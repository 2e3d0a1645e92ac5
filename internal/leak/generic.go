package leak

import "github.com/rotorhq/rotor/internal/strictjson"

// genericAlert is rotor's own alert, for tools and people that know
// something leaked: {"fingerprint", "accessKeyId", "secretId", "reference",
// "reason"}.
type genericAlert struct {
	Fingerprint string `json:"fingerprint"`
	AccessKeyID string `json:"accessKeyId"`
	SecretID    string `json:"secretId"`
	Reference   string `json:"reference"`
	Reason      string `json:"reason"`
}

// ParseGeneric reads rotor's generic alert:
//
//	{"fingerprint": "sha256:<hex>" or "hmsl:<hex>", "accessKeyId": "AKIA...",
//	 "secretId": "name or ARN", "reference": "url or id", "reason": "text"}
//
// At least one of fingerprint, accessKeyId and secretId is required.
// fingerprint is SHA256 or HMSLHash of the leaked value (64 lowercase hex
// digits), accessKeyId an AWS access key id, secretId a Secrets Manager name
// or ARN. Unknown, duplicate and case-mismatched members are ErrMalformed,
// as is any field not of its form. Every valid generic alert is a leak: there
// is no ErrNotALeak here.
func ParseGeneric(body []byte) (*Alert, error) {
	const src = SourceGeneric
	if len(body) > MaxBodyBytes {
		return nil, malformed(src, "body is larger than %d bytes", MaxBodyBytes)
	}
	var g genericAlert
	if err := strictjson.Decode(body, &g); err != nil {
		return nil, malformed(src, "%s", err)
	}
	if g.Fingerprint == "" && g.AccessKeyID == "" && g.SecretID == "" {
		return nil, malformed(src, `one of "fingerprint", "accessKeyId" or "secretId" is required`)
	}
	a := &Alert{Source: src, SecretID: g.SecretID, Reference: g.Reference, Reason: g.Reason}
	if g.Fingerprint != "" {
		if !IsFingerprint(g.Fingerprint) {
			return nil, malformed(src, `"fingerprint" must be %s`, fingerprintForm)
		}
		a.Fingerprints = []string{g.Fingerprint}
	}
	if g.AccessKeyID != "" {
		if !IsAccessKeyID(g.AccessKeyID) {
			return nil, malformed(src, `"accessKeyId" must be %s`, accessKeyIDForm)
		}
		a.AccessKeyIDs = []string{g.AccessKeyID}
	}
	if g.SecretID != "" && !isSecretID(g.SecretID) {
		return nil, malformed(src, `"secretId" must be a Secrets Manager secret name or ARN (1 to 2048 letters, digits and %s)`, "/_+=.@-:")
	}
	if !isText(g.Reference, 2048) {
		return nil, malformed(src, `"reference" must be at most 2048 bytes of text without control characters`)
	}
	if !isText(g.Reason, 1024) {
		return nil, malformed(src, `"reason" must be at most 1024 bytes of text without control characters`)
	}
	return a, nil
}
