package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/rotorhq/rotor/internal/provider/awsiam"
)

// Kinds of violation.
const (
	KindCurrentCount   = "current-not-one"        // not exactly one version is AWSCURRENT
	KindPendingLeft    = "pending-left"           // a version is still AWSPENDING
	KindCurrentDead    = "current-dead"           // the current credential does not work at its provider
	KindOrphan         = "live-orphan"            // a live credential no labelled version holds
	KindRevokedLive    = "revoked-but-live"       // a version labelled ROTOR_REVOKED/ROTOR_FAILED holds a live credential
	KindLiveUnreported = "live-not-reported"      // a live non-current credential without a "NOT revoked" notification
	KindNotConverged   = "not-converged"          // executions still running at the burst's deadline
	KindUnnotified     = "failure-not-notified"   // a failed execution published no notification
	KindSecretHistory  = "secret-in-history"      // a secret value in an execution history
	KindSecretSNS      = "secret-in-notification" // a secret value in an SNS message
	KindSecretLog      = "secret-in-log"          // a secret value in the endpoint's or functions' output
	KindCannotRotate   = "cannot-rotate-after"    // a fault-free rotation after the load failed
)

// Violation is one invariant found broken. Nothing in it is a secret
// value: ids, labels, errors and causes with any secret masked.
type Violation struct {
	Kind   string
	Secret string // name, or "" for one not tied to a secret
	Detail string
	// Key tells violations of one kind and secret apart (a key id, a
	// version id); the same key found again is not counted again.
	Key string
	// Burst names the burst after which it was found ("" at the end).
	Burst string
	// Evidence: what the burst's executions did (failed tasks' errors and
	// causes, final states) and the faults the key API injected.
	Evidence []string
}

// version is one version of a secret as the harness read it.
type version struct {
	id     string
	labels []string
	value  string
	listed bool // labelled: DescribeSecret lists it
}

func (v *version) has(label string) bool { return slices.Contains(v.labels, label) }

// liveCred is a credential live at the provider.
type liveCred struct {
	id      string // access key id or key API key id
	secret  string // its secret part, to match against versions
	holders []*version
}

type checkResult struct {
	violations []Violation
	persons    int // credentials reported NOT revoked, revoked by the harness
}

// readVersions reads every version of the secret, deprecated ones
// included, with their values (read once: a version's value never changes).
func (h *harness) readVersions(ctx context.Context, s *secret) (map[string]*version, error) {
	d, err := h.sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(s.arn)})
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", s.name, err)
	}
	vs := map[string]*version{}
	for id, labels := range d.VersionIdsToStages {
		vs[id] = &version{id: id, labels: labels, listed: true}
	}
	var next *string
	for {
		page, err := h.sm.ListSecretVersionIds(ctx, &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String(s.arn),
			IncludeDeprecated: aws.Bool(true), MaxResults: aws.Int32(100), NextToken: next})
		if err != nil {
			return nil, fmt.Errorf("list versions of %s: %w", s.name, err)
		}
		for _, v := range page.Versions {
			if _, ok := vs[aws.ToString(v.VersionId)]; !ok {
				vs[aws.ToString(v.VersionId)] = &version{id: aws.ToString(v.VersionId)}
			}
		}
		if next = page.NextToken; next == nil {
			break
		}
	}
	for id, v := range vs {
		s.mu.Lock()
		value, ok := s.values[id]
		s.mu.Unlock()
		if !ok {
			out, err := h.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(s.arn), VersionId: aws.String(id)})
			if err != nil {
				if v.listed {
					return nil, fmt.Errorf("read version %s of %s: %w", id, s.name, err)
				}
				continue // a deprecated version may be gone
			}
			value = aws.ToString(out.SecretString)
			h.remember(s, id, value)
		}
		v.value = value
	}
	return vs, nil
}

