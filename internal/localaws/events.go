package localaws

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/google/uuid"
	"go.etcd.io/bbolt"

	"github.com/rotorhq/rotor/internal/eventpattern"

	"github.com/rotorhq/rotor/internal/localaws/wire"
)

// Events serves the EventBridge API (awsJson1.1, X-Amz-Target
// AWSEvents.<Op>, SigV4 signing name "events") for event buses, rules
// with event patterns, their targets, and PutEvents:
//
//   - Buses: CreateEventBus, DeleteEventBus (it deletes the bus's rules
//     too), DescribeEventBus, ListEventBuses. The "default" bus always
//     exists and cannot be deleted.
//   - Rules: PutRule (with an EventPattern, matched by internal/eventpattern;
//     a ScheduleExpression is refused with a ValidationException),
//     DescribeRule, ListRules, DeleteRule (refused while the rule has
//     targets).
//   - Targets: PutTargets, RemoveTargets, ListTargetsByRule. A target is a
//     Step Functions state machine (arn:aws:states:...:stateMachine:NAME,
//     RoleArn required as in AWS) or a Lambda function
//     (arn:aws:lambda:...:function:NAME); Input, InputPath and
//     InputTransformer apply. Other target types are refused.
//   - PutEvents validates its entries as EventBridge does (1 to 10 entries,
//     256 KB in all; Source, DetailType and Detail, a JSON object,
//     required; "aws." sources refused), answering a failed entry for each
//     invalid one, and builds each event's envelope (version "0", id,
//     detail-type, source, account, time, region, resources, detail).
//
// Delivery is asynchronous, as in EventBridge: PutEvents matches each event
// against the enabled rules of its bus and returns; each matching rule's
// targets then get the event, transformed, in the background: a state
// machine an execution (named after the event, rule and target, so that a
// retry cannot start two), a function an asynchronous invocation (a
// function error is the function's business, not a failed delivery). A
// delivery that fails is retried with exponential backoff, up to the
// target's RetryPolicy.MaximumRetryAttempts or 3 times (at most 5: this is
// a local endpoint); a target that does not exist or refuses the input
// fails at once. Deliveries and failures are kept in memory for hosts and
// tests (Deliveries, Failures, Wait, and GET /_rotor/events/deliveries),
// never in PutEvents' FailedEntryCount. Dead-letter queues are accepted
// and not used.
//
// Buses, rules and targets persist in bbolt bucket "events" when the server
// has a data file; events and deliveries in flight do not.
type Events struct {
	s *Server

	// startExecution and invokeFunction reach the server's Step Functions
	// and Lambda services (the Server sets them, see sfnStarter and
	// lambdaInvoker); nil makes deliveries to such targets fail.
	startExecution startExecutionFunc
	invokeFunction invokeFunc

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

// startExecutionFunc starts an execution of a state machine and returns its
// ARN.
type startExecutionFunc func(ctx context.Context, stateMachineARN, name, input string) (string, error)

// invokeFunc invokes a Lambda function and returns its response.
type invokeFunc func(ctx context.Context, function string, payload []byte) ([]byte, error)

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

// newEvents loads the buses and rules of the data file, if any.
func newEvents(s *Server) (*Events, error) {
	ctx, cancel := context.WithCancel(context.Background())
	e := &Events{s: s, retries: 3, retryBase: 200 * time.Millisecond, retryMax: 5 * time.Second,
		ctx: ctx, cancel: cancel, buses: map[string]*ebBus{}, rules: map[string]*ebRule{}}
	if err := e.load(); err != nil {
		cancel()
		return nil, fmt.Errorf("loading EventBridge state: %w", err)
	}
	if _, ok := e.buses[defaultBus]; !ok {
		now := s.opts.Now().UTC()
		b := &ebBus{Name: defaultBus, ARN: e.busARN(defaultBus), Created: now, Modified: now}
		if err := e.update(func(bk *bbolt.Bucket) error { return wire.PutJSON(bk, ebBusKey+b.Name, b) }); err != nil {
			cancel()
			return nil, fmt.Errorf("creating the default event bus: %w", err)
		}
		e.buses[defaultBus] = b
	}
	return e, nil
}

func (e *Events) load() error {
	if e.s.db == nil {
		return nil
	}
	return e.s.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(eventsBucket)
		if b == nil {
			return nil
		}
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
	})
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
func (e *Events) update(fn func(b *bbolt.Bucket) error) error {
	if e.s.db == nil {
		return nil
	}
	return e.s.db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(eventsBucket)
		if err != nil {
			return err
		}
		return fn(b)
	})
}

func (e *Events) busARN(name string) string {
	return fmt.Sprintf("arn:aws:events:%s:%s:event-bus/%s", e.s.opts.Region, e.s.opts.Account, name)
}

