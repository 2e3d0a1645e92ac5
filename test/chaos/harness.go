package chaos

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/rotorhq/rotor/internal/keyservice"
	"github.com/rotorhq/rotor/internal/leak"
	"github.com/rotorhq/rotor/internal/provider/awsiam"
	"github.com/rotorhq/rotor/internal/rotorlocal"
	"github.com/rotorhq/rotor/internal/webhook"
)

// secret is one managed secret and what the harness knows of it.
type secret struct {
	i          int
	name, arn  string
	kind       string
	user       string  // awsiam
	api        *keyAPI // httpapi
	masterName string  // httpapi
	// fresh: an awsiam secret created with no key, not rotated at setup;
	// initial is its first version, which holds no credential.
	fresh   bool
	initial string

	mu     sync.Mutex
	values map[string]string // version id -> value, read once (versions are immutable)
}

// harness is one Run.
type harness struct {
	cfg    Config
	plan   plan
	faults []string
	url    string
	aws    aws.Config
	sm     *secretsmanager.Client
	sfn    *sfn.Client
	iam    *iam.Client

	machineARN  string
	webhookURL  string
	webhookKeys webhook.Keys
	secrets     []*secret
	seen        *secrets
	tracker     *tracker

	epMu   sync.Mutex // held while the endpoint restarts
	kills  int
	killAt []time.Time

	mu          sync.Mutex
	started     int
	startedCond *sync.Cond
	loadDone    bool
	quarantined map[int]bool
	violations  map[string]*Violation // by key
	rep         *Report
}

// Run runs the chaos test of cfg and reports what it found. An error means
// the harness could not do its work (the endpoint did not start, say), not
// that rotor broke an invariant: that is in the Report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	faults := EndpointFaults(cfg.FaultRate)
	if len(cfg.Faults) > 0 {
		faults = cfg.Faults
	}
	h := &harness{cfg: cfg, plan: makePlan(cfg), faults: faults, seen: newSecrets(),
		quarantined: map[int]bool{}, violations: map[string]*Violation{},
		rep: &Report{Seed: cfg.Seed, FaultRate: cfg.FaultRate, Secrets: cfg.Secrets, FailedBy: map[string]int{}}}
	h.startedCond = sync.NewCond(&h.mu)
	begin := time.Now()
	defer func() {
		for _, s := range h.secrets {
			if s.api != nil {
				s.api.close()
			}
		}
	}()
	if err := h.setup(ctx); err != nil {
		_ = cfg.Endpoint.Kill()
		return nil, err
	}
	err := h.load(ctx)
	if err == nil {
		err = h.finish(ctx)
	}
	_ = cfg.Endpoint.Kill()
	h.rep.Wall = time.Since(begin)
	h.rep.Kills, h.rep.KillsPlanned = h.kills, len(h.plan.kills)
	for _, v := range h.violations {
		h.rep.Violations = append(h.rep.Violations, *v)
	}
	h.rep.sortViolations()
	return h.rep, err
}

func (h *harness) logf(format string, args ...any) {
	h.cfg.Logf("chaos seed=%d: "+format, append([]any{h.cfg.Seed}, args...)...)
}

// clients builds the harness's SDK clients. They retry more than the
// SDK's default (the endpoint answers faults and restarts), connection
// errors included.
func (h *harness) clients(url string) {
	h.url = url
	h.aws = aws.Config{Region: rotorlocal.Region, BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDCHAOSHARNESS", "chaos-harness-not-a-secret", ""),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = 12
				o.MaxBackoff = 2 * time.Second
				o.RateLimiter = noRateLimit{}
			})
		}}
	h.sm = secretsmanager.NewFromConfig(h.aws)
	h.sfn = sfn.NewFromConfig(h.aws)
	h.iam = iam.NewFromConfig(h.aws)
}

// noRateLimit lets every retry through: the standard retryer's token
// bucket would otherwise stop retrying after a burst of faults.
type noRateLimit struct{}