// check checks one quiescent secret. An error is the harness's (a call it
// could not make); a broken invariant is a Violation.
func (h *harness) check(ctx context.Context, s *secret) (*checkResult, error) {
	vs, err := h.readVersions(ctx, s)
	if err != nil {
		return nil, err
	}
	fs := labelFindings(vs)
	// A fresh secret whose rotations all failed still has its first
	// version current, which holds no credential to test: nothing broke.
	if current := holders(vs, "AWSCURRENT"); len(current) == 1 && !(s.fresh && current[0].id == s.initial) {
		why, err := h.works(ctx, s, current[0].value)
		if err != nil {
			return nil, err
		}
		if why != "" {
			fs = append(fs, finding{KindCurrentDead, current[0].id, fmt.Sprintf("the current version %s does not work: %s", current[0].id, why)})
		}
	}
	live, err := h.live(ctx, s, vs)
	if err != nil {
		return nil, err
	}
	lf, nonCurrent := liveFindings(live)
	fs = append(fs, lf...)
	res := &checkResult{}
	if len(nonCurrent) > 0 {
		msgs, err := h.messages(ctx)
		if err != nil {
			return nil, err
		}
		for _, c := range nonCurrent {
			if notRevokedNotice(msgs, s, c) == "" {
				fs = append(fs, unreported(c))
				continue
			}
			// What the notification tells a person to do: revoke it.
			if err := h.revokeAsPerson(ctx, s, c); err != nil {
				return nil, err
			}
			res.persons++
		}
	}
	for _, f := range fs {
		res.violations = append(res.violations, Violation{Kind: f.kind, Secret: s.name, Key: f.key,
			Detail: s.name + ": " + f.detail + "; labels " + labelsOf(vs)})
	}
	if res.persons > 0 {
		h.mu.Lock()
		h.rep.PersonRevoked += res.persons
		h.mu.Unlock()
	}
	return res, nil
}

// finding is a broken invariant of one secret, before it is a Violation.
type finding struct{ kind, key, detail string }

func holders(vs map[string]*version, label string) []*version {
	var out []*version
	for _, v := range sortedVersions(vs) {
		if v.has(label) {
			out = append(out, v)
		}
	}
	return out
}

// labelFindings checks the labels: exactly one AWSCURRENT, no AWSPENDING.
func labelFindings(vs map[string]*version) []finding {
	var out []finding
	if current := holders(vs, "AWSCURRENT"); len(current) != 1 {
		out = append(out, finding{KindCurrentCount, "", fmt.Sprintf("%d versions are AWSCURRENT", len(current))})
	}
	for _, v := range holders(vs, "AWSPENDING") {
		out = append(out, finding{KindPendingLeft, v.id, fmt.Sprintf("version %s is still AWSPENDING", v.id)})
	}
	return out
}

// liveFindings sorts the live credentials: held by AWSCURRENT is right;
// held by a version labelled ROTOR_REVOKED or ROTOR_FAILED is a violation
// (rotor says it revoked it); any other is returned to be matched against
// the notifications.
func liveFindings(live []liveCred) ([]finding, []liveCred) {
	var out []finding
	var nonCurrent []liveCred
	for _, c := range live {
		revoked := -1
		isCurrent := false
		for i, v := range c.holders {
			isCurrent = isCurrent || v.has("AWSCURRENT")
			if v.listed && revoked < 0 && (v.has("ROTOR_REVOKED") || v.has("ROTOR_FAILED")) {
				revoked = i
			}
		}
		switch {
		case isCurrent:
		case revoked >= 0:
			v := c.holders[revoked]
			out = append(out, finding{KindRevokedLive, c.id, fmt.Sprintf("credential %s is live but its version %s is labelled %v", c.id, v.id, v.labels)})
		default:
			nonCurrent = append(nonCurrent, c)
		}
	}
	return out, nonCurrent
}

// unreported is the violation of a live, non-current credential that no
// notification reported NOT revoked: an orphan when no labelled version
// holds it.
func unreported(c liveCred) finding {
	var held []string
	labelled := false
	for _, v := range c.holders {
		held = append(held, fmt.Sprintf("%s%v", v.id, v.labels))
		labelled = labelled || v.listed
	}
	if !labelled {
		return finding{KindOrphan, c.id, fmt.Sprintf(
			"credential %s is live, no labelled version holds it (deprecated versions holding it: %v), and no notification says it was NOT revoked", c.id, held)}
	}
	return finding{KindLiveUnreported, c.id, fmt.Sprintf(
		"credential %s of versions %v is live and not current, and no notification says it was NOT revoked", c.id, held)}
}

