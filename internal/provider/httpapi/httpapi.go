// Package httpapi rotates keys of any REST API where a master key creates
// and deletes API keys. It is configured entirely by the master secret's JSON
// (see Config); no code is written per API.
//
// It is registered as "httpapi" and takes no option tags. The managed
// secret's value is a JSON object holding the key and its id (fields named by
// Config.Secret) plus a "rotor" field with the non-secret recipe verify needs
// (URL, method, header templates, expected statuses), because verify runs
// without the master secret. Other fields of the object are kept.
//
// Keys are named from Config.KeyName, which contains the rotation token: a
// create retried after a lost response lists the keys, and either reuses the
// key minted for its token (when the API shows values in lists) or revokes it
// before minting again, so no token ever leaves two live keys.
package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/theory/jsonpath"

	"github.com/rotorhq/rotor/internal/provider"
	"github.com/rotorhq/rotor/internal/redact"
	"github.com/rotorhq/rotor/internal/rotorerr"
)

// Name is the provider's registered name.
const Name = "httpapi"

// metaField is the field of the managed secret holding rotor's recipe.
const metaField = "rotor"

// maxBody bounds how much of a response is read.
const maxBody = 1 << 20

// It calls the API the master secret names over HTTPS, with the host's
// HTTP client if it gives one.
func init() {
	provider.Register(Name, provider.Registration{New: build, Needs: provider.Needs{Network: []provider.Network{provider.NetHTTPS}}})
}

// build takes the host's transport and timeouts, never its redirect
// policy: a redirect could carry the master key elsewhere.
func build(env provider.Env) (provider.Provider, error) {
	if env.HTTPClient == nil {
		return &Provider{}, nil
	}
	c := *env.HTTPClient
	c.CheckRedirect = defaultClient.CheckRedirect
	return &Provider{Client: &c}, nil
}

// Provider drives a key API. The zero value uses a default HTTP client.
type Provider struct {
	// Client sends the requests; nil means a client with no redirects.
	// Tests inject transports here.
	Client *http.Client
}

// meta is what the managed secret keeps in its "rotor" field.
type meta struct {
	KeyField string     `json:"keyField"`
	IDField  string     `json:"idField"`
	BaseURL  string     `json:"baseUrl"`
	Timeout  int        `json:"timeoutSeconds"`
	Verify   VerifyCall `json:"verify"`
}

// NeedsMaster implements provider.MasterUser: the configuration lives in the
// master secret.
func (*Provider) NeedsMaster(provider.Options) bool { return true }

// CheckOptions implements provider.OptionsChecker: httpapi takes no tags.
func (*Provider) CheckOptions(o provider.Options) error { return provider.UnknownOptions(Name, o) }

// Create implements provider.Provider.
func (p *Provider) Create(ctx context.Context, req *provider.CreateRequest) (*provider.CreateResponse, error) {
	c, err := p.config(ctx, req.Master, req.Options)
	if err != nil {
		return nil, err
	}
	name, err := render("keyName", c.KeyName, listData{Token: req.Token})
	if err != nil {
		return nil, err
	}
	found, err := p.list(ctx, c, req.Token, name)
	if err != nil {
		return nil, err
	}
	var key, id string
	for _, k := range found {
		if key == "" && k.key != "" {
			key, id = k.key, k.id // reuse the key an earlier attempt minted
			continue
		}
		if err := p.revokeID(ctx, c, k.id, req.Token); err != nil {
			return nil, fmt.Errorf("revoke key %s left by an earlier attempt: %w", k.id, err)
		}
	}
	if key == "" {
		oldID := ""
		if req.Current != nil {
			oldID, _ = provider.Field(req.Current, c.Secret.IDField)
		}
		if oldID != "" && usesOldKeyID(c.Create.Call) {
			// The id is the secret owner's to write; it reaches the
			// request only if it cannot address anything else.
			if err := checkKeyID(fmt.Sprintf("current value: field %q", c.Secret.IDField), oldID); err != nil {
				return nil, err
			}
		} else {
			oldID = ""
		}
		if key, id, err = p.mint(ctx, c, mintData{MasterKey: c.MasterKey, Token: req.Token, KeyName: name, OldKeyID: oldID}); err != nil {
			return nil, err
		}
	}
	value, err := provider.SetFields(req.Current, map[string]any{
		c.Secret.KeyField: key,
		c.Secret.IDField:  id,
		metaField: meta{KeyField: c.Secret.KeyField, IDField: c.Secret.IDField, BaseURL: c.BaseURL,
			Timeout: c.TimeoutSeconds, Verify: c.Verify},
	})
	if err != nil {
		// The current value is not an object: the minted key cannot be stored,
		// so it must not stay live.
		if rerr := p.revokeID(ctx, c, id, req.Token); rerr != nil {
			return nil, fmt.Errorf("%w (and revoking the unstorable key %s failed: %v)", err, id, rerr)
		}
		return nil, err
	}
	return &provider.CreateResponse{Value: value}, nil
}