func (noRateLimit) GetToken(context.Context, uint) (func() error, error) {
	return func() error { return nil }, nil
}
func (noRateLimit) AddTokens(uint) error { return nil }

func randomHex(prefix string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// setup starts the endpoint without faults, creates the secrets, rotates
// each once, checks them, and restarts the endpoint with faults.
func (h *harness) setup(ctx context.Context) error {
	url, err := h.cfg.Endpoint.Start(ctx, nil)
	if err != nil {
		return err
	}
	h.clients(url)
	h.tracker = newTracker(h)
	machines, err := h.sfn.ListStateMachines(ctx, &sfn.ListStateMachinesInput{})
	if err != nil || len(machines.StateMachines) != 1 {
		return fmt.Errorf("chaos: list state machines: %v (%d)", err, len(machines.StateMachines))
	}
	h.machineARN = aws.ToString(machines.StateMachines[0].StateMachineArn)
	h.webhookURL = url + "/lambda-url/" + rotorlocal.FunctionPrefix + rotorlocal.WebhookFunction + "/"
	keys, err := h.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(rotorlocal.WebhookKeysSecret)})
	if err != nil {
		return fmt.Errorf("chaos: read the webhook keys: %w", err)
	}
	if err := json.Unmarshal([]byte(aws.ToString(keys.SecretString)), &h.webhookKeys); err != nil {
		return fmt.Errorf("chaos: webhook keys: %w", err)
	}
	h.seen.add(h.webhookKeys.GitHub, h.webhookKeys.GitGuardian, h.webhookKeys.Generic, h.webhookKeys.GitHubToken)

	for i := 0; i < h.cfg.Secrets; i++ {
		s, err := h.createSecret(ctx, i)
		if err != nil {
			return err
		}
		h.secrets = append(h.secrets, s)
	}
	go h.tracker.run(ctx)
	var arns []string
	for _, s := range h.secrets {
		if s.fresh {
			continue
		}
		arn, err := h.startRotation(ctx, s, fmt.Sprintf("setup-s%03d", s.i), 0)
		if err != nil {
			return err
		}
		h.tracker.own(arn, s.i, originSetup, time.Now())
		arns = append(arns, arn)
	}
	if !h.tracker.waitEnded(ctx, arns, time.Now().Add(60*time.Second)) {
		return errors.New("chaos: the setup rotations did not end within 60 s")
	}
	for _, arn := range arns {
		if st := h.tracker.status(arn); st != "SUCCEEDED" {
			return fmt.Errorf("chaos: setup rotation %s ended %s without faults", arn, st)
		}
	}
	for _, s := range h.secrets {
		res, err := h.check(ctx, s)
		if err != nil {
			return err
		}
		if len(res.violations) > 0 {
			return fmt.Errorf("chaos: secret %s fails the checks after its fault-free setup rotation: %s", s.name, res.violations[0].Detail)
		}
	}
	h.logf("setup: %d secrets rotated once and checked (and %d left without a credential); restarting with %d fault rules",
		len(arns), len(h.secrets)-len(arns), len(h.faults))
	if err := h.restart(ctx, h.faults); err != nil {
		return err
	}
	for _, s := range h.secrets {
		if s.api != nil {
			s.api.setRate(h.cfg.FaultRate)
		}
	}
	return nil
}