func sortedVersions(vs map[string]*version) []*version {
	out := make([]*version, 0, len(vs))
	for _, v := range vs {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// labelsOf writes the labelled versions and their labels.
func labelsOf(vs map[string]*version) string {
	var parts []string
	for _, v := range sortedVersions(vs) {
		if v.listed {
			parts = append(parts, fmt.Sprintf("%s=%s", v.id, strings.Join(v.labels, "+")))
		}
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// works tells why the current value does not work at its provider ("" when
// it does).
func (h *harness) works(ctx context.Context, s *secret, value string) (string, error) {
	switch s.kind {
	case KindRandom:
		if value == "" {
			return "the value is empty", nil
		}
	case KindHTTPAPI:
		key := secretPart(s.kind, value)
		if key == "" {
			return "the value holds no apiKey", nil
		}
		if !s.api.ks.Accepts(key) {
			return "the key API refuses its key", nil
		}
	case KindAWSIAM:
		var v awsiam.Value
		if err := json.Unmarshal([]byte(value), &v); err != nil || v.AccessKeyID == "" || v.SecretAccessKey == "" {
			return "the value holds no access key", nil
		}
		cfg := h.aws.Copy()
		cfg.Credentials = credentials.NewStaticCredentialsProvider(v.AccessKeyID, v.SecretAccessKey, "")
		who, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		var ae smithy.APIError
		if errors.As(err, &ae) && (ae.ErrorCode() == "InvalidClientTokenId" || ae.ErrorCode() == "SignatureDoesNotMatch") {
			return fmt.Sprintf("STS refuses access key %s: %s", v.AccessKeyID, ae.ErrorCode()), nil
		}
		if err != nil {
			return "", fmt.Errorf("STS GetCallerIdentity with the current key of %s: %w", s.name, err)
		}
		if !strings.HasSuffix(aws.ToString(who.Arn), ":user/"+s.user) {
			return fmt.Sprintf("access key %s belongs to %s, not user %s", v.AccessKeyID, aws.ToString(who.Arn), s.user), nil
		}
	}
	return "", nil
}

// live lists the credentials live at the secret's provider, each with the
// versions that hold it.
func (h *harness) live(ctx context.Context, s *secret, vs map[string]*version) ([]liveCred, error) {
	var out []liveCred
	switch s.kind {
	case KindAWSIAM:
		keys, err := h.iam.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(s.user)})
		if err != nil {
			return nil, fmt.Errorf("list access keys of %s: %w", s.user, err)
		}
		for _, k := range keys.AccessKeyMetadata {
			if k.Status != iamtypes.StatusTypeActive {
				continue
			}
			c := liveCred{id: aws.ToString(k.AccessKeyId)}
			for _, v := range sortedVersions(vs) {
				var val awsiam.Value
				if json.Unmarshal([]byte(v.value), &val) == nil && val.AccessKeyID == c.id {
					c.holders = append(c.holders, v)
				}
			}
			out = append(out, c)
		}
	case KindHTTPAPI:
		for _, k := range s.api.ks.Live() {
			h.seen.add(k.Secret)
			c := liveCred{id: k.ID, secret: k.Secret}
			for _, v := range sortedVersions(vs) {
				if secretPart(s.kind, v.value) == k.Secret {
					c.holders = append(c.holders, v)
				}
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// snsMessage is one published notification.
type snsMessage struct {
	Subject, Message string
}

// messages reads every SNS message the endpoint recorded.
func (h *harness) messages(ctx context.Context) ([]snsMessage, error) {
	var last error
	for attempt := 0; attempt < 20; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.url+"/_rotor/sns/messages", nil)
		if err != nil {
			return nil, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			b, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			var msgs []snsMessage
			if rerr == nil && resp.StatusCode == http.StatusOK && json.Unmarshal(b, &msgs) == nil {
				return msgs, nil
			}
			err = fmt.Errorf("SNS messages: %s", resp.Status)
		}
		last = err
		if ctx.Err() != nil {
			break
		}
		sleepCtx(ctx, 500*time.Millisecond)
	}
	return nil, fmt.Errorf("read SNS messages: %w", last)
}

// notRevokedNotice finds a notification that says a credential was NOT
// revoked and names the secret and the version holding it or its key id.
func notRevokedNotice(msgs []snsMessage, s *secret, c liveCred) string {
	for _, m := range msgs {
		if !strings.Contains(strings.ToLower(m.Subject), "not revoked") {
			continue
		}
		if !strings.Contains(m.Message, s.arn) && !strings.Contains(m.Message, s.name) {
			continue
		}
		if strings.Contains(m.Message, c.id) {
			return m.Subject
		}
		for _, v := range c.holders {
			if strings.Contains(m.Message, v.id) {
				return m.Subject
			}
		}
	}
	return ""
}

// revokeAsPerson revokes a credential reported NOT revoked, as the
// notification asks a person to.
func (h *harness) revokeAsPerson(ctx context.Context, s *secret, c liveCred) error {
	h.logf("a person revokes credential %s of %s, reported NOT revoked", c.id, s.name)
	switch s.kind {
	case KindAWSIAM:
		if _, err := h.iam.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String(s.user), AccessKeyId: aws.String(c.id),
			Status: iamtypes.StatusTypeInactive}); err != nil {
			return fmt.Errorf("deactivate %s: %w", c.id, err)
		}
		var nf *iamtypes.NoSuchEntityException
		if _, err := h.iam.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(s.user), AccessKeyId: aws.String(c.id)}); err != nil && !errors.As(err, &nf) {
			return fmt.Errorf("delete %s: %w", c.id, err)
		}
	case KindHTTPAPI:
		return s.api.revoke(c.id)
	}
	return nil
}

