package provider

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/go-cmp/cmp"

	"github.com/rotorhq/rotor/internal/rotorerr"
)

type nop struct{}

func (nop) Create(context.Context, *CreateRequest) (*CreateResponse, error) { return nil, nil }
func (nop) Verify(context.Context, *VerifyRequest) error                    { return nil }
func (nop) Revoke(context.Context, *RevokeRequest) error                    { return nil }

func TestRegistry(t *testing.T) {
	Register("test-nop", Registration{New: Fixed(nop{})})
	if p, err := Lookup("test-nop"); err != nil || p != (nop{}) {
		t.Fatalf("Lookup = %v, %v", p, err)
	}
	for _, lookup := range []func(string) (Provider, error){Lookup, NewSet(Env{}).Lookup} {
		_, err := lookup("tset-nop")
		if !errors.Is(err, rotorerr.InvalidInput) || !strings.Contains(err.Error(), `unknown provider "tset-nop"`) ||
			!strings.Contains(err.Error(), "test-nop") {
			t.Errorf("unknown name: %v; want InvalidInput naming it and listing the registered ones", err)
		}
	}
	if _, err := NeedsOf("tset-nop"); !errors.Is(err, rotorerr.InvalidInput) {
		t.Errorf("NeedsOf an unknown name: %v", err)
	}
	Register("test-sid", Registration{New: Fixed(nop{}), Needs: Needs{IAM: []Statement{statement("TestSid")}}})
	for _, tc := range []struct {
		rule string
		name string
		r    Registration
	}{
		{"a duplicate name panics", "test-nop", Registration{New: Fixed(nop{})}},
		{"an empty name panics", "", Registration{New: Fixed(nop{})}},
		{"a nil New panics", "test-nil", Registration{}},
		{"another provider's Sid panics", "test-sid2", Registration{New: Fixed(nop{}), Needs: Needs{IAM: []Statement{statement("TestSid")}}}},
		{"malformed needs panic", "test-bad", Registration{New: Fixed(nop{}), Needs: Needs{AWS: []string{"IAM"}}}},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("Register did not panic")
				}
			}()
			Register(tc.name, tc.r)
		})
	}
	if slices.Contains(Names(), "test-bad") || slices.Contains(Names(), "test-sid2") {
		t.Errorf("a registration that panicked was kept: %v", Names())
	}
}

func statement(sid string) Statement {
	return Statement{Sid: sid, Functions: []string{FuncCreate}, Actions: []string{"ssm:GetParameter"},
		Resources: []string{"arn:${Partition}:ssm:${Region}:${Account}:parameter/test/*"}}
}

// envProvider records the Env it was built with.
type envProvider struct {
	nop
	env Env
}

// TestSetGivesWhatNeedsDeclare: each provider gets the parts of the host's
// Env its Needs declare, is built once per Set, and a failed build is not
// kept.
func TestSetGivesWhatNeedsDeclare(t *testing.T) {
	builds := map[string]int{}
	record := func(name string) func(Env) (Provider, error) {
		return func(env Env) (Provider, error) {
			builds[name]++
			return &envProvider{env: env}, nil
		}
	}
	Register("test-env-aws", Registration{New: record("test-env-aws"), Needs: Needs{AWS: []string{"sts"}}})
	Register("test-env-https", Registration{New: record("test-env-https"), Needs: Needs{Network: []Network{NetHTTPS}}})
	Register("test-env-none", Registration{New: record("test-env-none"), Needs: Needs{Network: []Network{NetPrivate}}})
	fail := true
	Register("test-env-flaky", Registration{New: func(Env) (Provider, error) {
		if fail {
			return nil, rotorerr.New(rotorerr.Transient, "not yet")
		}
		return nop{}, nil
	}})

	cfg, client := &aws.Config{Region: "eu-west-1"}, &http.Client{}
	set := NewSet(Env{AWS: cfg, HTTPClient: client})
	type got struct{ AWS, HTTP bool }
	for _, tc := range []struct {
		name string
		want got
	}{
		{"test-env-aws", got{AWS: true}},
		{"test-env-https", got{HTTP: true}},
		{"test-env-none", got{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := set.Lookup(tc.name)
			if err != nil {
				t.Fatal(err)
			}
			env := p.(*envProvider).env
			if diff := cmp.Diff(tc.want, got{AWS: env.AWS == cfg, HTTP: env.HTTPClient == client}); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if env.AWS != nil && env.AWS != cfg || env.HTTPClient != nil && env.HTTPClient != client {
				t.Errorf("Env %+v holds something the host did not give", env)
			}
			again, err := set.Lookup(tc.name)
			if err != nil || again != p || builds[tc.name] != 1 {
				t.Errorf("second lookup: %v, %v, built %d times; want the same provider, built once", again, err, builds[tc.name])
			}
		})
	}
	if _, err := set.Lookup("test-env-flaky"); !errors.Is(err, rotorerr.Transient) || !strings.Contains(err.Error(), "test-env-flaky") {
		t.Errorf("failed build: %v; want its error, naming the provider", err)
	}
	fail = false
	if p, err := set.Lookup("test-env-flaky"); err != nil || p != (nop{}) {
		t.Errorf("after a failed build: %v, %v; want a new build", p, err)
	}
}

