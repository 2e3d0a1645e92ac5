package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"
)

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// failureEvents are the notifications that report a failed execution.
var failureEvents = []string{"rotation.failed", "rotation.expire-failed", "leak.revoke-failed", "rotation.rejected"}

// finish restarts the endpoint without faults once every burst is over,
// checks every secret, rotates each once more, and checks notifications and
// every output for secret values.
func (h *harness) finish(ctx context.Context) error {
	h.logf("load over: %d executions started; restarting without faults for the final checks", h.started)
	for _, s := range h.secrets {
		if s.api != nil {
			s.api.setRate(0)
		}
	}
	if err := h.restart(ctx, nil); err != nil {
		return err
	}
	if running := h.tracker.running(); len(running) > 0 {
		h.tracker.waitEnded(ctx, running, time.Now().Add(30*time.Second))
	}
	var finals []string
	for _, s := range h.secrets {
		res, err := h.checkRetrying(ctx, s)
		if err != nil {
			return fmt.Errorf("chaos: final check of %s: %w", s.name, err)
		}
		for _, v := range res.violations {
			h.addViolation(v)
		}
		if h.isQuarantined(s.i) {
			continue
		}
		name := fmt.Sprintf("final-s%03d", s.i)
		arn, err := h.startRotation(ctx, s, name, 0)
		if err != nil {
			return err
		}
		h.tracker.own(arn, s.i, originFinal, time.Now())
		finals = append(finals, arn)
	}
	h.tracker.waitEnded(ctx, finals, time.Now().Add(60*time.Second))
	for _, arn := range finals {
		s := h.secrets[h.tracker.secretOf(arn)]
		if st := h.tracker.status(arn); st != "SUCCEEDED" {
			br := &burstRun{s: s, index: -1, b: burst{Kind: "final rotation"}, start: time.Now()}
			h.violate(br, []string{arn}, Violation{Kind: KindCannotRotate, Secret: s.name,
				Detail: fmt.Sprintf("%s: a fault-free rotation after the load ended %s", s.name, st)})
			continue
		}
		res, err := h.checkRetrying(ctx, s)
		if err != nil {
			return fmt.Errorf("chaos: check of %s after its final rotation: %w", s.name, err)
		}
		for _, v := range res.violations {
			v.Burst = "final rotation"
			h.addViolation(v)
		}
	}
	msgs, err := h.messages(ctx)
	if err != nil {
		return err
	}
	h.count(ctx, msgs)
	for _, s := range h.secrets {
		if s.api != nil {
			h.seen.add(s.api.ks.Minted()...)
			h.rep.KeyAPIFaults += s.api.count()
		}
	}
	return h.scan(ctx, msgs)
}

// notice is a notification about one execution.
type notice struct {
	Event, Error string
	Subject      string
}

// noticesByExecution indexes the notifications by the execution they name.
func noticesByExecution(msgs []snsMessage) map[string][]notice {
	out := map[string][]notice{}
	for _, m := range msgs {
		var body struct {
			Event     string `json:"event"`
			Error     string `json:"error"`
			Execution string `json:"execution"`
		}
		if json.Unmarshal([]byte(m.Message), &body) != nil || body.Execution == "" {
			continue
		}
		out[body.Execution] = append(out[body.Execution], notice{Event: body.Event, Error: body.Error, Subject: m.Subject})
	}
	return out
}

