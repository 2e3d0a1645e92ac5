package localaws

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	localevents "github.com/rotorhq/rotor/internal/localaws/events"
)

// ebEnv is a server with its EventBridge service, reached through the SDK.
type ebEnv struct {
	srv *Server
	ev  *localevents.Service
	c   *eventbridge.Client
	sf  *sfn.Client
	url string

	closeFn func()
}

// newEBEnv starts a server and reaches its Events service through the SDK.
func newEBEnv(t *testing.T, data string) *ebEnv {
	t.Helper()
	return newEBEnvWith(t, Options{DataFile: data})
}

func newEBEnvWith(t *testing.T, opts Options) *ebEnv {
	t.Helper()
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ev := srv.Events
	hs := httptest.NewServer(srv.Handler())
	closed := false
	env := &ebEnv{srv: srv, ev: ev, url: hs.URL}
	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(hs.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")}
	env.c = eventbridge.NewFromConfig(cfg, func(o *eventbridge.Options) { o.RetryMaxAttempts = 1 })
	env.sf = sfn.NewFromConfig(cfg)
	t.Cleanup(func() {
		hs.Close()
		if !closed {
			srv.Close()
		}
	})
	env.closeFn = func() { hs.Close(); closed = true; srv.Close() }
	return env
}

// close stops the server before the test ends (to restart on its data).
func (e *ebEnv) close() { e.closeFn() }

func ebWantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("%s: error = %v, want %s", what, err, code)
	}
}

const (
	leakBus     = "rotor-leaks"
	leakPattern = `{"detail-type":["rotor.leak"],"detail":{"trigger":["leak"]}}`
	role        = "arn:aws:iam::000000000000:role/events"
	// echoMachine ends with its input as output.
	echoMachine = `{"StartAt":"Done","States":{"Done":{"Type":"Succeed"}}}`
)

func (e *ebEnv) must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (e *ebEnv) machine(t *testing.T, name string) string {
	t.Helper()
	out, err := e.sf.CreateStateMachine(t.Context(), &sfn.CreateStateMachineInput{Name: aws.String(name),
		Definition: aws.String(echoMachine), RoleArn: aws.String(role)})
	e.must(t, err)
	return aws.ToString(out.StateMachineArn)
}

