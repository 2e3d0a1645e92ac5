package leak

import (
	"strings"

	"github.com/go-json-experiment/json/jsontext"
)

// envelope is the part of an EventBridge event every AWS parser reads
// first: the detail's shape depends on the source, so it is decoded only
// once the source is known.
type envelope struct {
	Source     string         `json:"source"`
	DetailType string         `json:"detail-type"`
	Detail     jsontext.Value `json:"detail"`
}

// readEnvelope decodes an event's envelope and checks it is the source and
// detail-type wanted, with a detail.
func readEnvelope(src string, event []byte, source, detailType string) error {
	var env envelope
	if err := decode(src, event, &env); err != nil {
		return err
	}
	switch {
	case env.Source == "":
		return malformed(src, `"source" is missing or empty`)
	case env.Source != source:
		return notALeak(src, `"source" is not %s`, source)
	case env.DetailType != detailType:
		return notALeak(src, `"detail-type" is not %q`, detailType)
	case env.Detail == nil || env.Detail.Kind() != '{':
		return malformed(src, `"detail" is missing or not an object`)
	}
	return nil
}

const (
	guardDutySource     = "aws.guardduty"
	guardDutyDetailType = "GuardDuty Finding"
	healthSource        = "aws.health"
	healthDetailType    = "AWS Health Event"
)

// ParseEvent reads an EventBridge event and dispatches it on its source:
// aws.guardduty to ParseGuardDuty, aws.health to ParseHealth. An event of
// any other source is ErrNotALeak; one without a source is ErrMalformed.
func ParseEvent(event []byte) (*Alert, error) {
	var env envelope
	if err := decode("event", event, &env); err != nil {
		return nil, err
	}
	switch env.Source {
	case guardDutySource:
		return ParseGuardDuty(event)
	case healthSource:
		return ParseHealth(event)
	case "":
		return nil, malformed("event", `"source" is missing or empty`)
	}
	return nil, notALeak("event", `"source" is neither %s nor %s`, guardDutySource, healthSource)
}

type guardDutyEvent struct {
	Detail struct {
		ID       string `json:"id"`
		ARN      string `json:"arn"`
		Type     string `json:"type"`
		Resource struct {
			ResourceType     string `json:"resourceType"`
			AccessKeyDetails struct {
				AccessKeyID string `json:"accessKeyId"`
			} `json:"accessKeyDetails"`
		} `json:"resource"`
		Service struct {
			AdditionalInfo struct {
				Sample bool `json:"sample"`
			} `json:"additionalInfo"`
		} `json:"service"`
	} `json:"detail"`
}

// ParseGuardDuty reads the EventBridge event of a GuardDuty finding
// (source aws.guardduty, detail-type "GuardDuty Finding") about an IAM
// access key. The Alert names the key id
// (detail.resource.accessKeyDetails.accessKeyId); Reason is detail.type and
// Reference detail.arn (detail.id when there is no ARN).
//
// It acts on the finding types the deployed EventBridge rule matches
// (infra/rotorcdk GuardDutyPattern): the credential-exfiltration family
// (UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.*) and the
// anomalous-behaviour family (<tactic>:IAMUser/AnomalousBehavior). These
// are ErrNotALeak:
//   - a finding whose resource is not an access key (an EC2 instance, an S3
//     bucket, a Kubernetes cluster...);
//   - other access-key findings (Recon:IAMUser/MaliciousIPCaller,
//     Policy:IAMUser/RootCredentialUsage...): suspicious use, not evidence
//     that the key is out of its owner's hands;
//   - a sample finding (detail.service.additionalInfo.sample is true, as
//     CreateSampleFindings makes them), whose key id is a placeholder such
//     as "GeneratedFindingAccessKeyId".
//
// An ASIA key id is temporary (STS): it cannot be deleted, only the role
// sessions revoked, which the caller decides.
func ParseGuardDuty(event []byte) (*Alert, error) {
	const src = SourceGuardDuty
	if err := readEnvelope(src, event, guardDutySource, guardDutyDetailType); err != nil {
		return nil, err
	}
	var ev guardDutyEvent
	if err := decode(src, event, &ev); err != nil {
		return nil, err
	}
	d := &ev.Detail
	if d.Type == "" {
		return nil, malformed(src, `"detail.type" is missing or empty`)
	}
	if d.Resource.ResourceType == "" {
		return nil, malformed(src, `"detail.resource.resourceType" is missing or empty`)
	}
	if d.Resource.ResourceType != "AccessKey" {
		return nil, notALeak(src, `the finding is not about an access key ("detail.resource.resourceType" is not "AccessKey")`)
	}
	if !credentialFinding(d.Type) {
		return nil, notALeak(src, `"detail.type" is outside the credential-exfiltration and anomalous-behaviour families`)
	}
	if d.Service.AdditionalInfo.Sample {
		return nil, notALeak(src, `a sample finding ("detail.service.additionalInfo.sample" is true) names no real key`)
	}
	id := d.Resource.AccessKeyDetails.AccessKeyID
	if id == "" {
		return nil, malformed(src, `"detail.resource.accessKeyDetails.accessKeyId" is missing or empty`)
	}
	if !IsAccessKeyID(id) {
		return nil, malformed(src, `"detail.resource.accessKeyDetails.accessKeyId" is not %s`, accessKeyIDForm)
	}
	ref := d.ARN
	if ref == "" {
		ref = d.ID
	}
	if ref == "" {
		return nil, malformed(src, `"detail.arn" and "detail.id" are both missing`)
	}
	if !isText(ref, 2048) || !isText(d.Type, 256) {
		return nil, malformed(src, `"detail.arn", "detail.id" or "detail.type" is too long or holds control characters`)
	}
	return &Alert{Source: src, AccessKeyIDs: []string{id}, Reference: ref, Reason: d.Type}, nil
}