// history reads an execution's whole history.
func (h *harness) history(ctx context.Context, arn string) ([]sfntypes.HistoryEvent, error) {
	var all []sfntypes.HistoryEvent
	p := sfn.NewGetExecutionHistoryPaginator(h.sfn, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), MaxResults: 1000})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		all = append(all, page.Events...)
	}
	return all, nil
}

// evidence summarizes what the burst's executions did: each failed task
// with the state it failed in, and how each execution ended; and for an
// httpapi secret, the faults its key API injected during the burst.
func (h *harness) evidence(ctx context.Context, br *burstRun, arns []string) []string {
	var out []string
	for _, arn := range arns {
		name := arn[strings.LastIndex(arn, ":")+1:]
		events, err := h.history(ctx, arn)
		if err != nil {
			out = append(out, fmt.Sprintf("%s: history: %v", name, err))
			continue
		}
		state := ""
		var steps []string
		for _, e := range events {
			switch {
			case e.StateEnteredEventDetails != nil:
				state = aws.ToString(e.StateEnteredEventDetails.Name)
				if len(steps) == 0 || steps[len(steps)-1] != state {
					steps = append(steps, state)
				}
			case e.LambdaFunctionFailedEventDetails != nil:
				d := e.LambdaFunctionFailedEventDetails
				out = append(out, fmt.Sprintf("%s %s failed: %s: %s", name, state, aws.ToString(d.Error), h.seen.mask(causeText(aws.ToString(d.Cause)))))
			case e.TaskFailedEventDetails != nil:
				d := e.TaskFailedEventDetails
				out = append(out, fmt.Sprintf("%s %s failed: %s: %s", name, state, aws.ToString(d.Error), h.seen.mask(causeText(aws.ToString(d.Cause)))))
			case e.LambdaFunctionSucceededEventDetails != nil:
				if o := outcomeOf(aws.ToString(e.LambdaFunctionSucceededEventDetails.Output)); o != "" {
					steps[len(steps)-1] += "(" + o + ")"
				}
			case e.ExecutionFailedEventDetails != nil:
				out = append(out, fmt.Sprintf("%s FAILED: %s", name, aws.ToString(e.ExecutionFailedEventDetails.Error)))
			}
		}
		out = append(out, fmt.Sprintf("%s path: %s", name, strings.Join(steps, " > ")))
	}
	h.epMu.Lock()
	for _, k := range h.killAt {
		if !k.Before(br.start) {
			out = append(out, "endpoint killed at "+k.Format("15:04:05.000")+fmt.Sprintf(" (%s after the burst began)", k.Sub(br.start).Round(time.Millisecond)))
		}
	}
	h.epMu.Unlock()
	if br.s.api != nil {
		for _, f := range br.s.api.injectedSince(br.start) {
			out = append(out, "key API fault "+f)
		}
	}
	return out
}

// causeText takes a function error's message out of its JSON envelope.
func causeText(cause string) string {
	var fe struct{ ErrorMessage string }
	if json.Unmarshal([]byte(cause), &fe) == nil && fe.ErrorMessage != "" {
		return fe.ErrorMessage
	}
	return cause
}

func outcomeOf(output string) string {
	var o struct{ Outcome string }
	_ = json.Unmarshal([]byte(output), &o)
	return o.Outcome
}
