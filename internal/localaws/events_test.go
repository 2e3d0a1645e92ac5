package localaws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
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

	locallambda "github.com/rotorhq/rotor/internal/localaws/lambda"
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
func (e *ebEnv) executionInput(t *testing.T, arn string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	status, err := e.srv.SFN.Wait(ctx, arn)
	e.must(t, err)
	if status != "SUCCEEDED" {
		t.Fatalf("execution %s: %s", arn, status)
	}
	d, err := e.sf.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	e.must(t, err)
	return aws.ToString(d.Input)
}

func TestEventsStartStateMachine(t *testing.T) {
	e := newEBEnv(t, "")
	ctx := t.Context()
	sm := e.machine(t, "rotation")
	e.leakRule(t,
		ebtypes.Target{Id: aws.String("rotate"), Arn: aws.String(sm), RoleArn: aws.String(role), InputPath: aws.String("$.detail")},
		ebtypes.Target{Id: aws.String("transformed"), Arn: aws.String(sm), RoleArn: aws.String(role), InputTransformer: &ebtypes.InputTransformer{
			InputPathsMap: map[string]string{"secret": "$.detail.leak.secretId", "source": "$.detail.leak.source", "missing": "$.detail.nope"},
			InputTemplate: aws.String(`{"SecretId": <secret>, "Reason": "leak reported by <source> to <aws.events.rule-name>", "Extra": <missing>}`)}},
		ebtypes.Target{Id: aws.String("whole"), Arn: aws.String(sm), RoleArn: aws.String(role)},
	)
	at := time.Date(2026, 11, 20, 8, 15, 0, 0, time.UTC)
	entry := leakEntry(leakBus, githubLeak)
	entry.Time = aws.Time(at)
	entry.Resources = []string{"arn:aws:secretsmanager:us-east-1:000000000000:secret:prod/stripe"}
	out := e.put(t, entry)
	if out.FailedEntryCount != 0 || out.Entries[0].EventId == nil {
		t.Fatalf("PutEvents: %+v", out.Entries)
	}
	eventID := aws.ToString(out.Entries[0].EventId)

	ds := e.ev.Deliveries()
	if len(ds) != 3 {
		t.Fatalf("deliveries: %+v", ds)
	}
	got := map[string]string{}
	for _, d := range ds {
		if d.Failed() || d.Attempts != 1 || d.EventID != eventID || d.Rule != "leak" || d.EventBus != leakBus || d.TargetARN != sm {
			t.Errorf("delivery %+v", d)
		}
		if !strings.HasPrefix(d.Result, "arn:aws:states:us-east-1:000000000000:execution:rotation:") {
			t.Fatalf("delivery to %s started no execution: %+v", d.TargetID, d)
		}
		in := e.executionInput(t, d.Result)
		if in != d.Input {
			t.Errorf("%s: execution input %s, delivery input %s", d.TargetID, in, d.Input)
		}
		got[d.TargetID] = in
	}
	whole, err := json.Marshal(map[string]any{"version": "0", "id": eventID, "detail-type": "rotor.leak", "source": "rotor.webhook",
		"account": "000000000000", "time": "2026-11-20T08:15:00Z", "region": "us-east-1",
		"resources": []string{"arn:aws:secretsmanager:us-east-1:000000000000:secret:prod/stripe"}, "detail": json.RawMessage(githubLeak)})
	e.must(t, err)
	want := map[string]string{
		"rotate":      compactJSON(t, githubLeak),
		"transformed": `{"SecretId":"prod/stripe","Reason":"leak reported by github to leak","Extra":null}`,
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreMapEntries(func(k, _ string) bool { return k == "whole" })); diff != "" {
		t.Errorf("execution inputs (-want +got):\n%s", diff)
	}
	var gotWhole, wantWhole any
	e.must(t, json.Unmarshal([]byte(got["whole"]), &gotWhole))
	e.must(t, json.Unmarshal(whole, &wantWhole))
	if diff := cmp.Diff(wantWhole, gotWhole); diff != "" {
		t.Errorf("event envelope (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(got["whole"], `{"version":"0","id":`) {
		t.Errorf("the envelope's members are not in EventBridge's order: %s", got["whole"])
	}

	t.Run("events the rule does not match start nothing", func(t *testing.T) {
		manual := leakEntry(leakBus, `{"secretId":"prod/stripe","trigger":"manual"}`)
		onDefault := leakEntry("", githubLeak)
		otherType := leakEntry(leakBus, githubLeak)
		otherType.DetailType = aws.String("rotor.rotated")
		out := e.put(t, manual, onDefault, otherType)
		if out.FailedEntryCount != 0 {
			t.Fatalf("PutEvents: %+v", out.Entries)
		}
		if n := len(e.ev.Deliveries()); n != 3 {
			t.Errorf("%d deliveries, want still 3", n)
		}
		execs, err := e.sf.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(sm)})
		e.must(t, err)
		if len(execs.Executions) != 3 {
			t.Errorf("%d executions, want 3", len(execs.Executions))
		}
	})

	t.Run("a disabled rule delivers nothing", func(t *testing.T) {
		_, err := e.c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("leak"), EventBusName: aws.String(leakBus),
			EventPattern: aws.String(leakPattern), State: ebtypes.RuleStateDisabled})
		e.must(t, err)
		e.put(t, leakEntry(leakBus, githubLeak))
		if n := len(e.ev.Deliveries()); n != 3 {
			t.Errorf("%d deliveries, want still 3", n)
		}
	})

	t.Run("the deliveries endpoint", func(t *testing.T) {
		resp, err := http.Get(e.url + "/_rotor/events/deliveries")
		e.must(t, err)
		defer resp.Body.Close()
		var ds []localevents.Delivery
		if err := json.NewDecoder(resp.Body).Decode(&ds); err != nil || len(ds) != 3 {
			t.Errorf("GET /_rotor/events/deliveries: %d deliveries, %v", len(ds), err)
		}
	})
}