func (e *ebEnv) put(t *testing.T, entries ...ebtypes.PutEventsRequestEntry) *eventbridge.PutEventsOutput {
	t.Helper()
	out, err := e.c.PutEvents(t.Context(), &eventbridge.PutEventsInput{Entries: entries})
	e.must(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	e.must(t, e.ev.Wait(ctx))
	return out
}

func leakEntry(bus, detail string) ebtypes.PutEventsRequestEntry {
	return ebtypes.PutEventsRequestEntry{EventBusName: aws.String(bus), Source: aws.String("rotor.webhook"),
		DetailType: aws.String("rotor.leak"), Detail: aws.String(detail)}
}

const githubLeak = `{"trigger":"leak","reason":"GitHub secret scanning alert 42 (publicly_leaked)",
	"leak":{"source":"github","secretId":"prod/stripe","reference":"https://github.com/example/app/security/secret-scanning/42"}}`

func TestEventsBuses(t *testing.T) {
	e := newEBEnv(t, "")
	ctx := t.Context()

	d, err := e.c.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{})
	e.must(t, err)
	if aws.ToString(d.Name) != "default" || aws.ToString(d.Arn) != "arn:aws:events:us-east-1:000000000000:event-bus/default" || d.CreationTime == nil {
		t.Errorf("default bus: %+v", d)
	}
	created, err := e.c.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(leakBus), Description: aws.String("leaks")})
	e.must(t, err)
	if got, want := aws.ToString(created.EventBusArn), "arn:aws:events:us-east-1:000000000000:event-bus/rotor-leaks"; got != want {
		t.Errorf("EventBusArn = %s, want %s", got, want)
	}
	for _, name := range []string{"b", "c"} {
		_, err := e.c.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(name)})
		e.must(t, err)
	}

	t.Run("errors", func(t *testing.T) {
		tests := []struct {
			name string
			call func() error
			code string
		}{
			{"create an existing bus", func() error {
				_, err := e.c.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(leakBus)})
				return err
			}, "ResourceAlreadyExistsException"},
			{"create default", func() error {
				_, err := e.c.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String("default")})
				return err
			}, "ResourceAlreadyExistsException"},
			{"create with an invalid name", func() error {
				_, err := e.c.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String("my bus")})
				return err
			}, "ValidationException"},
			{"create a partner bus", func() error {
				_, err := e.c.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String("aws.partner/x")})
				return err
			}, "ValidationException"},
			{"describe a missing bus", func() error {
				_, err := e.c.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{Name: aws.String("nope")})
				return err
			}, "ResourceNotFoundException"},
			{"delete default", func() error {
				_, err := e.c.DeleteEventBus(ctx, &eventbridge.DeleteEventBusInput{Name: aws.String("default")})
				return err
			}, "ValidationException"},
			{"list with a bad limit", func() error {
				_, err := e.c.ListEventBuses(ctx, &eventbridge.ListEventBusesInput{Limit: aws.Int32(0)})
				return err
			}, "ValidationException"},
			{"list with a bad token", func() error {
				_, err := e.c.ListEventBuses(ctx, &eventbridge.ListEventBusesInput{NextToken: aws.String("x")})
				return err
			}, "ValidationException"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) { ebWantCode(t, tt.name, tt.call(), tt.code) })
		}
	})

	t.Run("describe by ARN", func(t *testing.T) {
		d, err := e.c.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{Name: created.EventBusArn})
		e.must(t, err)
		if aws.ToString(d.Name) != leakBus || aws.ToString(d.Description) != "leaks" {
			t.Errorf("bus: %+v", d)
		}
	})

	t.Run("list pages", func(t *testing.T) {
		var names []string
		var token *string
		for pages := 0; ; pages++ {
			out, err := e.c.ListEventBuses(ctx, &eventbridge.ListEventBusesInput{Limit: aws.Int32(2), NextToken: token})
			e.must(t, err)
			for _, b := range out.EventBuses {
				names = append(names, aws.ToString(b.Name))
			}
			if token = out.NextToken; token == nil || pages > 5 {
				break
			}
		}
		if diff := cmp.Diff([]string{"b", "c", "default", leakBus}, names); diff != "" {
			t.Errorf("buses (-want +got):\n%s", diff)
		}
		out, err := e.c.ListEventBuses(ctx, &eventbridge.ListEventBusesInput{NamePrefix: aws.String("rotor")})
		e.must(t, err)
		if len(out.EventBuses) != 1 || aws.ToString(out.EventBuses[0].Arn) != aws.ToString(created.EventBusArn) {
			t.Errorf("NamePrefix rotor: %+v", out.EventBuses)
		}
	})

	t.Run("delete a bus and its rules", func(t *testing.T) {
		_, err := e.c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("r"), EventBusName: aws.String("b"), EventPattern: aws.String(leakPattern)})
		e.must(t, err)
		_, err = e.c.DeleteEventBus(ctx, &eventbridge.DeleteEventBusInput{Name: aws.String("b")})
		e.must(t, err)
		_, err = e.c.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{Name: aws.String("b")})
		ebWantCode(t, "describe a deleted bus", err, "ResourceNotFoundException")
		// Recreated, it has no rules.
		_, err = e.c.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String("b")})
		e.must(t, err)
		rules, err := e.c.ListRules(ctx, &eventbridge.ListRulesInput{EventBusName: aws.String("b")})
		e.must(t, err)
		if len(rules.Rules) != 0 {
			t.Errorf("rules of a recreated bus: %+v", rules.Rules)
		}
		_, err = e.c.DeleteEventBus(ctx, &eventbridge.DeleteEventBusInput{Name: aws.String("never-was")})
		e.must(t, err)
	})
}