// TestNeedsChecks: malformed needs are refused with what is wrong.
func TestNeedsChecks(t *testing.T) {
	ok := statement("Ok")
	with := func(f func(*Statement)) Needs {
		st := statement("Ok")
		f(&st)
		return Needs{IAM: []Statement{st}}
	}
	for _, tc := range []struct {
		name  string
		needs Needs
		want  string // "" for valid
	}{
		{"valid", Needs{AWS: []string{"iam", "sts"}, IAM: []Statement{ok}, Network: []Network{NetHTTPS, NetPrivate}}, ""},
		{"secret ARNs as a whole value", with(func(s *Statement) {
			s.Conditions = []Condition{{Operator: "StringLike", Key: "iam:ResourceTag/x", Values: []string{"${SecretArns}"}}}
		}), ""},
		{"upper-case service", Needs{AWS: []string{"IAM"}}, `AWS service "IAM"`},
		{"unknown network", Needs{Network: []Network{"udp"}}, `network "udp"`},
		{"duplicate Sid", Needs{IAM: []Statement{ok, ok}}, "unique"},
		{"Sid with a space", with(func(s *Statement) { s.Sid = "A B" }), "letters and digits"},
		{"no function", with(func(s *Statement) { s.Functions = nil }), "names no function"},
		{"unknown function", with(func(s *Statement) { s.Functions = []string{"switchover"} }), `function "switchover"`},
		{"no resources", with(func(s *Statement) { s.Resources = nil }), "needs actions and resources"},
		{"bad action", with(func(s *Statement) { s.Actions = []string{"GetParameter"} }), `action "GetParameter"`},
		{"unknown placeholder", with(func(s *Statement) { s.Resources = []string{"arn:${AWS::Partition}:ssm:::x"} }), "unknown placeholder ${AWS::Partition}"},
		{"secret ARNs inside a value", with(func(s *Statement) { s.Resources = []string{"${SecretArns}/x"} }), "whole value"},
		{"empty condition", with(func(s *Statement) { s.Conditions = []Condition{{Operator: "StringLike"}} }), "a condition needs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.needs.check()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("check() = %v; want %q", err, tc.want)
			}
		})
	}
}

func TestExpand(t *testing.T) {
	st := Statement{Sid: "S", Functions: []string{FuncExpire}, Actions: []string{"iam:TagUser"},
		Resources: []string{"arn:${Partition}:iam::${Account}:user/*", "${SecretArns}"},
		Conditions: []Condition{
			{Operator: "StringLike", Key: "iam:ResourceTag/rotor:secret", Values: []string{"${SecretArns}"}},
			{Operator: "StringEquals", Key: "aws:RequestedRegion", Values: []string{"${Region}"}},
		}}
	d := Deployment{Partition: "aws-cn", Account: "111122223333", Region: "cn-north-1",
		SecretARNs: []string{"arn:aws-cn:secretsmanager:cn-north-1:111122223333:secret:prod/*", "arn:aws-cn:secretsmanager:cn-north-1:111122223333:secret:team/*"}}
	want := Statement{Sid: "S", Functions: []string{FuncExpire}, Actions: []string{"iam:TagUser"},
		Resources: append([]string{"arn:aws-cn:iam::111122223333:user/*"}, d.SecretARNs...),
		Conditions: []Condition{
			{Operator: "StringLike", Key: "iam:ResourceTag/rotor:secret", Values: d.SecretARNs},
			{Operator: "StringEquals", Key: "aws:RequestedRegion", Values: []string{"cn-north-1"}},
		}}
	if diff := cmp.Diff(want, st.Expand(d)); diff != "" {
		t.Errorf("Expand (-want +got):\n%s", diff)
	}
	if st.Resources[0] != "arn:${Partition}:iam::${Account}:user/*" || st.Conditions[0].Values[0] != "${SecretArns}" {
		t.Error("Expand changed the statement it expanded")
	}
}

func TestOptionsWithoutChecker(t *testing.T) {
	if err := CheckOptions(nop{}, Options{"length": "3"}); !errors.Is(err, rotorerr.InvalidInput) {
		t.Errorf("a provider without a checker accepted options: %v", err)
	}
	if err := CheckOptions(nop{}, nil); err != nil {
		t.Error(err)
	}
	err := UnknownOptions("random", Options{"strategy": "x", "lenght": "1"}, "length")
	if err == nil || !strings.Contains(err.Error(), "rotor:strategy") || !strings.Contains(err.Error(), "rotor:random:lenght") {
		t.Errorf("UnknownOptions = %v; want both tags named as the user wrote them", err)
	}
}

func TestSetFields(t *testing.T) {
	got, err := SetFields([]byte(`{"a":1,"b":"x"}`), map[string]any{"b": "y", "c": true})
	if err != nil || string(got) != `{"a":1,"b":"y","c":true}` {
		t.Errorf("SetFields = %s, %v", got, err)
	}
	if _, err := SetFields([]byte(`"secret-string"`), nil); !errors.Is(err, rotorerr.InvalidInput) || strings.Contains(err.Error(), "secret-string") {
		t.Errorf("non-object: %v", err)
	}
}