func (p *Provider) mint(ctx context.Context, c *Config, data mintData) (key, id string, err error) {
	status, body, err := p.do(ctx, c, "create", c.Create.Call, data, true)
	if err != nil {
		return "", "", err
	}
	if err := expect("create", status, c.Create.ExpectStatus, nil); err != nil {
		return "", "", err
	}
	doc, err := decode(body)
	if err == nil {
		key, err = pick(doc, c.Create.KeyPath)
	}
	if err == nil {
		id, err = pick(doc, c.Create.IDPath)
	}
	if err != nil {
		// Minted but unreadable: revoke it by name so it does not stay live.
		if _, rerr := p.revokeNamed(ctx, c, data.Token); rerr != nil {
			return "", "", invalid("create response: %v (and revoking the key minted for this token failed: %v)", err, rerr)
		}
		return "", "", invalid("create response: %v", err)
	}
	redact.Add(ctx, key)
	if err := checkKeyID("create response: the new key's id", id); err != nil {
		if _, rerr := p.revokeNamed(ctx, c, data.Token); rerr != nil {
			return "", "", fmt.Errorf("%w (and revoking the key minted for this token failed: %v)", err, rerr)
		}
		return "", "", err
	}
	return key, id, nil
}

type listed struct{ id, name, key string }

// listAll returns every key the API lists, with its name and id (and its
// value, when the list shows values). Ids are checked where they are used
// (revokeID), so an odd id of an unrelated key breaks nothing.
func (p *Provider) listAll(ctx context.Context, c *Config, token, name string) ([]listed, error) {
	status, body, err := p.do(ctx, c, "list", c.List.Call, listData{MasterKey: c.MasterKey, Token: token, KeyName: name}, true)
	if err != nil {
		return nil, err
	}
	if err := expect("list", status, c.List.ExpectStatus, nil); err != nil {
		return nil, err
	}
	doc, err := decode(body)
	if err != nil {
		return nil, invalid("list response: %v", err)
	}
	var out []listed
	for item := range jsonpath.MustParse(c.List.ItemsPath).Select(doc).All() {
		n, err := pick(item, c.List.NamePath)
		if err != nil {
			continue
		}
		id, err := pick(item, c.List.IDPath)
		if err != nil {
			if n == name {
				return nil, invalid("list response: a key named for this token has no id at %s", c.List.IDPath)
			}
			continue
		}
		l := listed{id: id, name: n}
		if c.List.KeyPath != "" && n == name {
			if k, err := pick(item, c.List.KeyPath); err == nil {
				redact.Add(ctx, k)
				l.key = k
			}
		}
		out = append(out, l)
	}
	return out, nil
}

// list returns the keys named name.
func (p *Provider) list(ctx context.Context, c *Config, token, name string) ([]listed, error) {
	all, err := p.listAll(ctx, c, token, name)
	if err != nil {
		return nil, err
	}
	var out []listed
	for _, l := range all {
		if l.name == name {
			out = append(out, l)
		}
	}
	return out, nil
}