func compactJSON(t *testing.T, s string) string {
	t.Helper()
	var v json.RawMessage
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestEventsLambdaTarget(t *testing.T) {
	e := newEBEnv(t, "")
	var mu sync.Mutex
	var payloads []string
	e.srv.Lambda.Register("notify", func(_ context.Context, p []byte) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		payloads = append(payloads, string(p))
		if strings.Contains(string(p), "boom") {
			return nil, &locallambda.FunctionError{Type: "Boom", Message: "exploded"}
		}
		return []byte(`"ok"`), nil
	})
	fn := "arn:aws:lambda:us-east-1:000000000000:function:notify"
	e.leakRule(t,
		ebtypes.Target{Id: aws.String("notify"), Arn: aws.String(fn), InputPath: aws.String("$.detail.leak")},
		ebtypes.Target{Id: aws.String("missing"), Arn: aws.String("arn:aws:lambda:us-east-1:000000000000:function:nope"), Input: aws.String(`{"constant":1}`)},
	)
	e.put(t, leakEntry(leakBus, githubLeak))
	e.put(t, leakEntry(leakBus, `{"trigger":"leak","leak":{"source":"boom"}}`))

	mu.Lock()
	want := []string{compactJSON(t, `{"source":"github","secretId":"prod/stripe","reference":"https://github.com/example/app/security/secret-scanning/42"}`), `{"source":"boom"}`}
	if diff := cmp.Diff(want, payloads); diff != "" {
		t.Errorf("payloads (-want +got):\n%s", diff)
	}
	mu.Unlock()

	type outcome struct {
		Target, Result, Error string
		Attempts              int
	}
	var got []outcome
	for _, d := range e.ev.Deliveries() {
		o := outcome{Target: d.TargetID, Result: d.Result, Attempts: d.Attempts}
		if d.Failed() {
			o.Error = "failed"
		}
		got = append(got, o)
	}
	wantOutcomes := []outcome{
		{Target: "notify", Result: `"ok"`, Attempts: 1},
		{Target: "missing", Error: "failed", Attempts: 1}, // a function that does not exist is not retried
		{Target: "notify", Result: "function error: Boom: exploded", Attempts: 1},
		{Target: "missing", Error: "failed", Attempts: 1},
	}
	sortOutcomes := cmpopts.SortSlices(func(a, b outcome) bool { return fmt.Sprint(a) < fmt.Sprint(b) })
	if diff := cmp.Diff(wantOutcomes, got, sortOutcomes); diff != "" {
		t.Errorf("deliveries (-want +got):\n%s", diff)
	}
	if f := e.ev.Failures(); len(f) != 2 || !strings.Contains(f[0].Error, "nope") || f[0].Input != `{"constant":1}` {
		t.Errorf("failures: %+v", f)
	}
}

