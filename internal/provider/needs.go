package provider

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Needs is what a provider needs from the deployment that runs it,
// declared as data: the CDK construct (infra/rotorcdk) grants the IAM
// statements and places the functions where they reach the network, and
// hosts (rotation.FromEnv, rotor local) hand a provider the parts of Env
// it declares. A provider that needs something it does not declare fails
// when deployed, not when tested in process: declare every call.
type Needs struct {
	// AWS names the AWS services the provider calls with Env.AWS, as
	// AWS_ENDPOINT_URL_<SERVICE> names them, lower case ("iam", "sts").
	// In a VPC the functions' subnets need a route to each.
	AWS []string
	// IAM is what the roles of the functions that call the provider need,
	// beyond what every such function has (its secrets, its logs).
	IAM []Statement
	// Network is what else the provider connects to.
	Network []Network
}

// Network is a kind of destination a provider connects to besides AWS.
type Network string

const (
	// NetHTTPS: HTTPS requests to the hosts its settings name (an API's
	// base URL), usually on the internet: in a VPC, the subnets need a
	// NAT gateway. The provider gets Env.HTTPClient.
	NetHTTPS Network = "https"
	// NetPrivate: connections to servers a deployment may keep in private
	// subnets (a database): the construct's vpc setting places the
	// functions that call providers in those subnets.
	NetPrivate Network = "private"
)

// The functions that call providers, by their names under functions/:
// what a Statement is granted on.
const (
	// FuncCreate mints or applies, and revokes what a failed or abandoned
	// create left.
	FuncCreate = "create"
	// FuncVerify proves a credential works, with the credential alone.
	FuncVerify = "verify"
	// FuncExpire revokes, rolls back and cleans up.
	FuncExpire = "expire"
)

// Statement is one IAM Allow statement the roles of some functions need.
//
// Resources and condition values may hold the placeholders ${Partition},
// ${Account} and ${Region}, the deploying stack's; a resource or condition
// value that is exactly ${SecretArns} stands for the ARN patterns of the
// secrets the deployment may touch (secret:<prefix>* for each configured
// name prefix, secret:* without), so that a provider can scope what it
// touches to what names such a secret. Expand substitutes them.
type Statement struct {
	// Sid names the statement in the role's policy: letters and digits,
	// unique among every registered provider's statements.
	Sid string
	// Functions are the functions whose roles get the statement (FuncCreate,
	// FuncVerify, FuncExpire).
	Functions []string
	// Actions are "service:Action" names (IAM's wildcards allowed).
	Actions []string
	// Resources are ARN patterns.
	Resources []string
	// Conditions all hold for the statement to apply.
	Conditions []Condition
}

// Condition is one IAM condition: Operator (StringLike,
// ForAllValues:StringLike, ...) on Key, matching any of Values.
type Condition struct {
	Operator string
	Key      string
	Values   []string
}

// Deployment is what Expand substitutes for the placeholders: literal
// values, or a CDK stack's tokens.
type Deployment struct {
	Partition, Account, Region string
	// SecretARNs are the ARN patterns of the secrets the deployment may
	// touch.
	SecretARNs []string
}

const secretARNs = "${SecretArns}"

var placeholder = regexp.MustCompile(`\$\{[^}]*\}`)

// Expand returns the statement with d substituted for its placeholders.
func (st Statement) Expand(d Deployment) Statement {
	r := strings.NewReplacer("${Partition}", d.Partition, "${Account}", d.Account, "${Region}", d.Region)
	expand := func(vs []string) []string {
		var out []string
		for _, v := range vs {
			if v == secretARNs {
				out = append(out, d.SecretARNs...)
				continue
			}
			out = append(out, r.Replace(v))
		}
		return out
	}
	out := Statement{Sid: st.Sid, Functions: slices.Clone(st.Functions), Actions: slices.Clone(st.Actions), Resources: expand(st.Resources)}
	for _, c := range st.Conditions {
		out.Conditions = append(out.Conditions, Condition{Operator: c.Operator, Key: c.Key, Values: expand(c.Values)})
	}
	return out
}

var (
	awsServiceRE = regexp.MustCompile(`^[a-z0-9-]+$`)
	sidRE        = regexp.MustCompile(`^[A-Za-z0-9]+$`)
	actionRE     = regexp.MustCompile(`^[a-z0-9-]+:[A-Za-z0-9*?]+$`)
)

// check reports what is malformed in n.
func (n Needs) check() error {
	var problems []string
	for _, s := range n.AWS {
		if !awsServiceRE.MatchString(s) {
			problems = append(problems, fmt.Sprintf("AWS service %q is not a lower-case service name", s))
		}
	}
	for _, net := range n.Network {
		if net != NetHTTPS && net != NetPrivate {
			problems = append(problems, fmt.Sprintf("network %q is not %q or %q", net, NetHTTPS, NetPrivate))
		}
	}
	sids := map[string]bool{}
	for i, st := range n.IAM {
		where := fmt.Sprintf("statement %d (%q)", i, st.Sid)
		if !sidRE.MatchString(st.Sid) || sids[st.Sid] {
			problems = append(problems, where+": Sid must be letters and digits, unique")
		}
		sids[st.Sid] = true
		if len(st.Functions) == 0 {
			problems = append(problems, where+": names no function")
		}
		for _, f := range st.Functions {
			if f != FuncCreate && f != FuncVerify && f != FuncExpire {
				problems = append(problems, fmt.Sprintf("%s: function %q is not %s, %s or %s", where, f, FuncCreate, FuncVerify, FuncExpire))
			}
		}
		if len(st.Actions) == 0 || len(st.Resources) == 0 {
			problems = append(problems, where+": needs actions and resources")
		}
		for _, a := range st.Actions {
			if !actionRE.MatchString(a) {
				problems = append(problems, fmt.Sprintf("%s: action %q is not service:Action", where, a))
			}
		}
		values := slices.Clone(st.Resources)
		for _, c := range st.Conditions {
			if c.Operator == "" || c.Key == "" || len(c.Values) == 0 {
				problems = append(problems, where+": a condition needs an operator, a key and values")
			}
			values = append(values, c.Values...)
		}
		for _, v := range values {
			if err := checkPlaceholders(v); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %q: %v", where, v, err))
			}
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

func checkPlaceholders(v string) error {
	for _, p := range placeholder.FindAllString(v, -1) {
		switch {
		case p == secretARNs && v != secretARNs:
			return fmt.Errorf("%s stands for a list: it must be the whole value", secretARNs)
		case p == secretARNs, p == "${Partition}", p == "${Account}", p == "${Region}":
		default:
			return fmt.Errorf("unknown placeholder %s (want ${Partition}, ${Account}, ${Region} or %s)", p, secretARNs)
		}
	}
	return nil
}

func (n Needs) clone() Needs {
	out := Needs{AWS: slices.Clone(n.AWS), Network: slices.Clone(n.Network)}
	for _, st := range n.IAM {
		c := st
		c.Functions, c.Actions, c.Resources = slices.Clone(st.Functions), slices.Clone(st.Actions), slices.Clone(st.Resources)
		c.Conditions = nil
		for _, k := range st.Conditions {
			c.Conditions = append(c.Conditions, Condition{Operator: k.Operator, Key: k.Key, Values: slices.Clone(k.Values)})
		}
		out.IAM = append(out.IAM, c)
	}
	return out
}
