package leak_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rotorhq/rotor/internal/leak"
)

func TestParseAlerts(t *testing.T) {
	exfiltration := sample(t, leakDir+"guardduty-exfiltration-finding.json")
	exposed := sample(t, eventsDir+"health-credentials-exposed.json")
	reopened := sample(t, leakDir+"github-secret-scanning-reopened.json")
	triggered := sample(t, leakDir+"gitguardian-incident-triggered.json")
	resolved := sample(t, leakDir+"gitguardian-incident-resolved-near-miss.json")

	const (
		findingARN = "arn:aws:guardduty:us-east-1:123456789012:detector/123456789012abcdef0123456789abcd/finding/16afba5c5c43e07c9e3e5e2e544e95df"
		exfilType  = "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS"
		healthARN  = "arn:aws:health:us-east-1::event/AWS_RISK_CREDENTIALS_EXPOSED_XXXXXXXXXXXXXXXXX"
		alertAPI   = "https://api.github.com/repos/Codertocat/Hello-World/secret-scanning/alerts/191"
	)
	guardDutyAlert := &leak.Alert{Source: "guardduty", AccessKeyIDs: []string{"ASIAIOSFODNN7EXAMPLE"}, Reference: findingARN, Reason: exfilType}
	healthAlert := &leak.Alert{Source: "health", AccessKeyIDs: []string{"AKIAIOSFODNN7EXAMPLE"}, Reference: healthARN, Reason: "AWS_RISK_CREDENTIALS_EXPOSED"}

	for _, tc := range []struct {
		name  string
		parse parseFunc
		in    []byte
		want  *leak.Alert
	}{
		{"guardduty: an exfiltration finding names its key", leak.ParseGuardDuty, exfiltration, guardDutyAlert},
		{"event: a GuardDuty finding goes to ParseGuardDuty", leak.ParseEvent, exfiltration, guardDutyAlert},
		{"guardduty: an anomalous-behaviour finding about a user's key",
			leak.ParseGuardDuty, edit(t, exfiltration, func(m map[string]any) {
				d := obj(m, "detail")
				d["type"] = "CredentialAccess:IAMUser/AnomalousBehavior"
				obj(d, "resource", "accessKeyDetails")["accessKeyId"] = "AKIAIOSFODNN7EXAMPLE"
			}),
			&leak.Alert{Source: "guardduty", AccessKeyIDs: []string{"AKIAIOSFODNN7EXAMPLE"}, Reference: findingARN, Reason: "CredentialAccess:IAMUser/AnomalousBehavior"}},
		{"guardduty: detail.id is the reference when there is no ARN",
			leak.ParseGuardDuty, edit(t, exfiltration, func(m map[string]any) { delete(obj(m, "detail"), "arn") }),
			&leak.Alert{Source: "guardduty", AccessKeyIDs: []string{"ASIAIOSFODNN7EXAMPLE"}, Reference: "16afba5c5c43e07c9e3e5e2e544e95df", Reason: exfilType}},
		{"health: the aws-health-tools AWS_RISK_CREDENTIALS_EXPOSED sample", leak.ParseHealth, exposed, healthAlert},
		{"event: an AWS Health event goes to ParseHealth", leak.ParseEvent, exposed, healthAlert},
		{"health: COMPROMISED names every key id once, in order, and skips other entities",
			leak.ParseHealth, edit(t, exposed, func(m map[string]any) {
				d := obj(m, "detail")
				d["eventTypeCode"] = "AWS_RISK_CREDENTIALS_COMPROMISED"
				d["affectedEntities"] = []any{
					map[string]any{"entityValue": "ASIAIOSFODNN7EXAMPLE"},
					map[string]any{"entityValue": "arn:aws:iam::123456789012:user/deployer"},
					map[string]any{"entityValue": "AKIAIOSFODNN7EXAMPLE"},
					map[string]any{"entityValue": "ASIAIOSFODNN7EXAMPLE"},
				}
			}),
			&leak.Alert{Source: "health", AccessKeyIDs: []string{"ASIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"}, Reference: healthARN, Reason: "AWS_RISK_CREDENTIALS_COMPROMISED"}},
		{"github: the octokit reopened alert; its REST URL is built from repository.url",
			gitHub("secret_scanning_alert"), reopened,
			&leak.Alert{Source: "github", Reference: "https://github.com/Codertocat/Hello-World/security/secret-scanning/191", Reason: "adafruit_io_key",
				GitHub: &leak.GitHubAlert{Repository: "Codertocat/Hello-World", Number: 191, SecretType: "adafruit_io_key", Action: "reopened", APIURL: alertAPI}}},
		{"github: publicly_leaked with alert.url and alert.html_url uses them",
			gitHub("secret_scanning_alert"), edit(t, reopened, func(m map[string]any) {
				m["action"] = "publicly_leaked"
				a := obj(m, "alert")
				a["url"] = alertAPI
				a["html_url"] = "https://github.com/Codertocat/Hello-World/security/secret-scanning/191"
				obj(m, "repository")["html_url"] = "https://github.com/codertocat/hello-world"
			}),
			&leak.Alert{Source: "github", Reference: "https://github.com/Codertocat/Hello-World/security/secret-scanning/191", Reason: "adafruit_io_key",
				GitHub: &leak.GitHubAlert{Repository: "Codertocat/Hello-World", Number: 191, SecretType: "adafruit_io_key", Action: "publicly_leaked", APIURL: alertAPI}}},
		{"github: created and validated act too",
			gitHub("secret_scanning_alert"), edit(t, reopened, func(m map[string]any) { m["action"] = "validated" }),
			&leak.Alert{Source: "github", Reference: "https://github.com/Codertocat/Hello-World/security/secret-scanning/191", Reason: "adafruit_io_key",
				GitHub: &leak.GitHubAlert{Repository: "Codertocat/Hello-World", Number: 191, SecretType: "adafruit_io_key", Action: "validated", APIURL: alertAPI}}},
		{"gitguardian: a new incident carries the HasMySecretLeaked hash", leak.ParseGitGuardian, triggered,
			&leak.Alert{Source: "gitguardian", Fingerprints: []string{"hmsl:d775db0302080c1b7516109e929dd4b214a0f353ed3b66ff2e56c47d55a102ed"},
				Reference: "https://dashboard.gitguardian.com/workspace/1/incidents/xxx", Reason: "generic_password"}},
		{"gitguardian: a reopened incident acts; the id is the reference without a URL",
			leak.ParseGitGuardian, edit(t, resolved, func(m map[string]any) {
				m["action"] = "incident_reopened"
				inc := obj(m, "incident")
				inc["hmsl_hash"] = "e9b39209f72228f30b60c19493a3f756ac97dc02ae7f52db2a3abbe3c3269339"
				delete(inc, "gitguardian_url")
			}),
			&leak.Alert{Source: "gitguardian", Fingerprints: []string{"hmsl:e9b39209f72228f30b60c19493a3f756ac97dc02ae7f52db2a3abbe3c3269339"},
				Reference: "gitguardian incident 31605", Reason: "aws_iam"}},
		{"generic: every field", leak.ParseGeneric, sample(t, leakDir+"generic-alert.json"),
			&leak.Alert{Source: "generic", AccessKeyIDs: []string{"AKIAIOSFODNN7EXAMPLE"}, Fingerprints: []string{leak.SHA256([]byte(exampleSecretKey))},
				SecretID: "prod/stripe", Reference: "https://example.com/incidents/42", Reason: "pasted in the #deploys channel"}},
		{"generic: a secret ARN alone", leak.ParseGeneric,
			[]byte(`{"secretId": "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/stripe-AbCdEf"}`),
			&leak.Alert{Source: "generic", SecretID: "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/stripe-AbCdEf"}},
		{"generic: an HMSL fingerprint alone", leak.ParseGeneric,
			[]byte(`{"fingerprint": "hmsl:bdbfe17c6018147f07ce79f8ec415a075d761ccacc14803e7d645155bf21a75f"}`),
			&leak.Alert{Source: "generic", Fingerprints: []string{"hmsl:bdbfe17c6018147f07ce79f8ec415a075d761ccacc14803e7d645155bf21a75f"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.parse(tc.in)
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Alert (-want +got):\n%s", diff)
			}
			if err := checkOutcome(got, nil); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestParseRefusals(t *testing.T) {
	exfiltration := sample(t, leakDir+"guardduty-exfiltration-finding.json")
	exposed := sample(t, eventsDir+"health-credentials-exposed.json")
	reopened := sample(t, leakDir+"github-secret-scanning-reopened.json")
	triggered := sample(t, leakDir+"gitguardian-incident-triggered.json")
	oversized := []byte(`{"reason": "` + strings.Repeat("x", leak.MaxBodyBytes) + `"}`)

	for _, tc := range []struct {
		name  string
		parse parseFunc
		in    []byte
		want  error    // ErrNotALeak or ErrMalformed
		field string   // the message names it
		quiet []string // the message quotes none of them
	}{
		// Near-misses: well-formed events of the source that start nothing.
		{"guardduty: a finding about an EC2 instance", leak.ParseGuardDuty, sample(t, leakDir+"guardduty-ec2-near-miss.json"),
			leak.ErrNotALeak, "detail.resource.resourceType", nil},
		{"guardduty: a reconnaissance finding about a key", leak.ParseGuardDuty, sample(t, eventsDir+"guardduty-recon-near-miss.json"),
			leak.ErrNotALeak, "detail.type", nil},
		{"guardduty: a sample finding from CreateSampleFindings", leak.ParseGuardDuty, sample(t, eventsDir+"guardduty-credential-exfiltration.json"),
			leak.ErrNotALeak, "additionalInfo.sample", []string{"GeneratedFindingAccessKeyId"}},
		{"guardduty: an AWS Health event", leak.ParseGuardDuty, exposed, leak.ErrNotALeak, "source", []string{"aws.health"}},
		{"guardduty: another detail-type of GuardDuty", leak.ParseGuardDuty,
			edit(t, exfiltration, func(m map[string]any) { m["detail-type"] = "GuardDuty Runtime Protection Unhealthy" }),
			leak.ErrNotALeak, "detail-type", []string{"Unhealthy"}},
		{"health: an EC2 event", leak.ParseHealth, sample(t, eventsDir+"health-ec2-near-miss.json"), leak.ErrNotALeak, "detail.service", nil},
		{"health: AWS_RISK_CREDENTIALS_EXPOSURE_SUSPECTED is left to a person", leak.ParseHealth, sample(t, leakDir+"health-exposure-suspected-near-miss.json"),
			leak.ErrNotALeak, "detail.eventTypeCode", nil},
		{"health: a GuardDuty finding", leak.ParseHealth, exfiltration, leak.ErrNotALeak, "source", nil},
		{"event: rotor's own leak bus event", leak.ParseEvent, sample(t, eventsDir+"leakbus-github.json"), leak.ErrNotALeak, "source", []string{"rotor.webhook"}},
		{"event: an AWS Health EC2 event", leak.ParseEvent, sample(t, eventsDir+"health-ec2-near-miss.json"), leak.ErrNotALeak, "detail.service", nil},
		{"event: a GuardDuty reconnaissance finding", leak.ParseEvent, sample(t, eventsDir+"guardduty-recon-near-miss.json"), leak.ErrNotALeak, "detail.type", nil},
		{"github: ping", gitHub("ping"), sample(t, leakDir+"github-ping-near-miss.json"), leak.ErrNotALeak, "secret_scanning_alert", nil},
		{"github: a resolved alert", gitHub("secret_scanning_alert"), sample(t, leakDir+"github-resolved-near-miss.json"), leak.ErrNotALeak, `"action"`, nil},
		{"github: an assigned alert", gitHub("secret_scanning_alert"),
			edit(t, reopened, func(m map[string]any) { m["action"] = "assigned" }), leak.ErrNotALeak, `"action"`, nil},
		{"github: another event carrying an alert", gitHub("secret_scanning_alert_location"), reopened, leak.ErrNotALeak, "secret_scanning_alert", nil},
		{"gitguardian: a resolved incident", leak.ParseGitGuardian, sample(t, leakDir+"gitguardian-incident-resolved-near-miss.json"), leak.ErrNotALeak, `"action"`, nil},
		{"gitguardian: an assigned incident", leak.ParseGitGuardian,
			edit(t, triggered, func(m map[string]any) { m["action"] = "incident_assigned" }), leak.ErrNotALeak, `"action"`, nil},
		{"gitguardian: the settings page's test message", leak.ParseGitGuardian, sample(t, leakDir+"gitguardian-test-message-near-miss.json"),
			leak.ErrNotALeak, "test message", []string{"--censored--"}},

		// Malformed.
		{"guardduty: a placeholder key id in a finding that is not a sample", leak.ParseGuardDuty, sample(t, leakDir+"guardduty-placeholder-key-malformed.json"),
			leak.ErrMalformed, "detail.resource.accessKeyDetails.accessKeyId", []string{"GeneratedFindingAccessKeyId"}},
		{"guardduty: a secret access key where the key id belongs", leak.ParseGuardDuty,
			edit(t, exfiltration, func(m map[string]any) {
				obj(m, "detail", "resource", "accessKeyDetails")["accessKeyId"] = exampleSecretKey
			}),
			leak.ErrMalformed, "accessKeyId", []string{exampleSecretKey, "wJalr"}},
		{"guardduty: detail.type of the wrong type", leak.ParseGuardDuty,
			edit(t, exfiltration, func(m map[string]any) { obj(m, "detail")["type"] = 42 }), leak.ErrMalformed, `"/detail/type" must be a string`, nil},
		{"guardduty: no detail", leak.ParseGuardDuty,
			edit(t, exfiltration, func(m map[string]any) { delete(m, "detail") }), leak.ErrMalformed, `"detail"`, nil},
		{"guardduty: no source", leak.ParseGuardDuty,
			edit(t, exfiltration, func(m map[string]any) { delete(m, "source") }), leak.ErrMalformed, `"source"`, nil},
		{"guardduty: not JSON", leak.ParseGuardDuty, []byte(`{"source": "aws.guardduty", "detail": ` + exampleSecretKey + `}`),
			leak.ErrMalformed, "malformed JSON at byte", []string{exampleSecretKey, "wJalr"}},
		{"guardduty: a duplicate member", leak.ParseGuardDuty,
			[]byte(`{"source": "aws.guardduty", "source": "aws.health"}`), leak.ErrMalformed, "duplicate", []string{"aws.health"}},
		{"health: the published placeholder instead of a key id", leak.ParseHealth, sample(t, leakDir+"health-placeholder-key-malformed.json"),
			leak.ErrMalformed, "detail.affectedEntities[].entityValue", []string{"ACCESS_KEY_ID_HERE"}},
		{"health: affectedEntities of the wrong type", leak.ParseHealth,
			edit(t, exposed, func(m map[string]any) { obj(m, "detail")["affectedEntities"] = exampleSecretKey }),
			leak.ErrMalformed, `"/detail/affectedEntities" must be an array`, []string{exampleSecretKey}},
		{"health: no eventArn", leak.ParseHealth,
			edit(t, exposed, func(m map[string]any) { delete(obj(m, "detail"), "eventArn") }), leak.ErrMalformed, "detail.eventArn", nil},
		{"event: a top-level array", leak.ParseEvent, []byte(`["` + exampleSecretKey + `"]`), leak.ErrMalformed, "the top level must be an object", []string{exampleSecretKey}},
		{"event: empty", leak.ParseEvent, nil, leak.ErrMalformed, "empty", nil},
		{"event: no source", leak.ParseEvent, []byte(`{"detail-type": "GuardDuty Finding"}`), leak.ErrMalformed, `"source"`, nil},
		{"github: no alert number", gitHub("secret_scanning_alert"), sample(t, leakDir+"github-malformed-no-number.json"), leak.ErrMalformed, "alert.number", nil},
		{"github: an alert number that is a string", gitHub("secret_scanning_alert"),
			edit(t, reopened, func(m map[string]any) { obj(m, "alert")["number"] = "191" }), leak.ErrMalformed, `"/alert/number" must be a whole number`, nil},
		{"github: no X-GitHub-Event header", gitHub(""), reopened, leak.ErrMalformed, "X-GitHub-Event", nil},
		{"github: an alert.url on another host", gitHub("secret_scanning_alert"),
			edit(t, reopened, func(m map[string]any) {
				obj(m, "alert")["url"] = "https://collector.example/repos/Codertocat/Hello-World/secret-scanning/alerts/191"
			}),
			leak.ErrMalformed, "alert.url", []string{"collector.example"}},
		{"github: an alert.url for another alert", gitHub("secret_scanning_alert"),
			edit(t, reopened, func(m map[string]any) {
				obj(m, "alert")["url"] = "https://api.github.com/repos/Codertocat/Hello-World/secret-scanning/alerts/192"
			}),
			leak.ErrMalformed, "alert.url", nil},
		{"github: a repository.url over plain http", gitHub("secret_scanning_alert"),
			edit(t, reopened, func(m map[string]any) {
				obj(m, "repository")["url"] = "http://api.github.com/repos/Codertocat/Hello-World"
			}),
			leak.ErrMalformed, "repository.url", nil},
		{"github: a repository.url for another repository", gitHub("secret_scanning_alert"),
			edit(t, reopened, func(m map[string]any) { obj(m, "repository")["url"] = "https://api.github.com/repos/Codertocat/Other" }),
			leak.ErrMalformed, "repository.url", nil},
		{"github: a full_name that is not owner/name", gitHub("secret_scanning_alert"),
			edit(t, reopened, func(m map[string]any) { obj(m, "repository")["full_name"] = "Codertocat/../../orgs/x" }),
			leak.ErrMalformed, "repository.full_name", []string{"orgs"}},
		{"gitguardian: the documentation's placeholder hash", leak.ParseGitGuardian, sample(t, leakDir+"gitguardian-regression-placeholder-hash-malformed.json"),
			leak.ErrMalformed, "incident.hmsl_hash", []string{"xxx"}},
		{"gitguardian: a value where the hash belongs", leak.ParseGitGuardian,
			edit(t, triggered, func(m map[string]any) { obj(m, "incident")["hmsl_hash"] = exampleSecretKey }),
			leak.ErrMalformed, "incident.hmsl_hash", []string{exampleSecretKey, "wJalr"}},
		{"gitguardian: an uppercase hash", leak.ParseGitGuardian,
			edit(t, triggered, func(m map[string]any) {
				obj(m, "incident")["hmsl_hash"] = "D775DB0302080C1B7516109E929DD4B214A0F353ED3B66FF2E56C47D55A102ED"
			}),
			leak.ErrMalformed, "incident.hmsl_hash", []string{"D775DB"}},
		{"gitguardian: no hash", leak.ParseGitGuardian,
			edit(t, triggered, func(m map[string]any) { delete(obj(m, "incident"), "hmsl_hash") }), leak.ErrMalformed, "incident.hmsl_hash", nil},
		{"gitguardian: no action", leak.ParseGitGuardian,
			edit(t, triggered, func(m map[string]any) { delete(m, "action") }), leak.ErrMalformed, `"action"`, nil},
		{"gitguardian: no incident", leak.ParseGitGuardian,
			edit(t, triggered, func(m map[string]any) { delete(m, "incident") }), leak.ErrMalformed, `"incident"`, nil},
		{"generic: the value where its fingerprint belongs", leak.ParseGeneric, sample(t, leakDir+"generic-malformed-fingerprint.json"),
			leak.ErrMalformed, `"fingerprint"`, []string{exampleSecretKey, "wJalr"}},
		{"generic: the secret access key where the key id belongs", leak.ParseGeneric, sample(t, leakDir+"generic-malformed-key-id.json"),
			leak.ErrMalformed, `"accessKeyId"`, []string{exampleSecretKey, "wJalr"}},
		{"generic: an unknown member", leak.ParseGeneric, sample(t, leakDir+"generic-malformed-unknown-field.json"),
			leak.ErrMalformed, `unknown field "/secret"`, []string{exampleSecretKey, "wJalr"}},
		{"generic: uppercase hex", leak.ParseGeneric,
			[]byte(`{"fingerprint": "sha256:78314B11BE2E581549AC1C4F616563FAD3FDF0C3B71678F6E2299182080E0598"}`),
			leak.ErrMalformed, `"fingerprint"`, []string{"78314B11"}},
		{"generic: a short fingerprint", leak.ParseGeneric,
			[]byte(`{"fingerprint": "hmsl:bdbfe17c6018147f07ce79f8ec415a075d761ccacc14803e7d645155bf21a75"}`),
			leak.ErrMalformed, `"fingerprint"`, []string{"bdbfe17c"}},
		{"generic: nothing to match", leak.ParseGeneric, []byte(`{"reason": "something leaked"}`),
			leak.ErrMalformed, `"fingerprint", "accessKeyId" or "secretId"`, nil},
		{"generic: a case-mismatched member", leak.ParseGeneric, []byte(`{"accessKeyID": "AKIAIOSFODNN7EXAMPLE"}`),
			leak.ErrMalformed, `"/accessKeyID"`, nil},
		{"generic: a duplicate member", leak.ParseGeneric,
			[]byte(`{"secretId": "prod/a", "secretId": "prod/b"}`), leak.ErrMalformed, `duplicate member "/secretId"`, []string{"prod/b"}},
		{"generic: a secret id with spaces", leak.ParseGeneric, []byte(`{"secretId": "prod stripe key"}`),
			leak.ErrMalformed, `"secretId"`, []string{"prod stripe"}},
		{"generic: a reason with a newline", leak.ParseGeneric, []byte(`{"secretId": "prod/a", "reason": "line one\nline two"}`),
			leak.ErrMalformed, `"reason"`, []string{"line one"}},
		{"generic: a number where text belongs", leak.ParseGeneric, []byte(`{"secretId": 12345}`),
			leak.ErrMalformed, `"/secretId" must be a string`, []string{"12345"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.parse(tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error = %v, want %v", err, tc.want)
			}
			if err := checkOutcome(got, err); err != nil {
				t.Fatal(err)
			}
			if msg := err.Error(); !strings.Contains(msg, tc.field) {
				t.Errorf("message %q does not name %q", msg, tc.field)
			}
			for _, s := range tc.quiet {
				if strings.Contains(err.Error(), s) {
					t.Errorf("message %q quotes the input's %q", err, s)
				}
			}
		})
	}

	// Every parser bounds its input.
	for name, parse := range map[string]parseFunc{
		"guardduty": leak.ParseGuardDuty, "health": leak.ParseHealth, "event": leak.ParseEvent,
		"github": gitHub("secret_scanning_alert"), "gitguardian": leak.ParseGitGuardian, "generic": leak.ParseGeneric,
	} {
		t.Run(name+": a body over MaxBodyBytes", func(t *testing.T) {
			got, err := parse(oversized)
			if !errors.Is(err, leak.ErrMalformed) || got != nil || !strings.Contains(err.Error(), "larger than") {
				t.Fatalf("got %v, %v; want ErrMalformed naming the size", got, err)
			}
		})
	}
}
