package events

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"go.etcd.io/bbolt"

	"github.com/rotorhq/rotor/internal/eventpattern"

	"github.com/rotorhq/rotor/internal/localaws/wire"
)

// Service is the local EventBridge (see the package comment).
type Service struct {
	env     wire.Env
	targets Targets

	// retries is how many times a failed delivery is retried when its
	// target has no RetryPolicy; retryBase is the first delay, doubled
	// after each retry (at most retryMax).
	retries             int
	retryBase, retryMax time.Duration

	ctx    context.Context // deliveries run under it; Close cancels it
	cancel context.CancelFunc

	mu      sync.Mutex
	buses   map[string]*ebBus  // by name
	rules   map[string]*ebRule // by ruleKey(bus, name)
	done    []Delivery         // the last maxDeliveries finished deliveries
	pending int                // deliveries in flight
	idle    chan struct{}      // closed when pending falls to 0
	closed  bool
	wg      sync.WaitGroup
}

// Targets are the calls deliveries make, as function values the server
// wires to its Step Functions and Lambda services; a nil one makes
// deliveries to such targets fail. An error marked Permanent is not
// retried.
type Targets struct {
	// StartExecution starts an execution of a state machine and returns
	// its ARN.
	StartExecution func(ctx context.Context, stateMachineARN, name, input string) (string, error)
	// Invoke invokes a Lambda function and returns what the delivery
	// records: the function's response, or its error's text, since EventBridge
	// invokes asynchronously and what the function then does is not the
	// delivery's concern.
	Invoke func(ctx context.Context, function string, payload []byte) (string, error)
}

// Delivery is the outcome of delivering one event to one target of one
// rule.
type Delivery struct {
	EventID   string
	EventBus  string
	Rule      string
	RuleARN   string
	TargetID  string
	TargetARN string
	// Input is what the target was given, after Input, InputPath or
	// InputTransformer.
	Input    string
	Attempts int
	// Result is the execution ARN a state machine target started, or the
	// response (or the error) of a function target.
	Result string `json:",omitempty"`
	// Error is why the delivery failed, "" if it succeeded.
	Error string `json:",omitempty"`
	// Time is when the delivery ended.
	Time time.Time
}

// Failed tells whether the delivery failed.
func (d Delivery) Failed() bool { return d.Error != "" }

type ebBus struct {
	Name, ARN   string
	Description string    `json:",omitempty"`
	Created     time.Time `json:"created"`
	Modified    time.Time `json:"modified"`
}

type ebRule struct {
	Name, Bus, ARN string
	EventPattern   string
	State          ebtypes.RuleState
	Description    string     `json:",omitempty"`
	RoleARN        string     `json:",omitempty"`
	Targets        []ebTarget `json:",omitempty"`

	pattern *eventpattern.Pattern
}

type ebTarget struct {
	ID, ARN       string
	RoleARN       string             `json:",omitempty"`
	Input         eventpattern.Input `json:",omitzero"`
	MaxRetries    *int32             `json:",omitempty"` // RetryPolicy
	MaxAge        *int32             `json:",omitempty"`
	DeadLetterARN string             `json:",omitempty"`

	transform *eventpattern.Transformer
}

const (
	eventsJSON      = "application/x-amz-json-1.1"
	defaultBus      = "default"
	maxEntries      = 10
	maxEventsSize   = 256 << 10
	maxTargets      = 5 // per rule
	maxPageSize     = 100
	maxDeliveries   = 1000
	maxLocalRetries = 5
)

var (
	eventsBucket = []byte("events")
	ruleNameRE   = regexp.MustCompile(`^[.\-_A-Za-z0-9]{1,64}$`)
	busNameRE    = regexp.MustCompile(`^[/.\-_A-Za-z0-9]{1,256}$`)
	busARNRE     = regexp.MustCompile(`^arn:aws[\w-]*:events:[a-z0-9-]+:\d{12}:event-bus/([/.\-_A-Za-z0-9]+)$`)
	sfnTargetRE  = regexp.MustCompile(`^arn:aws[\w-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[^:]+$`)
	fnTargetRE   = regexp.MustCompile(`^arn:aws[\w-]*:lambda:[a-z0-9-]+:\d{12}:function:[^:]+(:[^:]+)?$`)
)

// Keys in bucket "events": "bus:NAME" and "rule:BUS/NAME" (a rule with its
// targets) hold JSON.
const (
	ebBusKey  = "bus:"
	ebRuleKey = "rule:"
)

func ruleKey(bus, name string) string { return bus + "/" + name }