// TestEventsLambdaTargetWaitsForFunctions: with Options.AwaitFunctions a
// rule's Lambda target is invoked once the host's functions are registered,
// not failed as a function that does not exist.
func TestEventsLambdaTargetWaitsForFunctions(t *testing.T) {
	log := &messageLog{}
	e := newEBEnvWith(t, Options{AwaitFunctions: true, Log: slog.New(log)})
	e.leakRule(t, ebtypes.Target{Id: aws.String("notify"), Arn: aws.String("arn:aws:lambda:us-east-1:000000000000:function:notify"),
		InputPath: aws.String("$.detail.leak")})
	_, err := e.c.PutEvents(t.Context(), &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{leakEntry(leakBus, githubLeak)}})
	e.must(t, err)
	for deadline := time.Now().Add(10 * time.Second); log.count(waitsForFunctions) == 0; time.Sleep(5 * time.Millisecond) {
		if len(e.ev.Deliveries()) > 0 || time.Now().After(deadline) {
			t.Fatalf("the delivery did not wait for the functions: %+v", e.ev.Deliveries())
		}
	}
	var calls atomic.Int32
	e.srv.Lambda.Register("notify", func(context.Context, []byte) ([]byte, error) {
		calls.Add(1)
		return []byte(`"ok"`), nil
	})
	e.srv.FunctionsReady()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	e.must(t, e.ev.Wait(ctx))
	ds := e.ev.Deliveries()
	if len(ds) != 1 || ds[0].Failed() || ds[0].Attempts != 1 || calls.Load() != 1 {
		t.Errorf("deliveries %+v after %d calls, want one, succeeded at the first attempt", ds, calls.Load())
	}
}

func TestEventsPersistence(t *testing.T) {
	data := filepath.Join(t.TempDir(), "rotor.db")
	e := newEBEnv(t, data)
	ctx := t.Context()
	sm := e.machine(t, "rotation")
	e.leakRule(t, ebtypes.Target{Id: aws.String("rotate"), Arn: aws.String(sm), RoleArn: aws.String(role), InputPath: aws.String("$.detail"),
		RetryPolicy: &ebtypes.RetryPolicy{MaximumRetryAttempts: aws.Int32(8)}})
	_, err := e.c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("off"), EventBusName: aws.String(leakBus),
		EventPattern: aws.String(`{"source":[{"prefix":"rotor."}]}`), State: ebtypes.RuleStateDisabled, Description: aws.String("kept")})
	e.must(t, err)
	before, err := e.c.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{Name: aws.String(leakBus)})
	e.must(t, err)
	defBefore, err := e.c.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{})
	e.must(t, err)
	rulesBefore, err := e.c.ListRules(ctx, &eventbridge.ListRulesInput{EventBusName: aws.String(leakBus)})
	e.must(t, err)
	targetsBefore, err := e.c.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String("leak"), EventBusName: aws.String(leakBus)})
	e.must(t, err)
	e.close()

	e = newEBEnv(t, data)
	after, err := e.c.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{Name: aws.String(leakBus)})
	e.must(t, err)
	defAfter, err := e.c.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{})
	e.must(t, err)
	rulesAfter, err := e.c.ListRules(ctx, &eventbridge.ListRulesInput{EventBusName: aws.String(leakBus)})
	e.must(t, err)
	targetsAfter, err := e.c.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String("leak"), EventBusName: aws.String(leakBus)})
	e.must(t, err)
	opts := []cmp.Option{cmpopts.IgnoreUnexported(eventbridge.DescribeEventBusOutput{}, eventbridge.ListRulesOutput{}, ebtypes.Rule{},
		eventbridge.ListTargetsByRuleOutput{}, ebtypes.Target{}, ebtypes.RetryPolicy{}),
		cmpopts.IgnoreFields(eventbridge.DescribeEventBusOutput{}, "ResultMetadata"), cmpopts.IgnoreFields(eventbridge.ListRulesOutput{}, "ResultMetadata"),
		cmpopts.IgnoreFields(eventbridge.ListTargetsByRuleOutput{}, "ResultMetadata")}
	for _, c := range []struct {
		what          string
		before, after any
	}{{"bus", before, after}, {"default bus", defBefore, defAfter}, {"rules", rulesBefore, rulesAfter}, {"targets", targetsBefore, targetsAfter}} {
		if diff := cmp.Diff(c.before, c.after, opts...); diff != "" {
			t.Errorf("%s after a restart (-before +after):\n%s", c.what, diff)
		}
	}

	// The rule, compiled from the data file, still starts the state machine.
	e.put(t, leakEntry(leakBus, githubLeak))
	ds := e.ev.Deliveries()
	if len(ds) != 1 || ds[0].Failed() {
		t.Fatalf("deliveries after a restart: %+v", ds)
	}
	if in := e.executionInput(t, ds[0].Result); in != compactJSON(t, githubLeak) {
		t.Errorf("execution input %s", in)
	}
}