func TestEventsRulesAndTargets(t *testing.T) {
	e := newEBEnv(t, "")
	ctx := t.Context()
	_, err := e.c.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(leakBus)})
	e.must(t, err)
	sm := e.machine(t, "rotation")
	fn := "arn:aws:lambda:us-east-1:000000000000:function:notify"

	put, err := e.c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("leak"), EventBusName: aws.String(leakBus),
		EventPattern: aws.String(leakPattern), Description: aws.String("leaks rotate"), RoleArn: aws.String(role)})
	e.must(t, err)
	if got, want := aws.ToString(put.RuleArn), "arn:aws:events:us-east-1:000000000000:rule/rotor-leaks/leak"; got != want {
		t.Errorf("RuleArn = %s, want %s", got, want)
	}
	onDefault, err := e.c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("other"), EventPattern: aws.String(`{"source":["x"]}`), State: ebtypes.RuleStateDisabled})
	e.must(t, err)
	if got, want := aws.ToString(onDefault.RuleArn), "arn:aws:events:us-east-1:000000000000:rule/other"; got != want {
		t.Errorf("RuleArn = %s, want %s", got, want)
	}

	d, err := e.c.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String("leak"), EventBusName: aws.String(leakBus)})
	e.must(t, err)
	want := &eventbridge.DescribeRuleOutput{Name: aws.String("leak"), Arn: put.RuleArn, EventBusName: aws.String(leakBus),
		EventPattern: aws.String(leakPattern), State: ebtypes.RuleStateEnabled, Description: aws.String("leaks rotate"),
		RoleArn: aws.String(role), CreatedBy: aws.String("000000000000")}
	if diff := cmp.Diff(want, d, cmpopts.IgnoreUnexported(eventbridge.DescribeRuleOutput{}), cmpopts.IgnoreFields(eventbridge.DescribeRuleOutput{}, "ResultMetadata")); diff != "" {
		t.Errorf("DescribeRule (-want +got):\n%s", diff)
	}

	rules, err := e.c.ListRules(ctx, &eventbridge.ListRulesInput{})
	e.must(t, err)
	if len(rules.Rules) != 1 || aws.ToString(rules.Rules[0].Name) != "other" || rules.Rules[0].State != ebtypes.RuleStateDisabled {
		t.Errorf("rules of the default bus: %+v", rules.Rules)
	}

	targets := []ebtypes.Target{
		{Id: aws.String("rotate"), Arn: aws.String(sm), RoleArn: aws.String(role), InputPath: aws.String("$.detail"),
			RetryPolicy:      &ebtypes.RetryPolicy{MaximumRetryAttempts: aws.Int32(8), MaximumEventAgeInSeconds: aws.Int32(3600)},
			DeadLetterConfig: &ebtypes.DeadLetterConfig{Arn: aws.String("arn:aws:sqs:us-east-1:000000000000:dlq")}},
		{Id: aws.String("notify"), Arn: aws.String(fn), InputTransformer: &ebtypes.InputTransformer{
			InputPathsMap: map[string]string{"secret": "$.detail.leak.secretId"}, InputTemplate: aws.String(`{"secret": <secret>}`)}},
	}
	_, err = e.c.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("leak"), EventBusName: aws.String(leakBus), Targets: targets})
	e.must(t, err)
	listed, err := e.c.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String("leak"), EventBusName: aws.String(leakBus)})
	e.must(t, err)
	if diff := cmp.Diff(targets, listed.Targets, cmpopts.IgnoreUnexported(ebtypes.Target{}, ebtypes.RetryPolicy{},
		ebtypes.DeadLetterConfig{}, ebtypes.InputTransformer{})); diff != "" {
		t.Errorf("ListTargetsByRule (-want +got):\n%s", diff)
	}

	t.Run("errors", func(t *testing.T) {
		rule := func(in eventbridge.PutRuleInput) func() error {
			return func() error { _, err := e.c.PutRule(ctx, &in); return err }
		}
		target := func(rule string, ts ...ebtypes.Target) func() error {
			return func() error {
				_, err := e.c.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(rule), EventBusName: aws.String(leakBus), Targets: ts})
				return err
			}
		}
		sfnTarget := func(id string) ebtypes.Target {
			return ebtypes.Target{Id: aws.String(id), Arn: aws.String(sm), RoleArn: aws.String(role)}
		}
		tests := []struct {
			name string
			call func() error
			code string
		}{
			{"invalid pattern", rule(eventbridge.PutRuleInput{Name: aws.String("x"), EventPattern: aws.String(`{"source":"aws.ec2"}`)}), "InvalidEventPatternException"},
			{"pattern not JSON", rule(eventbridge.PutRuleInput{Name: aws.String("x"), EventPattern: aws.String(`{`)}), "InvalidEventPatternException"},
			{"schedule", rule(eventbridge.PutRuleInput{Name: aws.String("x"), ScheduleExpression: aws.String("rate(5 minutes)")}), "ValidationException"},
			{"neither pattern nor schedule", rule(eventbridge.PutRuleInput{Name: aws.String("x")}), "ValidationException"},
			{"invalid rule name", rule(eventbridge.PutRuleInput{Name: aws.String("a b"), EventPattern: aws.String(leakPattern)}), "ValidationException"},
			{"invalid state", rule(eventbridge.PutRuleInput{Name: aws.String("x"), EventPattern: aws.String(leakPattern), State: "ON"}), "ValidationException"},
			{"missing bus", rule(eventbridge.PutRuleInput{Name: aws.String("x"), EventPattern: aws.String(leakPattern), EventBusName: aws.String("nope")}), "ResourceNotFoundException"},
			{"describe a missing rule", func() error {
				_, err := e.c.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String("leak")})
				return err
			}, "ResourceNotFoundException"},
			{"list rules of a missing bus", func() error {
				_, err := e.c.ListRules(ctx, &eventbridge.ListRulesInput{EventBusName: aws.String("nope")})
				return err
			}, "ResourceNotFoundException"},
			{"targets of a missing rule", target("nope", sfnTarget("t")), "ResourceNotFoundException"},
			{"list targets of a missing rule", func() error {
				_, err := e.c.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String("nope")})
				return err
			}, "ResourceNotFoundException"},
			{"state machine without a role", target("leak", ebtypes.Target{Id: aws.String("t"), Arn: aws.String(sm)}), "ValidationException"},
			{"unsupported target", target("leak", ebtypes.Target{Id: aws.String("t"), Arn: aws.String("arn:aws:sqs:us-east-1:000000000000:q")}), "ValidationException"},
			{"invalid target id", target("leak", sfnTarget("a b")), "ValidationException"},
			{"Input and InputPath", target("leak", ebtypes.Target{Id: aws.String("t"), Arn: aws.String(fn), Input: aws.String(`{}`), InputPath: aws.String("$")}), "ValidationException"},
			{"Input not JSON", target("leak", ebtypes.Target{Id: aws.String("t"), Arn: aws.String(fn), Input: aws.String(`{`)}), "ValidationException"},
			{"bad InputPath", target("leak", ebtypes.Target{Id: aws.String("t"), Arn: aws.String(fn), InputPath: aws.String("detail")}), "ValidationException"},
			{"reserved variable", target("leak", ebtypes.Target{Id: aws.String("t"), Arn: aws.String(fn), InputTransformer: &ebtypes.InputTransformer{
				InputPathsMap: map[string]string{"aws.events.rule-name": "$.id"}, InputTemplate: aws.String("x")}}), "ValidationException"},
			{"bad retry policy", target("leak", ebtypes.Target{Id: aws.String("t"), Arn: aws.String(fn), RetryPolicy: &ebtypes.RetryPolicy{MaximumRetryAttempts: aws.Int32(186)}}), "ValidationException"},
			{"too many targets", target("leak", sfnTarget("t1"), sfnTarget("t2"), sfnTarget("t3"), sfnTarget("t4")), "LimitExceededException"},
			{"delete a rule with targets", func() error {
				_, err := e.c.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: aws.String("leak"), EventBusName: aws.String(leakBus)})
				return err
			}, "ValidationException"},
			{"remove targets of a missing rule", func() error {
				_, err := e.c.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: aws.String("nope"), Ids: []string{"t"}})
				return err
			}, "ResourceNotFoundException"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) { ebWantCode(t, tt.name, tt.call(), tt.code) })
		}
	})

	t.Run("PutRule replaces the rule and keeps its targets", func(t *testing.T) {
		_, err := e.c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("leak"), EventBusName: aws.String(leakBus),
			EventPattern: aws.String(`{"source":["rotor.webhook"]}`), State: ebtypes.RuleStateDisabled})
		e.must(t, err)
		d, err := e.c.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String("leak"), EventBusName: aws.String(leakBus)})
		e.must(t, err)
		if aws.ToString(d.EventPattern) != `{"source":["rotor.webhook"]}` || d.State != ebtypes.RuleStateDisabled || d.Description != nil {
			t.Errorf("replaced rule: %+v", d)
		}
		listed, err := e.c.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String("leak"), EventBusName: aws.String(leakBus)})
		e.must(t, err)
		if len(listed.Targets) != 2 {
			t.Errorf("targets after PutRule: %d, want 2", len(listed.Targets))
		}
	})

	t.Run("targets are replaced by Id, removed, then the rule deleted", func(t *testing.T) {
		_, err := e.c.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("leak"), EventBusName: aws.String(leakBus),
			Targets: []ebtypes.Target{{Id: aws.String("notify"), Arn: aws.String(fn), Input: aws.String(`{"fixed":true}`)}}})
		e.must(t, err)
		listed, err := e.c.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String("leak"), EventBusName: aws.String(leakBus), Limit: aws.Int32(1)})
		e.must(t, err)
		if len(listed.Targets) != 1 || aws.ToString(listed.Targets[0].Id) != "rotate" || listed.NextToken == nil {
			t.Fatalf("first page: %+v", listed)
		}
		listed, err = e.c.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String("leak"), EventBusName: aws.String(leakBus), NextToken: listed.NextToken})
		e.must(t, err)
		if len(listed.Targets) != 1 || aws.ToString(listed.Targets[0].Input) != `{"fixed":true}` || listed.Targets[0].InputTransformer != nil {
			t.Fatalf("second page: %+v", listed.Targets)
		}
		_, err = e.c.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: aws.String("leak"), EventBusName: aws.String(leakBus), Ids: []string{"rotate", "notify", "never-was"}})
		e.must(t, err)
		_, err = e.c.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: aws.String("leak"), EventBusName: aws.String(leakBus)})
		e.must(t, err)
		_, err = e.c.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String("leak"), EventBusName: aws.String(leakBus)})
		ebWantCode(t, "describe a deleted rule", err, "ResourceNotFoundException")
		_, err = e.c.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: aws.String("leak"), EventBusName: aws.String(leakBus)})
		e.must(t, err) // deleting what is not there is not an error
	})
}

