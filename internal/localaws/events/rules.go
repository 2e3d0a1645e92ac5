package events

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"go.etcd.io/bbolt"

	"github.com/rotorhq/rotor/internal/eventpattern"

	"github.com/rotorhq/rotor/internal/localaws/wire"
)

// Rules.

func (e *Service) putRule(in *eventbridge.PutRuleInput) (*eventbridge.PutRuleOutput, error) {
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
func (e *Service) rule(name string, busParam *string) (*ebRule, error) {
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

func (e *Service) describeRule(in *eventbridge.DescribeRuleInput) (*eventbridge.DescribeRuleOutput, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r, err := e.rule(aws.ToString(in.Name), in.EventBusName)
	if err != nil {
		return nil, err
	}
	w := r.wire()
	return &eventbridge.DescribeRuleOutput{Name: w.Name, Arn: w.Arn, EventBusName: w.EventBusName, EventPattern: w.EventPattern,
		State: w.State, Description: w.Description, RoleArn: w.RoleArn, CreatedBy: aws.String(e.env.Account)}, nil
}

func (e *Service) listRules(in *eventbridge.ListRulesInput) (*eventbridge.ListRulesOutput, error) {
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
	page, next, err := ebPage(rules, func(r *ebRule) string { return r.Name }, in.Limit, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := &eventbridge.ListRulesOutput{NextToken: next, Rules: []ebtypes.Rule{}}
	for _, r := range page {
		out.Rules = append(out.Rules, r.wire())
	}
	return out, nil
}

// deleteRule deletes a rule without targets; a rule that does not exist is
// not an error (as in EventBridge).
func (e *Service) deleteRule(in *eventbridge.DeleteRuleInput) (*eventbridge.DeleteRuleOutput, error) {
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
func (e *Service) target(t ebtypes.Target) (ebTarget, error) {
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

func (e *Service) putTargets(in *eventbridge.PutTargetsInput) (*eventbridge.PutTargetsOutput, error) {
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
func (e *Service) saveTargets(r *ebRule, targets []ebTarget) error {
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
func (e *Service) removeTargets(in *eventbridge.RemoveTargetsInput) (*eventbridge.RemoveTargetsOutput, error) {
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

func (e *Service) listTargetsByRule(in *eventbridge.ListTargetsByRuleInput) (*eventbridge.ListTargetsByRuleOutput, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r, err := e.rule(aws.ToString(in.Rule), in.EventBusName)
	if err != nil {
		return nil, err
	}
	page, next, err := ebPage(r.Targets, func(t ebTarget) string { return t.ID }, in.Limit, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := &eventbridge.ListTargetsByRuleOutput{NextToken: next, Targets: []ebtypes.Target{}}
	for _, t := range page {
		out.Targets = append(out.Targets, t.wire())
	}
	return out, nil
}