// count fills the report's counts and finds failures not notified.
func (h *harness) count(ctx context.Context, msgs []snsMessage) {
	byExec := noticesByExecution(msgs)
	recs := h.tracker.snapshot()
	for _, r := range recs {
		load := r.origin == originManual || r.origin == originAlert
		if load {
			h.rep.Executions++
		}
		notes := byExec[r.arn]
		notRevoked := false
		for _, n := range notes {
			notRevoked = notRevoked || strings.Contains(strings.ToLower(n.Subject), "not revoked")
		}
		if load && notRevoked {
			h.rep.NotRevokedNotices++
		}
		switch r.status {
		case "SUCCEEDED":
			if load {
				h.rep.Succeeded++
			}
		case "RUNNING":
			if load {
				h.rep.Running++
			}
		default: // FAILED, TIMED_OUT, ABORTED
			errName := ""
			for _, n := range notes {
				for _, e := range failureEvents {
					if n.Event == e && errName == "" {
						errName = n.Error
						if errName == "" {
							errName = n.Event
						}
					}
				}
			}
			if load {
				h.rep.Failed++
			}
			if errName == "" {
				errName = "(no notification) " + r.status
				secret := ""
				if r.secret >= 0 {
					secret = h.secrets[r.secret].name
				}
				var br *burstRun
				if r.secret >= 0 {
					br = &burstRun{s: h.secrets[r.secret], index: -1, b: burst{Kind: r.origin}, start: r.startedAt}
				}
				h.violate(br, []string{r.arn}, Violation{Kind: KindUnnotified, Secret: secret, Key: r.name,
					Detail: fmt.Sprintf("execution %s (%s) ended %s and published no notification naming it", r.name, r.origin, r.status)})
			}
			if load {
				h.rep.FailedBy[errName]++
			}
		}
	}
}

// scan looks for every secret value the harness saw in every execution
// history, every SNS message and the endpoint's output.
func (h *harness) scan(ctx context.Context, msgs []snsMessage) error {
	h.rep.SecretsKnown = h.seen.len()
	for _, r := range h.tracker.snapshot() {
		events, err := h.history(ctx, r.arn)
		if err != nil {
			return fmt.Errorf("chaos: history of %s: %w", r.name, err)
		}
		b, _ := json.Marshal(events)
		h.rep.ScannedBytes += len(b)
		if n, at := h.seen.find(string(b)); n > 0 {
			h.addViolation(Violation{Kind: KindSecretHistory, Secret: h.nameOf(r.secret), Key: r.name,
				Detail: fmt.Sprintf("the history of %s holds %d secret value(s); first at: %s", r.name, n, h.excerpt(string(b), at))})
		}
	}
	for i, m := range msgs {
		b, _ := json.Marshal(m)
		h.rep.ScannedBytes += len(b)
		if n, at := h.seen.find(string(b)); n > 0 {
			h.addViolation(Violation{Kind: KindSecretSNS, Key: fmt.Sprint(i),
				Detail: fmt.Sprintf("SNS message %d (%q) holds %d secret value(s): %s", i, m.Subject, n, h.excerpt(string(b), at))})
		}
	}
	log, err := os.ReadFile(h.cfg.Endpoint.LogPath())
	if err != nil {
		return fmt.Errorf("chaos: read the endpoint's output: %w", err)
	}
	h.rep.ScannedBytes += len(log)
	if n, at := h.seen.find(string(log)); n > 0 {
		line := strings.Count(string(log[:at]), "\n") + 1
		h.addViolation(Violation{Kind: KindSecretLog, Key: "log",
			Detail: fmt.Sprintf("the endpoint's and functions' output holds %d secret value(s); first on line %d: %s", n, line, h.excerpt(string(log), at))})
	}
	return nil
}

// excerpt shows the text around a position with every secret masked. It
// masks a wider window and drops its edges, where a value cut in two would
// escape the mask: every form of a value is shorter than the margin.
func (h *harness) excerpt(text string, at int) string {
	const margin = 200
	from, to := max(at-2*margin, 0), min(at+2*margin, len(text))
	masked := h.seen.mask(text[from:to])
	lo, hi := 0, len(masked)
	if from > 0 {
		lo = margin
	}
	if to < len(text) {
		hi -= margin
	}
	if lo >= hi {
		return "[SECRET]"
	}
	return masked[lo:hi]
}

func (h *harness) nameOf(i int) string {
	if i < 0 || i >= len(h.secrets) {
		return ""
	}
	return h.secrets[i].name
}