// New builds the service, loading its buses and rules from env.DB.
func New(env wire.Env, targets Targets) (*Service, error) {
	ctx, cancel := context.WithCancel(context.Background())
	e := &Service{env: env, targets: targets, retries: 3, retryBase: 200 * time.Millisecond, retryMax: 5 * time.Second,
		ctx: ctx, cancel: cancel, buses: map[string]*ebBus{}, rules: map[string]*ebRule{}}
	if err := e.load(); err != nil {
		cancel()
		return nil, fmt.Errorf("loading EventBridge state: %w", err)
	}
	if _, ok := e.buses[defaultBus]; !ok {
		now := env.Now().UTC()
		b := &ebBus{Name: defaultBus, ARN: e.busARN(defaultBus), Created: now, Modified: now}
		if err := e.update(func(bk *bbolt.Bucket) error { return wire.PutJSON(bk, ebBusKey+b.Name, b) }); err != nil {
			cancel()
			return nil, fmt.Errorf("creating the default event bus: %w", err)
		}
		e.buses[defaultBus] = b
	}
	return e, nil
}

func (e *Service) load() error {
	return e.env.DB.View(func(b *bbolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			switch key := string(k); {
			case strings.HasPrefix(key, ebBusKey):
				var bus ebBus
				if err := json.Unmarshal(v, &bus); err != nil {
					return fmt.Errorf("record %q: %w", k, err)
				}
				e.buses[bus.Name] = &bus
			case strings.HasPrefix(key, ebRuleKey):
				var r ebRule
				if err := json.Unmarshal(v, &r); err != nil {
					return fmt.Errorf("record %q: %w", k, err)
				}
				if err := r.compile(); err != nil {
					return fmt.Errorf("record %q: %w", k, err)
				}
				e.rules[ruleKey(r.Bus, r.Name)] = &r
			}
			return nil
		})
	}, eventsBucket)
}

// compile compiles a loaded rule's pattern and target inputs.
func (r *ebRule) compile() error {
	p, err := eventpattern.Compile([]byte(r.EventPattern))
	if err != nil {
		return err
	}
	r.pattern = p
	for i := range r.Targets {
		tr, err := eventpattern.CompileInput(r.Targets[i].Input)
		if err != nil {
			return fmt.Errorf("target %s: %w", r.Targets[i].ID, err)
		}
		r.Targets[i].transform = tr
	}
	return nil
}

// update runs fn in a write transaction on bucket "events" when state
// persists. Call with e.mu held (or before e is shared), before changing
// memory.
func (e *Service) update(fn func(b *bbolt.Bucket) error) error {
	return e.env.DB.Update(fn, eventsBucket)
}

func (e *Service) busARN(name string) string {
	return fmt.Sprintf("arn:aws:events:%s:%s:event-bus/%s", e.env.Region, e.env.Account, name)
}

func (e *Service) ruleARN(bus, name string) string {
	if bus == defaultBus {
		return fmt.Sprintf("arn:aws:events:%s:%s:rule/%s", e.env.Region, e.env.Account, name)
	}
	return fmt.Sprintf("arn:aws:events:%s:%s:rule/%s/%s", e.env.Region, e.env.Account, bus, name)
}

// Errors, in EventBridge's words.

func ebValidation(format string, args ...any) error {
	return &wire.Error{Code: "ValidationException", Message: fmt.Sprintf(format, args...)}
}

func ebPatternError(value, member, pattern string) error {
	return ebValidation("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: %s", value, member, pattern)
}

func busNotFound(name string) error {
	return &ebtypes.ResourceNotFoundException{Message: aws.String("Event bus " + name + " does not exist.")}
}

func ruleNotFound(rule, bus string) error {
	return &ebtypes.ResourceNotFoundException{Message: aws.String("Rule " + rule + " does not exist on EventBus " + bus + ".")}
}

// busName resolves an EventBusName parameter (a name, an ARN, or nothing
// for the default bus).
func busName(v *string) (string, error) {
	s := aws.ToString(v)
	switch {
	case s == "":
		return defaultBus, nil
	case strings.HasPrefix(s, "arn:"):
		m := busARNRE.FindStringSubmatch(s)
		if m == nil {
			return "", ebValidation("Parameter %s is not valid. Reason: it is not an event bus ARN.", s)
		}
		return m[1], nil
	case !busNameRE.MatchString(s):
		return "", ebPatternError(s, "eventBusName", `(arn:aws[\w-]*:events:[a-z]+-[a-z]+-[\w-]+:[0-9]{12}:event-bus\/)?[/\.\-_A-Za-z0-9]+`)
	}
	return s, nil
}

func checkRuleName(name string) error {
	if !ruleNameRE.MatchString(name) {
		return ebPatternError(name, "name", `[\.\-_A-Za-z0-9]+`)
	}
	return nil
}