func (h *harness) createSecret(ctx context.Context, i int) (*secret, error) {
	kind := h.cfg.secretKind(i)
	s := &secret{i: i, kind: kind, name: fmt.Sprintf("chaos/%s-%02d", kind, i), values: map[string]string{}, fresh: h.cfg.fresh(i)}
	tags := map[string]string{"rotor:provider": s.kind}
	var value string
	switch s.kind {
	case KindRandom:
		value = randomHex("initial-Random-", 24)
		h.seen.add(value)
	case KindAWSIAM:
		s.user = fmt.Sprintf("chaos-user-%02d", i)
		value = fmt.Sprintf(`{"userName":%q}`, s.user)
		tags["rotor:awsiam:user"] = s.user
	case KindHTTPAPI:
		master := randomHex("mk_chaos_", 16)
		h.seen.add(master)
		api, err := startKeyAPI(h.cfg.Seed, i, master)
		if err != nil {
			return nil, err
		}
		s.api = api
		s.masterName = fmt.Sprintf("chaos/master-%02d", i)
		if _, err := h.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(s.masterName),
			SecretString: aws.String(api.ks.HTTPAPIConfig(api.url, keyservice.Serves(s.name), keyservice.RevokeUnminted())),
			Tags:         []smtypes.Tag{{Key: aws.String("rotor:role"), Value: aws.String("master")}}}); err != nil {
			return nil, fmt.Errorf("chaos: create master secret %s: %w", s.masterName, err)
		}
		initial := api.ks.Mint("initial")
		h.seen.add(initial.Secret)
		b, _ := json.Marshal(map[string]string{"apiKey": initial.Secret, "keyId": initial.ID})
		value = string(b)
		tags["rotor:master-secret"] = s.masterName
	}
	in := &secretsmanager.CreateSecretInput{Name: aws.String(s.name), SecretString: aws.String(value)}
	for k, v := range tags {
		in.Tags = append(in.Tags, smtypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	out, err := h.sm.CreateSecret(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("chaos: create secret %s: %w", s.name, err)
	}
	s.arn, s.initial = aws.ToString(out.ARN), aws.ToString(out.VersionId)
	if s.kind == KindAWSIAM {
		if _, err := h.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(s.user),
			Tags: []iamtypes.Tag{{Key: aws.String(awsiam.TagSecret), Value: aws.String(s.arn)}}}); err != nil {
			return nil, fmt.Errorf("chaos: create IAM user %s: %w", s.user, err)
		}
	}
	return s, nil
}

// restart kills the endpoint and starts it again on its data file.
func (h *harness) restart(ctx context.Context, faults []string) error {
	h.epMu.Lock()
	defer h.epMu.Unlock()
	if err := h.cfg.Endpoint.Kill(); err != nil {
		return fmt.Errorf("chaos: kill the endpoint: %w", err)
	}
	url, err := h.cfg.Endpoint.Start(ctx, faults)
	if err != nil {
		return fmt.Errorf("chaos: restart the endpoint: %w", err)
	}
	if url != h.url {
		return fmt.Errorf("chaos: the endpoint came back on %s, not %s", url, h.url)
	}
	return nil
}

// executionARN is the ARN StartExecution gives a name.
func (h *harness) executionARN(name string) string {
	return strings.Replace(h.machineARN, ":stateMachine:", ":execution:", 1) + ":" + name
}

// startRotation starts a manual rotation under a name of its own, so that
// a StartExecution retried after a lost answer or a restart is the same
// call again.
func (h *harness) startRotation(ctx context.Context, s *secret, name string, grace int) (string, error) {
	input := fmt.Sprintf(`{"secretId":%q,"trigger":"manual","gracePeriodSeconds":%d,"reason":"chaos"}`, s.name, grace)
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := h.sfn.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(h.machineARN),
			Name: aws.String(name), Input: aws.String(input)})
		if err == nil {
			return aws.ToString(out.ExecutionArn), nil
		}
		var exists *sfntypes.ExecutionAlreadyExists
		if errors.As(err, &exists) {
			return h.executionARN(name), nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return "", fmt.Errorf("chaos: start execution %s: %w", name, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// noteStarted counts an execution of the load, for the kill schedule.
func (h *harness) noteStarted() {
	h.mu.Lock()
	h.started++
	h.startedCond.Broadcast()
	h.mu.Unlock()
}

// load runs every secret's bursts, and the kills, to the end.
func (h *harness) load(ctx context.Context) error {
	h.logf("load: %d executions planned over %d secrets, %d kills, faults %.0f%%", h.cfg.Rotations, h.cfg.Secrets, len(h.plan.kills), h.cfg.FaultRate*100)
	killErr := make(chan error, 1)
	go func() { killErr <- h.killer(ctx) }()
	var wg sync.WaitGroup
	for _, s := range h.secrets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.runSecret(ctx, s)
		}()
	}
	wg.Wait()
	h.mu.Lock()
	h.loadDone = true
	h.startedCond.Broadcast()
	h.mu.Unlock()
	return <-killErr
}