// Verify implements provider.Provider using only the credential and the
// recipe stored beside it.
func (p *Provider) Verify(ctx context.Context, req *provider.VerifyRequest) error {
	var m meta
	doc, err := provider.Object(req.Value)
	if err == nil {
		err = remarshal(doc[metaField], &m)
	}
	if err != nil || m.KeyField == "" || m.Verify.Path == "" {
		return rotorerr.New(rotorerr.VerificationFailed, fmt.Sprintf("provider httpapi: version %s has no %q recipe to verify with", req.Token, metaField))
	}
	key, _ := doc[m.KeyField].(string)
	id, _ := doc[m.IDField].(string)
	if key == "" {
		return rotorerr.New(rotorerr.VerificationFailed, fmt.Sprintf("provider httpapi: version %s has no key in field %q", req.Token, m.KeyField))
	}
	redact.Add(ctx, key)
	if err := checkBaseURL(m.BaseURL); err != nil {
		return err
	}
	c := &Config{BaseURL: m.BaseURL, TimeoutSeconds: m.Timeout}
	status, _, err := p.do(ctx, c, "verify", m.Verify.Call, verifyData{Key: key, KeyID: id}, false)
	if err != nil {
		return err
	}
	if slices.Contains(m.Verify.ExpectStatus, status) {
		return nil
	}
	if transientStatus(status) {
		return rotorerr.New(rotorerr.Transient, fmt.Sprintf("provider httpapi: verify: HTTP %d", status))
	}
	return rotorerr.New(rotorerr.VerificationFailed, fmt.Sprintf("provider httpapi: verify: the API answered HTTP %d to the new key", status))
}

// Revoke implements provider.Provider. What it revokes is what rotor
// recorded when it minted: the keys the API lists under the name made from
// the version's token (SECURITY.md, trust boundaries). The id in the version's value
// is the secret owner's to write, so it never chooses what is revoked,
// except for a key rotor did not mint, when the master opts in
// (RevokeCall.Unminted) and the API lists the id under a name rotor does
// not give its keys.
func (p *Provider) Revoke(ctx context.Context, req *provider.RevokeRequest) error {
	c, err := p.config(ctx, req.Master, req.Options)
	if err != nil {
		return err
	}
	name, err := render("keyName", c.KeyName, listData{Token: req.VersionID})
	if err != nil {
		return err
	}
	all, err := p.listAll(ctx, c, req.VersionID, name)
	if err != nil {
		return err
	}
	minted := false
	for _, k := range all {
		if k.name == name {
			minted = true
			if err := p.revokeID(ctx, c, k.id, req.VersionID); err != nil {
				return err
			}
		}
	}
	if minted {
		return nil
	}
	id, err := provider.Field(req.Value, c.Secret.IDField)
	if err != nil || id == "" {
		return rotorerr.New(rotorerr.InvalidInput, fmt.Sprintf(
			"provider httpapi: version %s has no key id in field %q, so its key cannot be found to revoke; revoke it by hand",
			req.VersionID, c.Secret.IDField))
	}
	if err := checkKeyID(fmt.Sprintf("version %s: field %q", req.VersionID, c.Secret.IDField), id); err != nil {
		return err
	}
	var held *listed
	for i := range all {
		if all[i].id == id {
			held = &all[i]
		}
	}
	switch {
	case held == nil:
		// Neither a key named for the version nor the id exists: what
		// the version held is gone (revoked before, or never minted).
		return nil
	case mintedName(c, held.name):
		return rotorerr.New(rotorerr.Unsafe, fmt.Sprintf(
			"provider httpapi: refusing to revoke key %s for version %s: the API lists it under a name rotor gave a key of another rotation",
			id, req.VersionID))
	case !c.Revoke.Unminted:
		return rotorerr.New(rotorerr.InvalidInput, fmt.Sprintf(
			"provider httpapi: version %s holds key %s, which rotor did not mint (the API lists no key named for the version), so rotor does not "+
				"revoke it by an id the secret's owner can edit: revoke it by hand, or set revoke.unminted in the master secret", req.VersionID, id))
	}
	return p.revokeID(ctx, c, id, req.VersionID)
}

// usesOldKeyID reports whether a call's templates read OldKeyID.
func usesOldKeyID(call Call) bool {
	b, _ := json.Marshal(call)
	return strings.Contains(string(b), "OldKeyID")
}