// credentialFinding reports whether a GuardDuty finding type is one the
// deployed rule starts a rotation for.
func credentialFinding(t string) bool {
	return strings.HasPrefix(t, "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.") ||
		strings.HasSuffix(t, ":IAMUser/AnomalousBehavior")
}

type healthEvent struct {
	Detail struct {
		EventARN         string `json:"eventArn"`
		Service          string `json:"service"`
		EventTypeCode    string `json:"eventTypeCode"`
		AffectedEntities []struct {
			EntityValue string `json:"entityValue"`
		} `json:"affectedEntities"`
	} `json:"detail"`
}

// Health event type codes that start a rotation.
//
// AWS_RISK_CREDENTIALS_EXPOSURE_SUSPECTED is deliberately left out, as the
// deployed rule (infra/rotorcdk HealthPattern) leaves it out: AWS itself is
// not sure the key was exposed and attaches no quarantine policy, while an
// emergency rotation revokes the old key at once (grace 0) and breaks every
// consumer that has not picked up the new one. A person who decides it is a
// leak starts the rotation (rotor leak); this parser returns ErrNotALeak.
var healthLeakCodes = map[string]bool{
	"AWS_RISK_CREDENTIALS_EXPOSED":     true,
	"AWS_RISK_CREDENTIALS_COMPROMISED": true,
}

// ParseHealth reads the EventBridge event of an AWS Health event (source
// aws.health, detail-type "AWS Health Event") of the RISK service with
// eventTypeCode AWS_RISK_CREDENTIALS_EXPOSED or
// AWS_RISK_CREDENTIALS_COMPROMISED. The Alert names every
// detail.affectedEntities[].entityValue that has the form of an access key
// id, in order, without repeats; Reason is the event type code and
// Reference detail.eventArn. Other services and event types are
// ErrNotALeak; an exposure event naming no access key id is ErrMalformed.
func ParseHealth(event []byte) (*Alert, error) {
	const src = SourceHealth
	if err := readEnvelope(src, event, healthSource, healthDetailType); err != nil {
		return nil, err
	}
	var ev healthEvent
	if err := decode(src, event, &ev); err != nil {
		return nil, err
	}
	d := &ev.Detail
	switch {
	case d.Service == "":
		return nil, malformed(src, `"detail.service" is missing or empty`)
	case d.EventTypeCode == "":
		return nil, malformed(src, `"detail.eventTypeCode" is missing or empty`)
	case d.Service != "RISK":
		return nil, notALeak(src, `"detail.service" is not RISK`)
	case !healthLeakCodes[d.EventTypeCode]:
		return nil, notALeak(src, `"detail.eventTypeCode" is neither AWS_RISK_CREDENTIALS_EXPOSED nor AWS_RISK_CREDENTIALS_COMPROMISED`)
	case d.EventARN == "":
		return nil, malformed(src, `"detail.eventArn" is missing or empty`)
	case !isText(d.EventARN, 2048):
		return nil, malformed(src, `"detail.eventArn" is too long or holds control characters`)
	}
	var ids []string
	seen := map[string]bool{}
	for _, e := range d.AffectedEntities {
		if IsAccessKeyID(e.EntityValue) && !seen[e.EntityValue] {
			seen[e.EntityValue] = true
			ids = append(ids, e.EntityValue)
		}
	}
	if len(ids) == 0 {
		return nil, malformed(src, `no "detail.affectedEntities[].entityValue" is %s`, accessKeyIDForm)
	}
	return &Alert{Source: src, AccessKeyIDs: ids, Reference: d.EventARN, Reason: d.EventTypeCode}, nil
}