// killer kills and restarts the endpoint as planned.
func (h *harness) killer(ctx context.Context) error {
	for _, k := range h.plan.kills {
		h.mu.Lock()
		for h.started < k.after && !h.loadDone {
			h.startedCond.Wait()
		}
		done := h.loadDone
		h.mu.Unlock()
		if done {
			return nil
		}
		time.Sleep(k.delay)
		h.epMu.Lock()
		err := h.cfg.Endpoint.Kill()
		h.kills++
		h.killAt = append(h.killAt, time.Now())
		h.logf("kill %d after %d started executions; down for %s", h.kills, k.after, k.off)
		if err == nil {
			time.Sleep(k.off)
			var url string
			url, err = h.cfg.Endpoint.Start(ctx, h.faults)
			if err == nil && url != h.url {
				err = fmt.Errorf("the endpoint came back on %s, not %s", url, h.url)
			}
		}
		h.epMu.Unlock()
		if err != nil {
			return fmt.Errorf("chaos: kill %d: %w", h.kills, err)
		}
	}
	return nil
}

func (h *harness) isQuarantined(i int) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.quarantined[i]
}

// runSecret runs one secret's bursts in order; a violation ends them.
func (h *harness) runSecret(ctx context.Context, s *secret) {
	bursts := h.plan.bursts[s.i]
	for bi, b := range bursts {
		if h.isQuarantined(s.i) || ctx.Err() != nil {
			n := 0
			for _, rest := range bursts[bi:] {
				n += rest.executions()
			}
			h.mu.Lock()
			h.rep.Skipped += n
			h.mu.Unlock()
			return
		}
		time.Sleep(b.Gap)
		h.runBurst(ctx, s, bi, b)
	}
}

// burstRun is what one burst started.
type burstRun struct {
	s       *secret
	index   int
	b       burst
	start   time.Time
	arns    []string // manual rotations
	markers []string // leak alerts
}

func (br *burstRun) label() string {
	return fmt.Sprintf("%s burst %d (%s)", br.s.name, br.index, br.b.Kind)
}

func (h *harness) runBurst(ctx context.Context, s *secret, bi int, b burst) {
	br := &burstRun{s: s, index: bi, b: b, start: time.Now()}
	rotate := func(j int) {
		name := fmt.Sprintf("s%03d-b%03d-%d", s.i, bi, j)
		at := time.Now()
		arn, err := h.startRotation(ctx, s, name, b.Graces[j])
		if err != nil {
			h.harnessError(br, err)
			return
		}
		h.tracker.own(arn, s.i, originManual, at)
		br.arns = append(br.arns, arn)
		h.noteStarted()
	}
	alert := func(j int) {
		marker := fmt.Sprintf("chaos-alert-s%03d-b%03d-%d", s.i, bi, j)
		h.tracker.expect(marker, s.i)
		if err := h.alert(ctx, s, b.Leak, marker); err != nil {
			h.harnessError(br, err)
			return
		}
		br.markers = append(br.markers, marker)
		h.noteStarted()
	}
	switch b.Kind {
	case BurstRotate:
		rotate(0)
	case BurstOverlap:
		rotate(0)
		time.Sleep(b.Delay)
		rotate(1)
	case BurstLeakRace:
		rotate(0)
		time.Sleep(b.Delay)
		alert(1)
	case BurstLeak:
		alert(0)
	}
	h.settle(ctx, br)
}