// mintedName reports whether name is one keyName gives a key for some
// token.
func mintedName(c *Config, name string) bool {
	const marker = "00000000-0000-4000-8000-00000000abcd"
	pattern, err := render("keyName", c.KeyName, listData{Token: marker})
	if err != nil {
		return false
	}
	before, after, ok := strings.Cut(pattern, marker)
	if !ok {
		return false
	}
	token, ok := strings.CutPrefix(name, before)
	if !ok {
		return false
	}
	token, ok = strings.CutSuffix(token, after)
	return ok && tokenPattern.MatchString(token)
}

// tokenPattern is what rotation tokens look like (the core's check).
var tokenPattern = regexp.MustCompile(`^[A-Za-z0-9-]{32,64}$`)

// RevokeToken implements provider.TokenRevoker.
func (p *Provider) RevokeToken(ctx context.Context, req *provider.RevokeTokenRequest) (int, error) {
	c, err := p.config(ctx, req.Master, req.Options)
	if err != nil {
		return 0, err
	}
	return p.revokeNamed(ctx, c, req.Token)
}

// revokeNamed revokes every key named for token.
func (p *Provider) revokeNamed(ctx context.Context, c *Config, token string) (int, error) {
	name, err := render("keyName", c.KeyName, listData{Token: token})
	if err != nil {
		return 0, err
	}
	found, err := p.list(ctx, c, token, name)
	if err != nil {
		return 0, err
	}
	for i, k := range found {
		if err := p.revokeID(ctx, c, k.id, token); err != nil {
			return i, err
		}
	}
	return len(found), nil
}

func (p *Provider) revokeID(ctx context.Context, c *Config, id, token string) error {
	if err := checkKeyID("the key id to revoke", id); err != nil {
		return err
	}
	status, _, err := p.do(ctx, c, "revoke", c.Revoke.Call, revokeData{MasterKey: c.MasterKey, KeyID: id, Token: token}, true)
	if err != nil {
		return err
	}
	return expect("revoke", status, c.Revoke.ExpectStatus, c.Revoke.GoneStatus)
}

func (p *Provider) config(ctx context.Context, master []byte, o provider.Options) (*Config, error) {
	if err := p.CheckOptions(o); err != nil {
		return nil, err
	}
	redact.Add(ctx, string(master))
	c, err := parseConfig(master)
	if err != nil {
		return nil, err
	}
	redact.Add(ctx, c.MasterKey)
	return c, nil
}

