// Package ecsrestart is a worked example: a Lambda function, the target of
// an EventBridge rule matching rotor's "Rotation Switched Over" events
// (rule.json), that redeploys an ECS service when the secret it uses got a
// new current version. ECS reads a secret named in a task definition
// (`secrets` / `valueFrom`) when a task starts, so running tasks keep the
// old value until they are replaced: UpdateService with ForceNewDeployment
// replaces them.
//
// The event comes when the new version is current and verified and the
// previous credential still works for the rotation's grace period: the
// deployment must replace every task within that grace period
// (rotor:grace-period, e.g. "30m").
package ecsrestart

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
)

// The events the handler acts on.
const (
	EventSource            = "rotor"
	DetailTypeSwitchedOver = "Rotation Switched Over"
)

// The function's configuration, from its environment.
const (
	EnvSecretID = "ROTOR_SECRET_ID" // the secret the service uses: its name or ARN
	EnvCluster  = "ECS_CLUSTER"     // the service's cluster: its name or ARN
	EnvService  = "ECS_SERVICE"     // the service: its name or ARN
)

// Config says which service to redeploy after which secret's rotation.
type Config struct {
	SecretID, Cluster, Service string
}

// LoadConfig reads the configuration with getenv (os.Getenv); each
// variable is required.
func LoadConfig(getenv func(string) string) (Config, error) {
	c := Config{SecretID: getenv(EnvSecretID), Cluster: getenv(EnvCluster), Service: getenv(EnvService)}
	var missing []string
	for _, v := range []struct{ name, value string }{{EnvSecretID, c.SecretID}, {EnvCluster, c.Cluster}, {EnvService, c.Service}} {
		if v.value == "" {
			missing = append(missing, v.name)
		}
	}
	if len(missing) > 0 {
		return Config{}, fmt.Errorf("ecsrestart: %s not set", strings.Join(missing, ", "))
	}
	return c, nil
}

// ECS is the part of the ECS client the handler calls.
type ECS interface {
	UpdateService(ctx context.Context, in *ecs.UpdateServiceInput, optFns ...func(*ecs.Options)) (*ecs.UpdateServiceOutput, error)
}

// Handler redeploys one service.
type Handler struct {
	ECS    ECS
	Config Config
}

// Handle is the Lambda handler: a Rotation Switched Over event about the
// configured secret starts a new deployment of the configured service;
// any other event is ignored. An UpdateService error is returned, so that
// Lambda retries the asynchronous invocation.
func (h *Handler) Handle(ctx context.Context, ev events.CloudWatchEvent) error {
	if ev.Source != EventSource || ev.DetailType != DetailTypeSwitchedOver {
		return nil
	}
	var d struct {
		SecretID string `json:"secretId"`
	}
	if err := json.Unmarshal(ev.Detail, &d); err != nil {
		return fmt.Errorf("event %s: detail: %w", ev.ID, err)
	}
	if d.SecretID == "" {
		return errors.New("event " + ev.ID + ": detail has no secretId")
	}
	if !sameSecret(h.Config.SecretID, d.SecretID) {
		return nil
	}
	_, err := h.ECS.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String(h.Config.Cluster), Service: aws.String(h.Config.Service),
		ForceNewDeployment: true})
	if err != nil {
		return fmt.Errorf("redeploying %s in %s after the rotation of %s: %w", h.Config.Service, h.Config.Cluster, d.SecretID, err)
	}
	return nil
}

// sameSecret tells whether id (a name or an ARN) names the secret whose
// ARN is arn: a secret's ARN ends in its name, "-" and six characters.
func sameSecret(id, arn string) bool {
	if id == arn {
		return true
	}
	_, rest, ok := strings.Cut(arn, ":secret:")
	if !ok || len(rest) < 8 || rest[len(rest)-7] != '-' || strings.HasPrefix(id, "arn:") {
		return false
	}
	return rest[:len(rest)-7] == id
}