func TestEventsWire(t *testing.T) {
	e := newEBEnv(t, "")
	post := func(target, body string) (int, http.Header, string) {
		req, err := http.NewRequest(http.MethodPost, e.url, strings.NewReader(body))
		e.must(t, err)
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("X-Amz-Target", target)
		resp, err := http.DefaultClient.Do(req)
		e.must(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	tests := []struct {
		name, target, body string
		status             int
		code               string
	}{
		{"unknown operation", "AWSEvents.StartReplay", `{}`, 400, "UnknownOperationException"},
		{"not JSON", "AWSEvents.PutRule", `{`, 400, "SerializationException"},
		{"event time as epoch seconds", "AWSEvents.PutEvents", `{"Entries":[{"Source":"a","DetailType":"b","Detail":"{}","Time":1.7e9}]}`, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, h, body := post(tt.target, tt.body)
			if status != tt.status || h.Get("X-Amzn-ErrorType") != tt.code {
				t.Errorf("HTTP %d %s: %s", status, h.Get("X-Amzn-ErrorType"), body)
			}
		})
	}
}

func TestEventsEmit(t *testing.T) {
	e := newEBEnv(t, "")
	var mu sync.Mutex
	var payloads []string
	e.srv.Lambda.Register("sink", func(_ context.Context, p []byte) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		payloads = append(payloads, string(p))
		return []byte(`null`), nil
	})
	_, err := e.c.PutRule(t.Context(), &eventbridge.PutRuleInput{Name: aws.String("guardduty"),
		EventPattern: aws.String(`{"source":["aws.guardduty"],"detail":{"resource":{"resourceType":["AccessKey"]}}}`)})
	e.must(t, err)
	_, err = e.c.PutTargets(t.Context(), &eventbridge.PutTargetsInput{Rule: aws.String("guardduty"), Targets: []ebtypes.Target{{
		Id: aws.String("sink"), Arn: aws.String("arn:aws:lambda:us-east-1:000000000000:function:sink"),
		InputTransformer: &ebtypes.InputTransformer{InputPathsMap: map[string]string{"key": "$.detail.resource.accessKeyDetails.accessKeyId", "src": "$.source"},
			InputTemplate: aws.String(`{"key":<key>,"source":<src>}`)}}}})
	e.must(t, err)

	// PutEvents refuses AWS's sources; Emit is how a host plays AWS.
	out := e.put(t, ebtypes.PutEventsRequestEntry{Source: aws.String("aws.guardduty"), DetailType: aws.String("GuardDuty Finding"), Detail: aws.String(`{}`)})
	if out.FailedEntryCount != 1 || aws.ToString(out.Entries[0].ErrorCode) != "NotAuthorizedForSourceException" {
		t.Fatalf("PutEvents with an aws. source: %+v", out.Entries)
	}
	post := func(body string) (int, string) {
		t.Helper()
		resp, err := http.Post(e.url+"/_rotor/events/emit", "application/json", strings.NewReader(body))
		e.must(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tc := range []struct{ body, want string }{
		{`{"detail-type":"x","detail":{}}`, "source is required"},
		{`{"source":"aws.guardduty","detail":{}}`, "detail-type is required"},
		{`{"source":"aws.guardduty","detail-type":"x","detail":[1]}`, "detail must be a JSON object"},
		{`not json`, "event:"},
	} {
		if code, body := post(tc.body); code != http.StatusBadRequest || !strings.Contains(body, tc.want) {
			t.Errorf("emit %s: %d %q, want 400 with %q", tc.body, code, body, tc.want)
		}
	}
	sample, err := os.ReadFile("../../test/testdata/events/guardduty-credential-exfiltration.json")
	e.must(t, err)
	code, body := post(string(sample))
	if code != http.StatusOK || !strings.Contains(body, `"id"`) {
		t.Fatalf("emit the GuardDuty sample: %d %s", code, body)
	}
	if _, err := e.ev.Emit([]byte(`{"source":"aws.health","detail-type":"AWS Health Event","detail":{}}`)); err != nil {
		t.Fatal(err) // matches no rule: nothing delivered
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	e.must(t, e.ev.Wait(ctx))
	var sampleEvent struct {
		Detail struct {
			Resource struct {
				AccessKeyDetails struct {
					AccessKeyID string `json:"accessKeyId"`
				} `json:"accessKeyDetails"`
			} `json:"resource"`
		} `json:"detail"`
	}
	e.must(t, json.Unmarshal(sample, &sampleEvent))
	mu.Lock()
	defer mu.Unlock()
	want := []string{`{"key":"` + sampleEvent.Detail.Resource.AccessKeyDetails.AccessKeyID + `","source":"aws.guardduty"}`}
	if diff := cmp.Diff(want, payloads); diff != "" {
		t.Errorf("payloads (-want +got):\n%s", diff)
	}
}
