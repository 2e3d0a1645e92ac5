package provider

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rotorhq/rotor/internal/rotorerr"
)

// Registration is what a provider package registers under its name: how
// to build the provider for a host, and what it needs from the deployment.
type Registration struct {
	// New builds the provider from what its host gives it. Required. It
	// is called once per host (see Set), never concurrently for one Set,
	// and should do no I/O: a provider connects when a step calls it.
	New func(Env) (Provider, error)
	// Needs declares what the provider needs from the deployment that runs
	// it; the zero value needs nothing (no AWS, no IAM, no network).
	Needs Needs
}

// Env is what a host gives the providers it builds: the Lambda functions
// give the SDK's default configuration (rotation.FromEnv), rotor local its
// endpoint's. A provider gets only the parts its Needs declare: AWS when
// Needs.AWS names a service, HTTPClient when Needs.Network holds NetHTTPS;
// the other fields reach it nil.
type Env struct {
	// AWS is the configuration a provider calls AWS with (region,
	// credentials, endpoints, HTTP client). Nil: the provider loads the
	// SDK's default configuration (config.LoadDefaultConfig) when it first
	// calls AWS, as a Lambda function would.
	AWS *aws.Config
	// HTTPClient sends a provider's HTTPS requests to its targets. Nil: the
	// provider's own default client.
	HTTPClient *http.Client
}

// forNeeds is the part of e that a provider with needs n gets.
func (e Env) forNeeds(n Needs) Env {
	var out Env
	if len(n.AWS) > 0 {
		out.AWS = e.AWS
	}
	if slices.Contains(n.Network, NetHTTPS) {
		out.HTTPClient = e.HTTPClient
	}
	return out
}

// Fixed is a Registration.New that returns p for every host: for
// providers that need nothing from their host, and test doubles.
func Fixed(p Provider) func(Env) (Provider, error) {
	return func(Env) (Provider, error) { return p, nil }
}

var (
	mu       sync.RWMutex
	registry = map[string]Registration{}
)

// Register makes a provider available under name. It panics when name is
// empty or taken, New is nil, or Needs is malformed (see Needs), as
// database/sql.Register does: all are programming errors found at start-up.
func Register(name string, r Registration) {
	mu.Lock()
	defer mu.Unlock()
	if name == "" || r.New == nil {
		panic("provider: Register with an empty name or a nil New")
	}
	if _, dup := registry[name]; dup {
		panic(fmt.Sprintf("provider: Register called twice for %q", name))
	}
	if err := r.Needs.check(); err != nil {
		panic(fmt.Sprintf("provider: Register %q: %v", name, err))
	}
	for other, o := range registry {
		for _, st := range o.Needs.IAM {
			if slices.ContainsFunc(r.Needs.IAM, func(s Statement) bool { return s.Sid == st.Sid }) {
				panic(fmt.Sprintf("provider: Register %q: statement %q is also provider %q's (Sids share a role's policy)", name, st.Sid, other))
			}
		}
	}
	registry[name] = Registration{New: r.New, Needs: r.Needs.clone()}
}

// registration returns the registration of name. An unknown name is
// rotorerr.InvalidInput and lists the names that are registered.
func registration(name string) (Registration, error) {
	mu.RLock()
	r, ok := registry[name]
	mu.RUnlock()
	if !ok {
		return Registration{}, rotorerr.New(rotorerr.InvalidInput, fmt.Sprintf(
			"unknown provider %q (tag rotor:provider); registered providers: %s",
			name, strings.Join(Names(), ", ")))
	}
	return r, nil
}

// NeedsOf returns what the provider registered as name needs from the
// deployment; an unknown name is an error as in Lookup.
func NeedsOf(name string) (Needs, error) {
	r, err := registration(name)
	if err != nil {
		return Needs{}, err
	}
	return r.Needs.clone(), nil
}

// Names lists the registered provider names, sorted.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Set builds the registered providers for one host's Env, each once, when
// it is first looked up. A build that fails is not kept: the next lookup
// tries again.
type Set struct {
	env   Env
	mu    sync.Mutex
	built map[string]Provider
}

// NewSet returns the providers of a host that gives env.
func NewSet(env Env) *Set {
	return &Set{env: env, built: map[string]Provider{}}
}

// Lookup returns the provider registered as name, built for the set's
// Env. An unknown name is rotorerr.InvalidInput and lists the names that
// are registered.
func (s *Set) Lookup(name string) (Provider, error) {
	r, err := registration(name)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.built[name]; ok {
		return p, nil
	}
	p, err := r.New(s.env.forNeeds(r.Needs))
	if err != nil {
		return nil, fmt.Errorf("provider %s: %w", name, err)
	}
	if p == nil {
		return nil, rotorerr.New(rotorerr.Unsafe, fmt.Sprintf("provider %s: New returned no provider", name))
	}
	s.built[name] = p
	return p, nil
}

// defaults is the set Lookup uses.
var defaults = NewSet(Env{})

// Lookup returns the provider registered as name, built for the zero Env
// (each provider's own defaults): for tests, and hosts with nothing to
// give. Hosts that configure AWS build a Set of their own.
func Lookup(name string) (Provider, error) { return defaults.Lookup(name) }