func (e *Events) ruleARN(bus, name string) string {
	if bus == defaultBus {
		return fmt.Sprintf("arn:aws:events:%s:%s:rule/%s", e.s.opts.Region, e.s.opts.Account, name)
	}
	return fmt.Sprintf("arn:aws:events:%s:%s:rule/%s/%s", e.s.opts.Region, e.s.opts.Account, bus, name)
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

// Buses.

func (e *Events) createEventBus(in *eventbridge.CreateEventBusInput) (*eventbridge.CreateEventBusOutput, error) {
	name := aws.ToString(in.Name)
	switch {
	case aws.ToString(in.EventSourceName) != "":
		return nil, ebValidation("rotor's local endpoint has no partner event sources (EventSourceName)")
	case !busNameRE.MatchString(name):
		return nil, ebPatternError(name, "name", `[/\.\-_A-Za-z0-9]+`)
	case strings.Contains(name, "/") || strings.HasPrefix(name, "aws."):
		return nil, ebValidation("Event bus name must not contain '/' or start with 'aws.': those are partner event buses.")
	case len(aws.ToString(in.Description)) > 512:
		return nil, ebValidation("Description must be at most 512 characters.")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.buses[name]; ok {
		return nil, &ebtypes.ResourceAlreadyExistsException{Message: aws.String("Event bus " + name + " already exists.")}
	}
	now := e.s.opts.Now().UTC()
	b := &ebBus{Name: name, ARN: e.busARN(name), Description: aws.ToString(in.Description), Created: now, Modified: now}
	if err := e.update(func(bk *bbolt.Bucket) error { return wire.PutJSON(bk, ebBusKey+name, b) }); err != nil {
		return nil, err
	}
	e.buses[name] = b
	return &eventbridge.CreateEventBusOutput{EventBusArn: aws.String(b.ARN), Description: in.Description}, nil
}

// deleteEventBus deletes a bus and its rules; a bus that does not exist is
// not an error (as in EventBridge).
func (e *Events) deleteEventBus(in *eventbridge.DeleteEventBusInput) (*eventbridge.DeleteEventBusOutput, error) {
	name, err := busName(in.Name)
	if err != nil {
		return nil, err
	}
	if name == defaultBus {
		return nil, ebValidation("Cannot delete event bus default.")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.buses[name]; !ok {
		return &eventbridge.DeleteEventBusOutput{}, nil
	}
	var rules []string
	for k, r := range e.rules {
		if r.Bus == name {
			rules = append(rules, k)
		}
	}
	err = e.update(func(b *bbolt.Bucket) error {
		for _, k := range rules {
			if err := b.Delete([]byte(ebRuleKey + k)); err != nil {
				return err
			}
		}
		return b.Delete([]byte(ebBusKey + name))
	})
	if err != nil {
		return nil, err
	}
	for _, k := range rules {
		delete(e.rules, k)
	}
	delete(e.buses, name)
	return &eventbridge.DeleteEventBusOutput{}, nil
}

func (e *Events) describeEventBus(in *eventbridge.DescribeEventBusInput) (*eventbridge.DescribeEventBusOutput, error) {
	name, err := busName(in.Name)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	b, ok := e.buses[name]
	if !ok {
		return nil, busNotFound(name)
	}
	return &eventbridge.DescribeEventBusOutput{Name: aws.String(b.Name), Arn: aws.String(b.ARN), Description: nonEmpty(b.Description),
		CreationTime: aws.Time(b.Created), LastModifiedTime: aws.Time(b.Modified)}, nil
}

func (e *Events) listEventBuses(in *eventbridge.ListEventBusesInput) (*eventbridge.ListEventBusesOutput, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var names []string
	for name := range e.buses {
		if strings.HasPrefix(name, aws.ToString(in.NamePrefix)) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	from, to, next, err := ebPage(len(names), in.Limit, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := &eventbridge.ListEventBusesOutput{NextToken: next, EventBuses: []ebtypes.EventBus{}}
	for _, name := range names[from:to] {
		b := e.buses[name]
		out.EventBuses = append(out.EventBuses, ebtypes.EventBus{Name: aws.String(b.Name), Arn: aws.String(b.ARN),
			Description: nonEmpty(b.Description), CreationTime: aws.Time(b.Created), LastModifiedTime: aws.Time(b.Modified)})
	}
	return out, nil
}

// ebPage turns Limit/NextToken (an offset here) into a slice range.
func ebPage(n int, limit *int32, token *string) (int, int, *string, error) {
	from := 0
	if t := aws.ToString(token); t != "" {
		v, err := strconv.Atoi(t)
		if err != nil || v < 0 || v > n {
			return 0, 0, nil, ebValidation("The NextToken provided is invalid.")
		}
		from = v
	}
	size := maxPageSize
	if limit != nil {
		if *limit < 1 || *limit > maxPageSize {
			return 0, 0, nil, ebValidation("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and %d", *limit, maxPageSize)
		}
		size = int(*limit)
	}
	to := min(from+size, n)
	var next *string
	if to < n {
		next = aws.String(strconv.Itoa(to))
	}
	return from, to, next, nil
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

// Rules.

func (e *Events) putRule(in *eventbridge.PutRuleInput) (*eventbridge.PutRuleOutput, error) {
	name := aws.ToString(in.Name)
	if err := checkRuleName(name); err != nil {
		return nil, err
	}
	bus, err := busName(in.EventBusName)
	if err != nil {
		return nil, err
	}
	switch {
	case aws.ToString(in.ScheduleExpression) != "":
		return nil, ebValidation("rotor's local endpoint does not run scheduled rules (ScheduleExpression %q): give the rule an EventPattern", aws.ToString(in.ScheduleExpression))
	case aws.ToString(in.EventPattern) == "":
		return nil, ebValidation("Parameter(s) EventPattern or ScheduleExpression must be specified.")
	case len(aws.ToString(in.Description)) > 512:
		return nil, ebValidation("Description must be at most 512 characters.")
	}
	state := in.State
	switch state {
	case "":
		state = ebtypes.RuleStateEnabled
	case ebtypes.RuleStateEnabled, ebtypes.RuleStateDisabled, ebtypes.RuleStateEnabledWithAllCloudtrailManagementEvents:
	default:
		return nil, ebValidation("1 validation error detected: Value '%s' at 'state' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED, ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS]", state)
	}
	pattern, err := eventpattern.Compile([]byte(aws.ToString(in.EventPattern)))
	if err != nil {
		return nil, &ebtypes.InvalidEventPatternException{Message: aws.String("Event pattern is not valid. Reason: " + err.Error())}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.buses[bus]; !ok {
		return nil, busNotFound(bus)
	}
	r := &ebRule{Name: name, Bus: bus, ARN: e.ruleARN(bus, name), EventPattern: aws.ToString(in.EventPattern), State: state,
		Description: aws.ToString(in.Description), RoleARN: aws.ToString(in.RoleArn), pattern: pattern}
	// PutRule replaces the rule but keeps its targets.
	if old, ok := e.rules[ruleKey(bus, name)]; ok {
		r.Targets = old.Targets
	}
	if err := e.update(func(b *bbolt.Bucket) error { return wire.PutJSON(b, ebRuleKey+ruleKey(bus, name), r) }); err != nil {
		return nil, err
	}
	e.rules[ruleKey(bus, name)] = r
	return &eventbridge.PutRuleOutput{RuleArn: aws.String(r.ARN)}, nil
}

// rule finds a rule; call with e.mu held.
func (e *Events) rule(name string, busParam *string) (*ebRule, error) {
	bus, err := busName(busParam)
	if err != nil {
		return nil, err
	}
	if err := checkRuleName(name); err != nil {
		return nil, err
	}
	r, ok := e.rules[ruleKey(bus, name)]
	if !ok {
		return nil, ruleNotFound(name, bus)
	}
	return r, nil
}

func (r *ebRule) wire() ebtypes.Rule {
	return ebtypes.Rule{Name: aws.String(r.Name), Arn: aws.String(r.ARN), EventBusName: aws.String(r.Bus),
		EventPattern: aws.String(r.EventPattern), State: r.State, Description: nonEmpty(r.Description), RoleArn: nonEmpty(r.RoleARN)}
}

func (e *Events) describeRule(in *eventbridge.DescribeRuleInput) (*eventbridge.DescribeRuleOutput, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r, err := e.rule(aws.ToString(in.Name), in.EventBusName)
	if err != nil {
		return nil, err
	}
	w := r.wire()
	return &eventbridge.DescribeRuleOutput{Name: w.Name, Arn: w.Arn, EventBusName: w.EventBusName, EventPattern: w.EventPattern,
		State: w.State, Description: w.Description, RoleArn: w.RoleArn, CreatedBy: aws.String(e.s.opts.Account)}, nil
}

func (e *Events) listRules(in *eventbridge.ListRulesInput) (*eventbridge.ListRulesOutput, error) {
	bus, err := busName(in.EventBusName)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.buses[bus]; !ok {
		return nil, busNotFound(bus)
	}
	var rules []*ebRule
	for _, r := range e.rules {
		if r.Bus == bus && strings.HasPrefix(r.Name, aws.ToString(in.NamePrefix)) {
			rules = append(rules, r)
		}
	}
	slices.SortFunc(rules, func(a, b *ebRule) int { return strings.Compare(a.Name, b.Name) })
	from, to, next, err := ebPage(len(rules), in.Limit, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := &eventbridge.ListRulesOutput{NextToken: next, Rules: []ebtypes.Rule{}}
	for _, r := range rules[from:to] {
		out.Rules = append(out.Rules, r.wire())
	}
	return out, nil
}

// deleteRule deletes a rule without targets; a rule that does not exist is
// not an error (as in EventBridge).
func (e *Events) deleteRule(in *eventbridge.DeleteRuleInput) (*eventbridge.DeleteRuleOutput, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r, err := e.rule(aws.ToString(in.Name), in.EventBusName)
	var nf *ebtypes.ResourceNotFoundException
	switch {
	case errors.As(err, &nf):
		return &eventbridge.DeleteRuleOutput{}, nil
	case err != nil:
		return nil, err
	case len(r.Targets) > 0:
		return nil, ebValidation("Rule can't be deleted since it has targets.")
	}
	key := ruleKey(r.Bus, r.Name)
	if err := e.update(func(b *bbolt.Bucket) error { return b.Delete([]byte(ebRuleKey + key)) }); err != nil {
		return nil, err
	}
	delete(e.rules, key)
	return &eventbridge.DeleteRuleOutput{}, nil
}

// Targets.

// target checks and converts a target of PutTargets.
func (e *Events) target(t ebtypes.Target) (ebTarget, error) {
	id, arn := aws.ToString(t.Id), aws.ToString(t.Arn)
	if !ruleNameRE.MatchString(id) {
		return ebTarget{}, ebPatternError(id, "targets.member.id", `[\.\-_A-Za-z0-9]+`)
	}
	switch {
	case sfnTargetRE.MatchString(arn):
		if aws.ToString(t.RoleArn) == "" {
			return ebTarget{}, ebValidation("RoleArn is required for target arn: %s.", arn)
		}
	case fnTargetRE.MatchString(arn):
	default:
		return ebTarget{}, ebValidation("Target %s: rotor's local endpoint delivers to Step Functions state machines (arn:aws:states:REGION:ACCOUNT:stateMachine:NAME) and Lambda functions (arn:aws:lambda:REGION:ACCOUNT:function:NAME) only, not to %q.", id, arn)
	}
	in := eventpattern.Input{Input: aws.ToString(t.Input), InputPath: aws.ToString(t.InputPath)}
	if tr := t.InputTransformer; tr != nil {
		in.Transformer = &eventpattern.InputTransformer{PathsMap: tr.InputPathsMap, Template: aws.ToString(tr.InputTemplate)}
	}
	compiled, err := eventpattern.CompileInput(in)
	if err != nil {
		return ebTarget{}, ebValidation("Target %s: %v", id, err)
	}
	out := ebTarget{ID: id, ARN: arn, RoleARN: aws.ToString(t.RoleArn), Input: in, transform: compiled}
	if p := t.RetryPolicy; p != nil {
		if n := p.MaximumRetryAttempts; n != nil && (*n < 0 || *n > 185) {
			return ebTarget{}, ebValidation("Target %s: MaximumRetryAttempts must be between 0 and 185.", id)
		}
		if a := p.MaximumEventAgeInSeconds; a != nil && (*a < 60 || *a > 86400) {
			return ebTarget{}, ebValidation("Target %s: MaximumEventAgeInSeconds must be between 60 and 86400.", id)
		}
		out.MaxRetries, out.MaxAge = p.MaximumRetryAttempts, p.MaximumEventAgeInSeconds
	}
	if d := t.DeadLetterConfig; d != nil {
		out.DeadLetterARN = aws.ToString(d.Arn)
	}
	return out, nil
}

func (t ebTarget) wire() ebtypes.Target {
	w := ebtypes.Target{Id: aws.String(t.ID), Arn: aws.String(t.ARN), RoleArn: nonEmpty(t.RoleARN),
		Input: nonEmpty(t.Input.Input), InputPath: nonEmpty(t.Input.InputPath)}
	if tr := t.Input.Transformer; tr != nil {
		w.InputTransformer = &ebtypes.InputTransformer{InputPathsMap: tr.PathsMap, InputTemplate: aws.String(tr.Template)}
	}
	if t.MaxRetries != nil || t.MaxAge != nil {
		w.RetryPolicy = &ebtypes.RetryPolicy{MaximumRetryAttempts: t.MaxRetries, MaximumEventAgeInSeconds: t.MaxAge}
	}
	if t.DeadLetterARN != "" {
		w.DeadLetterConfig = &ebtypes.DeadLetterConfig{Arn: aws.String(t.DeadLetterARN)}
	}
	return w
}

func (e *Events) putTargets(in *eventbridge.PutTargetsInput) (*eventbridge.PutTargetsOutput, error) {
	if n := len(in.Targets); n < 1 || n > maxPageSize {
		return nil, ebValidation("1 validation error detected: Value at 'targets' failed to satisfy constraint: Member must have length between 1 and %d", maxPageSize)
	}
	targets := make([]ebTarget, 0, len(in.Targets))
	for _, t := range in.Targets {
		c, err := e.target(t)
		if err != nil {
			return nil, err
		}
		targets = append(targets, c)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	r, err := e.rule(aws.ToString(in.Rule), in.EventBusName)
	if err != nil {
		return nil, err
	}
	// A target of the same Id is replaced in place.
	merged := slices.Clone(r.Targets)
	for _, t := range targets {
		if i := slices.IndexFunc(merged, func(o ebTarget) bool { return o.ID == t.ID }); i >= 0 {
			merged[i] = t
		} else {
			merged = append(merged, t)
		}
	}
	if len(merged) > maxTargets {
		return nil, &ebtypes.LimitExceededException{Message: aws.String(fmt.Sprintf("The requested resource exceeds the maximum number allowed: a rule has at most %d targets.", maxTargets))}
	}
	if err := e.saveTargets(r, merged); err != nil {
		return nil, err
	}
	return &eventbridge.PutTargetsOutput{FailedEntries: []ebtypes.PutTargetsResultEntry{}}, nil
}

// saveTargets replaces a rule's targets; call with e.mu held. The rule is
// copied, so that deliveries holding the old one are not disturbed.
func (e *Events) saveTargets(r *ebRule, targets []ebTarget) error {
	c := *r
	c.Targets = targets
	key := ruleKey(r.Bus, r.Name)
	if err := e.update(func(b *bbolt.Bucket) error { return wire.PutJSON(b, ebRuleKey+key, &c) }); err != nil {
		return err
	}
	e.rules[key] = &c
	return nil
}

// removeTargets removes targets by Id; Ids the rule does not have are
// ignored.
func (e *Events) removeTargets(in *eventbridge.RemoveTargetsInput) (*eventbridge.RemoveTargetsOutput, error) {
	if n := len(in.Ids); n < 1 || n > maxPageSize {
		return nil, ebValidation("1 validation error detected: Value at 'ids' failed to satisfy constraint: Member must have length between 1 and %d", maxPageSize)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	r, err := e.rule(aws.ToString(in.Rule), in.EventBusName)
	if err != nil {
		return nil, err
	}
	kept := slices.DeleteFunc(slices.Clone(r.Targets), func(t ebTarget) bool { return slices.Contains(in.Ids, t.ID) })
	if err := e.saveTargets(r, kept); err != nil {
		return nil, err
	}
	return &eventbridge.RemoveTargetsOutput{FailedEntries: []ebtypes.RemoveTargetsResultEntry{}}, nil
}

func (e *Events) listTargetsByRule(in *eventbridge.ListTargetsByRuleInput) (*eventbridge.ListTargetsByRuleOutput, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r, err := e.rule(aws.ToString(in.Rule), in.EventBusName)
	if err != nil {
		return nil, err
	}
	from, to, next, err := ebPage(len(r.Targets), in.Limit, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := &eventbridge.ListTargetsByRuleOutput{NextToken: next, Targets: []ebtypes.Target{}}
	for _, t := range r.Targets[from:to] {
		out.Targets = append(out.Targets, t.wire())
	}
	return out, nil
}

// Events.

// putEventsInput is PutEventsInput as it comes over the wire: the SDK's
// own struct cannot decode Time, which is epoch seconds.
type putEventsInput struct {
	Entries []struct {
		Time                                                  *json.Number
		Source, DetailType, Detail, EventBusName, TraceHeader *string
		Resources                                             []string
	}
	EndpointID *string `json:"EndpointId"`
}

// ebEvent is an event's envelope, its members in EventBridge's order.
type ebEvent struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       string          `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

func entryError(code, msg string) ebtypes.PutEventsResultEntry {
	return ebtypes.PutEventsResultEntry{ErrorCode: aws.String(code), ErrorMessage: aws.String(msg)}
}

func (e *Events) putEvents(in *putEventsInput) (*eventbridge.PutEventsOutput, error) {
	if n := len(in.Entries); n < 1 || n > maxEntries {
		return nil, ebValidation("1 validation error detected: Value '%d' at 'entries' failed to satisfy constraint: Member must have length between 1 and %d", n, maxEntries)
	}
	// The size of the entries as EventBridge counts it ("Calculating
	// PutEvents event entry size").
	size := 0
	for _, en := range in.Entries {
		if en.Time != nil {
			size += 14
		}
		size += len(aws.ToString(en.Source)) + len(aws.ToString(en.DetailType)) + len(aws.ToString(en.Detail))
		for _, r := range en.Resources {
			size += len(r)
		}
	}
	if size > maxEventsSize {
		return nil, ebValidation("Total size of the entries in the request is over the limit.")
	}
	now := e.s.opts.Now().UTC()
	out := &eventbridge.PutEventsOutput{Entries: make([]ebtypes.PutEventsResultEntry, len(in.Entries))}
	for i, en := range in.Entries {
		ev, bus, res := e.event(en.Source, en.DetailType, en.Detail, en.EventBusName, en.Time, en.Resources, now)
		if res.ErrorCode != nil {
			out.Entries[i] = res
			out.FailedEntryCount++
			continue
		}
		out.Entries[i] = ebtypes.PutEventsResultEntry{EventId: aws.String(ev.ID)}
		e.dispatch(ev, bus, now)
	}
	return out, nil
}

// event validates one entry and builds its envelope.
func (e *Events) event(source, detailType, detail, busParam *string, at *json.Number, resources []string, now time.Time) (*ebEvent, string, ebtypes.PutEventsResultEntry) {
	switch {
	case aws.ToString(source) == "":
		return nil, "", entryError("InvalidArgument", "Parameter Source is not valid. Reason: Source is a required argument.")
	case aws.ToString(detailType) == "":
		return nil, "", entryError("InvalidArgument", "Parameter DetailType is not valid. Reason: DetailType is a required argument.")
	case aws.ToString(detail) == "":
		return nil, "", entryError("InvalidArgument", "Parameter Detail is not valid. Reason: Detail is a required argument.")
	case strings.HasPrefix(aws.ToString(source), "aws."):
		return nil, "", entryError("NotAuthorizedForSourceException", "Not authorized for the source.")
	}
	d := bytes.TrimSpace([]byte(aws.ToString(detail)))
	if !json.Valid(d) || d[0] != '{' {
		return nil, "", entryError("MalformedDetail", "Detail is malformed.")
	}
	bus, err := busName(busParam)
	if err != nil {
		return nil, "", entryError("InvalidArgument", "Parameter EventBusName is not valid.")
	}
	e.mu.Lock()
	_, exists := e.buses[bus]
	e.mu.Unlock()
	if !exists {
		return nil, "", entryError("ResourceNotFoundException", "Event bus "+bus+" does not exist.")
	}
	t := now
	if at != nil {
		secs, err := at.Float64()
		if err != nil {
			return nil, "", entryError("InvalidArgument", "Parameter Time is not valid.")
		}
		t = time.UnixMilli(int64(secs * 1000)).UTC()
	}
	if resources == nil {
		resources = []string{}
	}
	return &ebEvent{Version: "0", ID: uuid.NewString(), DetailType: aws.ToString(detailType), Source: aws.ToString(source),
		Account: e.s.opts.Account, Time: t.Format(time.RFC3339), Region: e.s.opts.Region, Resources: resources, Detail: d}, bus, ebtypes.PutEventsResultEntry{}
}

// Emit puts an event as an AWS service would put it on the default bus:
// raw is a whole event envelope (a GuardDuty finding, an AWS Health event),
// the way AWS delivers it and the samples of their documentation show it.
// Unlike PutEvents it takes "aws." sources, which only AWS may send. Id,
// time, account and region are filled in when missing; source,
// detail-type and an object detail are required. It returns the event's
// id; deliveries follow in the background (see Wait).
func (e *Events) Emit(raw []byte) (string, error) {
	var in struct {
		ID         string          `json:"id"`
		DetailType string          `json:"detail-type"`
		Source     string          `json:"source"`
		Account    string          `json:"account"`
		Time       string          `json:"time"`
		Region     string          `json:"region"`
		Resources  []string        `json:"resources"`
		Detail     json.RawMessage `json:"detail"`
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		return "", fmt.Errorf("event: %w", err)
	}
	switch d := bytes.TrimSpace(in.Detail); {
	case in.Source == "":
		return "", errors.New("event: source is required")
	case in.DetailType == "":
		return "", errors.New("event: detail-type is required")
	case len(d) == 0 || d[0] != '{':
		return "", errors.New("event: detail must be a JSON object")
	}
	now := e.s.opts.Now().UTC()
	ev := &ebEvent{Version: "0", ID: in.ID, DetailType: in.DetailType, Source: in.Source, Account: in.Account,
		Time: in.Time, Region: in.Region, Resources: in.Resources, Detail: in.Detail}
	if ev.ID == "" {
		ev.ID = uuid.NewString()
	}
	if ev.Time == "" {
		ev.Time = now.Format(time.RFC3339)
	}
	if ev.Account == "" {
		ev.Account = e.s.opts.Account
	}
	if ev.Region == "" {
		ev.Region = e.s.opts.Region
	}
	if ev.Resources == nil {
		ev.Resources = []string{}
	}
	e.dispatch(ev, defaultBus, now)
	return ev.ID, nil
}

// route is one delivery to make.
type route struct {
	rule   *ebRule
	target ebTarget
}

// dispatch matches an event against the enabled rules of its bus and
// delivers it to their targets in the background.
func (e *Events) dispatch(ev *ebEvent, bus string, ingested time.Time) {
	raw, err := json.Marshal(ev)
	if err != nil {
		e.s.opts.Log.Error("events: encoding an event", "error", err)
		return
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var decoded any
	if err := dec.Decode(&decoded); err != nil {
		e.s.opts.Log.Error("events: decoding an event", "error", err)
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	var routes []route
	for _, r := range e.rules {
		if r.Bus != bus || r.State == ebtypes.RuleStateDisabled || !r.pattern.MatchValue(decoded) {
			continue
		}
		for _, t := range r.Targets {
			routes = append(routes, route{r, t})
		}
	}
	if len(routes) > 0 && e.pending == 0 {
		e.idle = make(chan struct{})
	}
	e.pending += len(routes)
	e.wg.Add(len(routes))
	for _, rt := range routes {
		go e.deliver(ev.ID, raw, rt, ingested)
	}
}

// deliver delivers one event to one target, retrying, and records how it
// went.
func (e *Events) deliver(eventID string, raw []byte, rt route, ingested time.Time) {
	defer e.wg.Done()
	d := Delivery{EventID: eventID, EventBus: rt.rule.Bus, Rule: rt.rule.Name, RuleARN: rt.rule.ARN, TargetID: rt.target.ID, TargetARN: rt.target.ARN}
	input, err := rt.target.transform.Apply(raw, eventpattern.Meta{RuleName: rt.rule.Name, RuleARN: rt.rule.ARN, IngestionTime: ingested})
	if err != nil {
		d.Error = "transforming the input: " + err.Error()
	} else {
		d.Input = string(input)
		retries := e.retries
		if rt.target.MaxRetries != nil {
			retries = int(*rt.target.MaxRetries)
		}
		retries = min(retries, maxLocalRetries)
		delay := e.retryBase
		for {
			d.Attempts++
			d.Result, err = e.send(rt, eventID, input)
			var pe *permanentError
			if err == nil || errors.As(err, &pe) || d.Attempts > retries {
				break
			}
			e.s.opts.Log.Debug("events: delivery failed, retrying", "event", eventID, "rule", rt.rule.ARN, "target", rt.target.ID, "error", err)
			select {
			case <-time.After(delay):
			case <-e.ctx.Done():
			}
			if e.ctx.Err() != nil {
				err = fmt.Errorf("%w (the endpoint is shutting down)", err)
				break
			}
			delay = min(2*delay, e.retryMax)
		}
		if err != nil {
			d.Error = err.Error()
		}
	}
	if d.Failed() {
		e.s.opts.Log.Warn("events: delivery failed", "event", eventID, "rule", rt.rule.ARN, "target", rt.target.ID, "attempts", d.Attempts, "error", d.Error)
	}
	d.Time = e.s.opts.Now().UTC()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.done = append(e.done, d)
	if len(e.done) > maxDeliveries {
		e.done = slices.Delete(e.done, 0, len(e.done)-maxDeliveries)
	}
	if e.pending--; e.pending == 0 {
		close(e.idle)
	}
}

// permanentError is a delivery failure retrying cannot mend: a target that
// does not exist, an input it refuses.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// send makes one delivery attempt.
func (e *Events) send(rt route, eventID string, input []byte) (string, error) {
	switch {
	case sfnTargetRE.MatchString(rt.target.ARN):
		if e.startExecution == nil {
			return "", &permanentError{errors.New("no Step Functions service to start " + rt.target.ARN)}
		}
		// Named after what is delivered, so that a retry after a lost
		// answer finds the execution already started.
		name := uuid.NewSHA1(uuid.NameSpaceURL, []byte(eventID+"\x00"+rt.rule.ARN+"\x00"+rt.target.ID)).String()
		return e.startExecution(e.ctx, rt.target.ARN, name, string(input))
	default:
		if e.invokeFunction == nil {
			return "", &permanentError{errors.New("no Lambda service to invoke " + rt.target.ARN)}
		}
		out, err := e.invokeFunction(e.ctx, rt.target.ARN, input)
		var fe *FunctionError
		if errors.As(err, &fe) {
			// An asynchronous invocation was accepted: what the function
			// then does is not the delivery's concern.
			return "function error: " + fe.Error(), nil
		}
		return string(out), err
	}
}

// sfnStarter starts executions on sf for Events. Step Functions' refusals
// (no such state machine, invalid input) are permanent.
func sfnStarter(sf *StepFunctions) startExecutionFunc {
	return func(ctx context.Context, machine, name, input string) (string, error) {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		out, err := sf.startExecution(&sfn.StartExecutionInput{StateMachineArn: aws.String(machine), Name: aws.String(name), Input: aws.String(input)})
		var ae *wire.Error
		switch {
		case errors.As(err, &ae):
			return "", &permanentError{fmt.Errorf("states:StartExecution: %w", err)}
		case err != nil:
			return "", fmt.Errorf("states:StartExecution: %w", err)
		}
		return aws.ToString(out.ExecutionArn), nil
	}
}

// lambdaInvoker invokes functions on l for Events, once the host's
// functions are registered (Options.AwaitFunctions). An unknown function is
// permanent.
func lambdaInvoker(l *Lambda) invokeFunc {
	return func(ctx context.Context, fn string, payload []byte) ([]byte, error) {
		if err := l.s.awaitFunctions(ctx); err != nil {
			return nil, err
		}
		out, err := l.Invoke(ctx, fn, payload)
		var nf *lambdaNotFoundError
		if errors.As(err, &nf) {
			return nil, &permanentError{fmt.Errorf("lambda:Invoke: %w", err)}
		}
		return out, err
	}
}

// Deliveries returns the deliveries that ended (the last 1000), oldest
// first.
func (e *Events) Deliveries() []Delivery {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.done)
}

// Failures returns the deliveries that failed, oldest first.
func (e *Events) Failures() []Delivery {
	return slices.DeleteFunc(e.Deliveries(), func(d Delivery) bool { return !d.Failed() })
}

// Wait blocks until no delivery is in flight (or ctx ends): after
// PutEvents, its events have then reached their targets or failed.
func (e *Events) Wait(ctx context.Context) error {
	for {
		e.mu.Lock()
		if e.pending == 0 {
			e.mu.Unlock()
			return nil
		}
		idle := e.idle
		e.mu.Unlock()
		select {
		case <-idle:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Close stops retrying and waits for deliveries in flight; later events are
// accepted and not delivered.
func (e *Events) Close() error {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	e.cancel()
	e.wg.Wait()
	return nil
}

// admin answers GET /_rotor/events/deliveries: the deliveries as a JSON
// array, ?failed=true for the failures only; and POST /_rotor/events/emit,
// an AWS service's event to put on the default bus (see Emit).
func (e *Events) Admin(w http.ResponseWriter, r *http.Request) bool {
	if r.URL.Path == "/_rotor/events/emit" {
		e.serveEmit(w, r)
		return true
	}
	if r.URL.Path != "/_rotor/events/deliveries" {
		return false
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return true
	}
	ds := e.Deliveries()
	if r.URL.Query().Get("failed") == "true" {
		ds = e.Failures()
	}
	if ds == nil {
		ds = []Delivery{}
	}
	wire.WriteEncoded(w, "application/json", ds, json.Marshal)
	return true
}

func (e *Events) serveEmit(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxEventsSize))
	if err != nil {
		http.Error(w, "event: "+err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	id, err := e.Emit(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	wire.WriteEncoded(w, "application/json", map[string]string{"id": id}, json.Marshal)
}

// serve answers one awsJson1.1 request.
func (e *Events) Serve(w http.ResponseWriter, r *http.Request, op string, body []byte) {
	w.Header().Set("X-Amzn-RequestId", uuid.NewString())
	var out any
	var err error
	switch op {
	case "CreateEventBus":
		out, err = ebCall(body, e.createEventBus)
	case "DeleteEventBus":
		out, err = ebCall(body, e.deleteEventBus)
	case "DescribeEventBus":
		out, err = ebCall(body, e.describeEventBus)
	case "ListEventBuses":
		out, err = ebCall(body, e.listEventBuses)
	case "PutRule":
		out, err = ebCall(body, e.putRule)
	case "DescribeRule":
		out, err = ebCall(body, e.describeRule)
	case "ListRules":
		out, err = ebCall(body, e.listRules)
	case "DeleteRule":
		out, err = ebCall(body, e.deleteRule)
	case "PutTargets":
		out, err = ebCall(body, e.putTargets)
	case "RemoveTargets":
		out, err = ebCall(body, e.removeTargets)
	case "ListTargetsByRule":
		out, err = ebCall(body, e.listTargetsByRule)
	case "PutEvents":
		out, err = ebCall(body, e.putEvents)
	default:
		err = &wire.Error{Code: "UnknownOperationException", Message: fmt.Sprintf("operation %s is not supported by rotor's local endpoint", op)}
	}
	if err != nil {
		var ae *wire.Error
		if !errors.As(err, &ae) && !isSDKError(err) {
			e.s.opts.Log.Error("events", "operation", op, "error", err)
		}
		wire.WriteJSONError(w, eventsJSON, err)
		return
	}
	wire.WriteJSON(w, eventsJSON, out)
}

// ebCall decodes an operation's input and runs it.
func ebCall[I, O any](body []byte, op func(*I) (O, error)) (any, error) {
	var in I
	if err := wire.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	return op(&in)
}

// isSDKError tells whether err is one of the EventBridge SDK's typed errors.
func isSDKError(err error) bool {
	var nf *ebtypes.ResourceNotFoundException
	var ae *ebtypes.ResourceAlreadyExistsException
	var ip *ebtypes.InvalidEventPatternException
	var le *ebtypes.LimitExceededException
	return errors.As(err, &nf) || errors.As(err, &ae) || errors.As(err, &ip) || errors.As(err, &le)
}