// do sends one call. withCommon adds the configuration's common headers
// (which may hold the master key); verify never gets them.
func (p *Provider) do(ctx context.Context, c *Config, name string, call Call, data any, withCommon bool) (int, []byte, error) {
	path, err := render(name+".path", call.Path, escaped(data))
	if err != nil {
		return 0, nil, err
	}
	var body io.Reader
	if call.Body != nil {
		v, err := renderJSON(name+".body", call.Body, data)
		if err != nil {
			return 0, nil, err
		}
		b, _ := json.Marshal(v)
		body = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(c.TimeoutSeconds)*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, call.Method, strings.TrimRight(c.BaseURL, "/")+path, body)
	if err != nil {
		return 0, nil, invalid("%s: cannot build the request: method or path is malformed", name)
	}
	hs := call.Headers
	if withCommon {
		hs = merge(c.Headers, call.Headers)
	}
	for k, v := range hs {
		r, err := render(name+".headers."+k, v, data)
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set(k, r)
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := p.client().Do(req)
	if err != nil {
		// The path and query may hold the master key or a key id: the
		// error names method and host only.
		return 0, nil, rotorerr.Wrap(rotorerr.Transient, fmt.Errorf("provider httpapi: %s: %w", name, redact.NewRequestError(req.Method, req.URL, err)))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return 0, nil, rotorerr.Wrap(rotorerr.Transient, fmt.Errorf("provider httpapi: %s: reading the response: %w", name, redact.NewRequestError(req.Method, req.URL, err)))
	}
	return resp.StatusCode, b, nil
}

func (p *Provider) client() *http.Client {
	if p.Client != nil {
		return p.Client
	}
	return defaultClient
}

var defaultClient = &http.Client{
	// A redirect could carry the master key elsewhere: never follow one.
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// escaped returns data with every string field path-escaped, for rendering
// paths.
func escaped(data any) any {
	switch d := data.(type) {
	case mintData:
		return mintData{url.PathEscape(d.MasterKey), url.PathEscape(d.Token), url.PathEscape(d.KeyName), url.PathEscape(d.OldKeyID)}
	case listData:
		return listData{url.PathEscape(d.MasterKey), url.PathEscape(d.Token), url.PathEscape(d.KeyName)}
	case revokeData:
		return revokeData{url.PathEscape(d.MasterKey), url.PathEscape(d.KeyID), url.PathEscape(d.Token)}
	case verifyData:
		return verifyData{url.PathEscape(d.Key), url.PathEscape(d.KeyID)}
	}
	return data
}

// expect maps a status to success or a typed error. Response bodies are
// never quoted: an API may echo the key it was sent.
func expect(call string, status int, ok, gone []int) error {
	switch {
	case slices.Contains(ok, status), slices.Contains(gone, status):
		return nil
	case transientStatus(status):
		return rotorerr.New(rotorerr.Transient, fmt.Sprintf("provider httpapi: %s: HTTP %d", call, status))
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return rotorerr.New(rotorerr.InvalidInput, fmt.Sprintf("provider httpapi: %s: the API refused the master key (HTTP %d)", call, status))
	default:
		return rotorerr.New(rotorerr.InvalidInput, fmt.Sprintf("provider httpapi: %s: unexpected HTTP %d (expected %v); check the %s section of the master secret", call, status, ok, call))
	}
}

func transientStatus(s int) bool {
	return s == http.StatusTooManyRequests || s == http.StatusRequestTimeout || s >= 500
}

func decode(body []byte) (any, error) {
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("not JSON")
	}
	return doc, nil
}

// pick returns the single string or number a query selects.
func pick(doc any, query string) (string, error) {
	p, err := jsonpath.Parse(query)
	if err != nil {
		return "", fmt.Errorf("bad query %s", query)
	}
	nodes := p.Select(doc)
	if len(nodes) != 1 {
		return "", fmt.Errorf("%s selects %d values, want 1", query, len(nodes))
	}
	switch v := nodes[0].(type) {
	case string:
		if v == "" {
			return "", fmt.Errorf("%s is empty", query)
		}
		return v, nil
	case float64:
		return fmt.Sprintf("%.0f", v), nil
	}
	return "", fmt.Errorf("%s is not a string", query)
}

func remarshal(in any, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

// Identify implements provider.Identifier: the key is what leaks; its id at
// the API is not an AWS access key id, so only the key is fingerprinted. A
// value rotor did not write (no "rotor" field) is read with the default
// field names.
func (*Provider) Identify(value []byte, _ provider.Options) (*provider.Identity, error) {
	doc, err := provider.Object(value)
	if err != nil {
		return nil, err
	}
	m := meta{KeyField: "apiKey"}
	if raw, ok := doc[metaField]; ok {
		if err := remarshal(raw, &m); err != nil || m.KeyField == "" {
			return nil, rotorerr.New(rotorerr.InvalidInput, fmt.Sprintf("provider httpapi: the %q field of the value is malformed", metaField))
		}
	}
	key, _ := doc[m.KeyField].(string)
	if key == "" {
		return &provider.Identity{}, nil
	}
	return &provider.Identity{Secret: []byte(key)}, nil
}

// Live implements provider.LiveChecker: the API still lists the key rotor
// minted for the version, or the key whose id the value holds.
func (p *Provider) Live(ctx context.Context, req *provider.LiveRequest) (bool, error) {
	c, err := p.config(ctx, req.Master, req.Options)
	if err != nil {
		return false, err
	}
	id, _ := provider.Field(req.Value, c.Secret.IDField)
	key, _ := provider.Field(req.Value, c.Secret.KeyField)
	if id == "" && key == "" {
		return true, nil // holds no key: nothing to lose
	}
	name, err := render("keyName", c.KeyName, listData{Token: req.VersionID})
	if err != nil {
		return false, err
	}
	all, err := p.listAll(ctx, c, req.VersionID, name)
	if err != nil {
		return false, err
	}
	for _, k := range all {
		if k.name == name || (id != "" && k.id == id) {
			return true, nil
		}
	}
	return false, nil
}