// settle waits for the burst's executions to end and checks the secret.
func (h *harness) settle(ctx context.Context, br *burstRun) {
	deadline := br.start.Add(h.cfg.BurstTimeout)
	// A leak alert starts its execution through the webhook or the bus:
	// wait for it to appear (a kill may have lost an alert in flight).
	for _, m := range br.markers {
		if !h.tracker.waitMarker(ctx, m, time.Now().Add(20*time.Second)) {
			h.mu.Lock()
			h.rep.AlertsLost++
			h.mu.Unlock()
			h.logf("%s: alert %s started no execution within 20 s", br.label(), m)
		}
	}
	arns := append(append([]string(nil), br.arns...), h.tracker.markerARNs(br.markers)...)
	if !h.tracker.waitEnded(ctx, arns, deadline) {
		var running []string
		for _, a := range arns {
			if h.tracker.status(a) == "RUNNING" {
				running = append(running, h.tracker.describeState(ctx, a))
			}
		}
		h.violate(br, arns, Violation{Kind: KindNotConverged, Secret: br.s.name,
			Detail: fmt.Sprintf("%s: executions still running %s after the burst began: %s", br.label(), h.cfg.BurstTimeout, strings.Join(running, "; "))})
		return
	}
	// Leak executions started late (an alert answered twice) join too.
	arns = append(append([]string(nil), br.arns...), h.tracker.markerARNs(br.markers)...)
	h.tracker.waitEnded(ctx, arns, deadline)
	res, err := h.checkRetrying(ctx, br.s)
	if err != nil {
		h.harnessError(br, err)
		return
	}
	if len(res.violations) > 0 {
		for _, v := range res.violations {
			h.violate(br, arns, v)
		}
		return
	}
	now := time.Now()
	h.mu.Lock()
	for _, a := range arns {
		if at := h.tracker.startedAt(a); !at.IsZero() {
			h.rep.Converge = append(h.rep.Converge, now.Sub(at))
		}
	}
	h.mu.Unlock()
}

// checkRetrying checks a secret, retrying the harness's own errors (the
// endpoint may be restarting).
func (h *harness) checkRetrying(ctx context.Context, s *secret) (*checkResult, error) {
	var err error
	for attempt := 0; attempt < 4; attempt++ {
		var res *checkResult
		if res, err = h.check(ctx, s); err == nil {
			return res, nil
		}
		if ctx.Err() != nil {
			break
		}
		time.Sleep(2 * time.Second)
	}
	return nil, err
}

// violate records a violation, with the evidence of the burst's
// executions, and stops the load on the secret.
func (h *harness) violate(br *burstRun, arns []string, v Violation) {
	if br != nil {
		v.Burst = br.label()
		v.Evidence = append(v.Evidence, h.evidence(context.Background(), br, arns)...)
	}
	h.addViolation(v)
}

func (h *harness) addViolation(v Violation) {
	key := v.Kind + "|" + v.Secret + "|" + v.Key
	h.mu.Lock()
	defer h.mu.Unlock()
	if s := h.secretByName(v.Secret); s != nil {
		h.quarantined[s.i] = true
	}
	if _, dup := h.violations[key]; dup {
		return
	}
	h.violations[key] = &v
	h.cfg.Logf("chaos seed=%d: VIOLATION %s: %s", h.cfg.Seed, v.Kind, v.Detail)
}

func (h *harness) secretByName(name string) *secret {
	for _, s := range h.secrets {
		if s.name == name {
			return s
		}
	}
	return nil
}

// harnessError records that the harness could not do its part of a burst;
// such a burst is neither a violation nor a convergence.
func (h *harness) harnessError(br *burstRun, err error) {
	h.mu.Lock()
	h.rep.HarnessErrors = append(h.rep.HarnessErrors, fmt.Sprintf("%s: %v", br.label(), err))
	h.quarantined[br.s.i] = true
	h.mu.Unlock()
	h.logf("harness error in %s: %v", br.label(), err)
}