func TestEventsPutEventsValidation(t *testing.T) {
	e := newEBEnv(t, "")
	ctx := t.Context()
	entry := func(source, detailType, detail string) ebtypes.PutEventsRequestEntry {
		return ebtypes.PutEventsRequestEntry{Source: aws.String(source), DetailType: aws.String(detailType), Detail: aws.String(detail)}
	}
	ok := entry("my.app", "thing", `{"a":1}`)
	noBus := ok
	noBus.EventBusName = aws.String("nope")
	byARN := ok
	byARN.EventBusName = aws.String("arn:aws:events:us-east-1:000000000000:event-bus/default")
	tests := []struct {
		name  string
		entry ebtypes.PutEventsRequestEntry
		code  string // "" for accepted
	}{
		{"valid", ok, ""},
		{"bus by ARN", byARN, ""},
		{"no source", entry("", "thing", `{}`), "InvalidArgument"},
		{"no detail type", entry("my.app", "", `{}`), "InvalidArgument"},
		{"no detail", ebtypes.PutEventsRequestEntry{Source: aws.String("my.app"), DetailType: aws.String("thing")}, "InvalidArgument"},
		{"detail not JSON", entry("my.app", "thing", `detail`), "MalformedDetail"},
		{"detail an array", entry("my.app", "thing", `[1]`), "MalformedDetail"},
		{"detail a string", entry("my.app", "thing", `"x"`), "MalformedDetail"},
		{"an AWS source", entry("aws.ec2", "thing", `{}`), "NotAuthorizedForSourceException"},
		{"missing bus", noBus, "ResourceNotFoundException"},
	}
	var entries []ebtypes.PutEventsRequestEntry
	var want []string
	failed := int32(0)
	for _, tt := range tests {
		entries = append(entries, tt.entry)
		want = append(want, tt.code)
		if tt.code != "" {
			failed++
		}
	}
	out, err := e.c.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
	e.must(t, err)
	if out.FailedEntryCount != failed || len(out.Entries) != len(tests) {
		t.Fatalf("FailedEntryCount %d with %d entries, want %d with %d", out.FailedEntryCount, len(out.Entries), failed, len(tests))
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := out.Entries[i]
			if got := aws.ToString(r.ErrorCode); got != want[i] {
				t.Errorf("ErrorCode = %q (%s), want %q", got, aws.ToString(r.ErrorMessage), want[i])
			}
			if (want[i] == "") != (r.EventId != nil) || (want[i] != "" && aws.ToString(r.ErrorMessage) == "") {
				t.Errorf("entry %+v", r)
			}
		})
	}

	t.Run("more than 10 entries", func(t *testing.T) {
		many := make([]ebtypes.PutEventsRequestEntry, 11)
		for i := range many {
			many[i] = ok
		}
		_, err := e.c.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: many})
		ebWantCode(t, "11 entries", err, "ValidationException")
	})
	t.Run("over 256 KB", func(t *testing.T) {
		big := entry("my.app", "thing", `{"a":"`+strings.Repeat("x", 130<<10)+`"}`)
		_, err := e.c.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{big, big}})
		ebWantCode(t, "2 × 130 KB", err, "ValidationException")
		_, err = e.c.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{big}})
		e.must(t, err)
	})
}

// leakRule sets up the rotor-leaks bus, a state machine, and a rule that
// starts it for leak alerts with input (the target's Input, InputPath or
// InputTransformer set on target).
func (e *ebEnv) leakRule(t *testing.T, targets ...ebtypes.Target) {
	t.Helper()
	ctx := t.Context()
	_, err := e.c.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(leakBus)})
	e.must(t, err)
	_, err = e.c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("leak"), EventBusName: aws.String(leakBus), EventPattern: aws.String(leakPattern)})
	e.must(t, err)
	_, err = e.c.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("leak"), EventBusName: aws.String(leakBus), Targets: targets})
	e.must(t, err)
}

// executionInputs returns the inputs of a state machine's executions, by
// execution ARN, once they ended.
