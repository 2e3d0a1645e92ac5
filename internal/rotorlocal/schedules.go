package rotorlocal

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

// Schedules fire on demand, as EventBridge Scheduler would.

// serveFire answers POST /_rotor/schedules/<name>: FireSchedule, with the
// execution's ARN.
func (h *Host) serveFire(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "POST fires the schedule"})
		return
	}
	arn, err := h.FireSchedule(r.Context(), strings.TrimPrefix(r.URL.Path, "/_rotor/schedules/"))
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]string{"executionArn": arn})
}

// FireSchedule starts what a schedule targets, now, as EventBridge
// Scheduler would: with the schedule's role and input. It returns the
// execution's ARN.
func (h *Host) FireSchedule(ctx context.Context, name string) (string, error) {
	var names []string
	for _, s := range h.Deployment.Schedules {
		names = append(names, s.Name)
		if s.Name != name && s.LogicalID != name {
			continue
		}
		if !strings.Contains(s.Target.ARN, ":states:") || !strings.Contains(s.Target.ARN, ":stateMachine:") {
			return "", fmt.Errorf("schedule %s: its target %s is not a state machine, the only target modelled", name, s.Target.ARN)
		}
		h.scheduleMu.Lock()
		h.fired++
		n := h.fired
		h.scheduleMu.Unlock()
		out, err := sfn.NewFromConfig(h.roleConfig(s.Target.RoleARN, "scheduler")).StartExecution(ctx, &sfn.StartExecutionInput{
			StateMachineArn: aws.String(s.Target.ARN), Input: aws.String(s.Target.Input),
			Name: aws.String(fmt.Sprintf("%s-%d-%d", truncate(s.Name, 40), time.Now().Unix(), n))})
		if err != nil {
			return "", fmt.Errorf("schedule %s: %w", name, err)
		}
		return aws.ToString(out.ExecutionArn), nil
	}
	return "", fmt.Errorf("no schedule %q (the template has: %s)", name, strings.Join(names, ", "))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