// alert sends a leak alert for the secret's current credential, read now.
func (h *harness) alert(ctx context.Context, s *secret, form, marker string) error {
	out, err := h.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(s.name)})
	if err != nil {
		return fmt.Errorf("read the current value to leak: %w", err)
	}
	value := aws.ToString(out.SecretString)
	h.remember(s, aws.ToString(out.VersionId), value)
	reference := "https://chaos.invalid/alerts/" + marker
	if (form == LeakGuardDuty || form == LeakGenericKey) && secretPart(s.kind, value) == "" {
		form = LeakSecretID // no key yet (a fresh secret whose first rotation failed): name the secret
	}
	switch form {
	case LeakGuardDuty:
		var v awsiam.Value
		if err := json.Unmarshal([]byte(value), &v); err != nil || v.AccessKeyID == "" {
			return fmt.Errorf("the current value of %s holds no access key to leak", s.name)
		}
		finding := map[string]any{
			"id": marker, "source": "aws.guardduty", "detail-type": "GuardDuty Finding",
			"detail": map[string]any{
				"arn":  "arn:aws:guardduty:us-east-1:000000000000:detector/chaos/finding/" + marker,
				"id":   marker,
				"type": "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
				"resource": map[string]any{"resourceType": "AccessKey",
					"accessKeyDetails": map[string]any{"accessKeyId": v.AccessKeyID, "userName": s.user, "userType": "IAMUser"}},
			}}
		body, _ := json.Marshal(finding)
		return h.post(ctx, h.url+"/_rotor/events/emit", body, nil, http.StatusOK)
	case LeakGenericKey, LeakFingerprint, LeakSecretID:
		a := map[string]string{"reference": reference, "reason": "chaos"}
		switch form {
		case LeakGenericKey:
			var v awsiam.Value
			if err := json.Unmarshal([]byte(value), &v); err != nil || v.AccessKeyID == "" {
				return fmt.Errorf("the current value of %s holds no access key to leak", s.name)
			}
			a["accessKeyId"] = v.AccessKeyID
		case LeakFingerprint:
			a["fingerprint"] = leak.SHA256([]byte(secretPart(s.kind, value)))
		case LeakSecretID:
			a["secretId"] = s.name
		}
		body, _ := json.Marshal(a)
		// Signed once: a retry is the same delivery, which the webhook
		// answers as a duplicate.
		ts, sig := leak.SignGeneric([]byte(h.webhookKeys.Generic), body, time.Now())
		return h.post(ctx, h.webhookURL+"generic", body,
			map[string]string{leak.GenericTimestampHeader: ts, leak.GenericSignatureHeader: sig}, http.StatusAccepted)
	}
	return fmt.Errorf("unknown leak form %q", form)
}

// post sends body until it is answered with want, across restarts.
func (h *harness) post(ctx context.Context, url string, body []byte, headers map[string]string, want int) error {
	deadline := time.Now().Add(60 * time.Second)
	var last string
	for time.Now().Before(deadline) && ctx.Err() == nil {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode == want {
				return nil
			}
			last = fmt.Sprintf("%s: %s", resp.Status, h.seen.mask(string(b)))
			// A function URL answers 403 until the restarted endpoint has
			// registered its function again.
			notYet := resp.StatusCode == http.StatusForbidden && strings.Contains(string(b), `"Forbidden"`)
			if resp.StatusCode < 500 && !notYet {
				return fmt.Errorf("POST %s: %s", url, last)
			}
		} else {
			last = err.Error()
		}
		time.Sleep(500 * time.Millisecond)
	}
	return fmt.Errorf("POST %s: %s", url, last)
}

// secretPart is the part of a value that is the credential.
func secretPart(kind, value string) string {
	switch kind {
	case KindAWSIAM:
		var v awsiam.Value
		_ = json.Unmarshal([]byte(value), &v)
		return v.SecretAccessKey
	case KindHTTPAPI:
		var v struct {
			APIKey string `json:"apiKey"`
		}
		_ = json.Unmarshal([]byte(value), &v)
		return v.APIKey
	}
	return value
}

// remember keeps a version's value and records its secret part.
func (h *harness) remember(s *secret, version, value string) {
	s.mu.Lock()
	s.values[version] = value
	s.mu.Unlock()
	h.seen.add(secretPart(s.kind, value))
}
