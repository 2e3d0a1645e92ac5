package iam

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.etcd.io/bbolt"

	"github.com/rotorhq/rotor/internal/iampolicy"
	"github.com/rotorhq/rotor/internal/localaws/wire"
)

// Role is an IAM role as a host declares it: its trust policy and its
// inline policies (policy name -> JSON document).
type Role struct {
	Name, Path, AssumeRolePolicy string
	Policies                     map[string]string
}

// iamRole is a role as kept and persisted. Once indexed it is never
// changed: a change indexes a new one, so readers hold no lock while they
// evaluate its policies.
type iamRole struct {
	Name, ID, Path   string
	Created          time.Time
	Description      string `json:",omitempty"`
	AssumeRolePolicy string
	Policies         map[string]string `json:",omitempty"`

	arn      string
	compiled []*iampolicy.Policy // in policy name order
}

const iamRoleKey = "role:"

var (
	iamRoleNameRE   = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	iamPolicyNameRE = regexp.MustCompile(`^[\w+=,.@-]{1,128}$`)
)

func (i *Service) roleARN(path, name string) string {
	return fmt.Sprintf("arn:aws:iam::%s:role%s%s", i.env.Account, path, name)
}

// compileRole parses every document of r (its trust policy for its shape,
// its inline policies as identity policies) and fills what is derived.
func (i *Service) compileRole(r *iamRole) error {
	if r.AssumeRolePolicy == "" {
		return fmt.Errorf("role %s: the trust policy (AssumeRolePolicy) is empty", r.Name)
	}
	if _, err := iampolicy.ParseDocument(r.AssumeRolePolicy); err != nil {
		return fmt.Errorf("role %s: trust policy: %w", r.Name, err)
	}
	names := slices.Sorted(maps.Keys(r.Policies))
	r.compiled = make([]*iampolicy.Policy, 0, len(names))
	for _, n := range names {
		if !iamPolicyNameRE.MatchString(n) {
			return fmt.Errorf("role %s: policy name %q: want 1 to 128 of [A-Za-z0-9_+=,.@-]", r.Name, n)
		}
		p, err := iampolicy.ParsePolicy(r.Policies[n])
		if err != nil {
			return fmt.Errorf("role %s, policy %s: %w", r.Name, n, err)
		}
		r.compiled = append(r.compiled, p)
	}
	r.arn = i.roleARN(r.Path, r.Name)
	return nil
}

func checkRoleName(name string) error {
	if !iamRoleNameRE.MatchString(name) {
		return fmt.Errorf("role name %q: want 1 to 64 of [A-Za-z0-9_+=,.@-]", name)
	}
	return nil
}

// PutRole creates a role, or replaces the role of that name (its path,
// trust policy and inline policies; its id and creation date stay), and
// returns its ARN, arn:aws:iam::ACCOUNT:role/PATH/NAME (Path "" is "/").
// Every document is parsed first: a bad one is an error naming the role
// and the policy, and changes nothing.
func (i *Service) PutRole(r Role) (string, error) {
	if err := checkRoleName(r.Name); err != nil {
		return "", err
	}
	if r.Path == "" {
		r.Path = "/"
	}
	if len(r.Path) > 512 || !iamPathRE.MatchString(r.Path) {
		return "", fmt.Errorf("role %s: path %q: want / or /SEGMENTS/ of printable ASCII", r.Name, r.Path)
	}
	nr := &iamRole{Name: r.Name, Path: r.Path, AssumeRolePolicy: r.AssumeRolePolicy, Policies: maps.Clone(r.Policies)}
	if err := i.compileRole(nr); err != nil {
		return "", err
	}
	i.rmu.Lock()
	defer i.rmu.Unlock()
	if old, ok := i.roles[strings.ToLower(r.Name)]; ok {
		nr.ID, nr.Created, nr.Description = old.ID, old.Created, old.Description
		nr.Name = old.Name // names keep their first case, as in IAM
		nr.arn = i.roleARN(nr.Path, nr.Name)
	} else {
		nr.ID, nr.Created = "AROA"+iamRandom(iamIDChars, 17), i.now()
	}
	if err := i.commitRole(nr); err != nil {
		return "", fmt.Errorf("role %s: %w", r.Name, err)
	}
	return nr.arn, nil
}

// PutRolePolicy adds or replaces one inline policy of a role. A document
// that does not parse is an error naming the role and the policy, and
// changes nothing.
func (i *Service) PutRolePolicy(roleName, policyName, document string) error {
	i.rmu.Lock()
	defer i.rmu.Unlock()
	old, ok := i.roles[strings.ToLower(roleName)]
	if !ok {
		return fmt.Errorf("role %s does not exist", roleName)
	}
	nr := old.with(func(p map[string]string) { p[policyName] = document })
	if err := i.compileRole(nr); err != nil {
		return err
	}
	return i.commitRole(nr)
}

// DeleteRolePolicy removes one inline policy of a role; a role or policy
// that does not exist is an error.
func (i *Service) DeleteRolePolicy(roleName, policyName string) error {
	i.rmu.Lock()
	defer i.rmu.Unlock()
	old, ok := i.roles[strings.ToLower(roleName)]
	if !ok {
		return fmt.Errorf("role %s does not exist", roleName)
	}
	if _, ok := old.Policies[policyName]; !ok {
		return fmt.Errorf("role %s has no policy %s", roleName, policyName)
	}
	nr := old.with(func(p map[string]string) { delete(p, policyName) })
	if err := i.compileRole(nr); err != nil {
		return err
	}
	return i.commitRole(nr)
}

// RolePolicy returns one inline policy document of a role, as it was put.
func (i *Service) RolePolicy(roleName, policyName string) (string, bool) {
	i.rmu.RLock()
	defer i.rmu.RUnlock()
	r, ok := i.roles[strings.ToLower(roleName)]
	if !ok {
		return "", false
	}
	doc, ok := r.Policies[policyName]
	return doc, ok
}

// with returns a copy of r whose policies fn changed.
func (r *iamRole) with(fn func(map[string]string)) *iamRole {
	c := *r
	c.Policies = maps.Clone(r.Policies)
	if c.Policies == nil {
		c.Policies = map[string]string{}
	}
	fn(c.Policies)
	c.compiled = nil
	return &c
}

// commitRole persists r and then indexes it. Call with i.rmu held.
func (i *Service) commitRole(r *iamRole) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	key := []byte(iamRoleKey + strings.ToLower(r.Name))
	if err := i.env.DB.Update(func(b *bbolt.Bucket) error { return b.Put(key, data) }, iamBucket); err != nil {
		return err
	}
	i.indexRole(r)
	return nil
}

// indexRole puts r in memory. Call with i.rmu held (or before serving).
func (i *Service) indexRole(r *iamRole) {
	lname := strings.ToLower(r.Name)
	if old, ok := i.roles[lname]; ok {
		delete(i.rolesByARN, old.arn)
	}
	i.roles[lname] = r
	i.rolesByARN[r.arn] = r
}

// roleByARN finds a role by its ARN.
func (i *Service) roleByARN(arn string) (*iamRole, bool) {
	i.rmu.RLock()
	defer i.rmu.RUnlock()
	r, ok := i.rolesByARN[arn]
	return r, ok
}

// The query API for roles.

type iamRoleXML struct {
	Path                     string
	RoleName                 string
	RoleId                   string
	Arn                      string
	CreateDate               string
	AssumeRolePolicyDocument string
	Description              string `xml:",omitempty"`
	MaxSessionDuration       int    `xml:",omitempty"`
}

type iamRoleResult struct {
	XMLName xml.Name // CreateRoleResult or GetRoleResult
	Role    iamRoleXML
}

type getRolePolicyResult struct {
	XMLName                              xml.Name `xml:"GetRolePolicyResult"`
	RoleName, PolicyName, PolicyDocument string
}

type listRolePoliciesResult struct {
	XMLName     xml.Name `xml:"ListRolePoliciesResult"`
	PolicyNames struct {
		Member []string `xml:"member"`
	}
	IsTruncated bool
	Marker      string `xml:",omitempty"`
}

// IAM answers policy documents URL-encoded (RFC 3986), as the SDKs hand
// them over.
func encodeDocument(doc string) string { return uriEncode(doc, true) }

func (i *Service) roleXML(r *iamRole, withSession bool) iamRoleXML {
	x := iamRoleXML{Path: r.Path, RoleName: r.Name, RoleId: r.ID, Arn: r.arn, CreateDate: r.Created.UTC().Format(iamTime),
		AssumeRolePolicyDocument: encodeDocument(r.AssumeRolePolicy), Description: r.Description}
	if withSession {
		x.MaxSessionDuration = 3600
	}
	return x
}

func iamNoSuchRole(name string) error {
	return &wire.Error{Code: "NoSuchEntity", Message: fmt.Sprintf("The role with name %s cannot be found.", name), Status: http.StatusNotFound}
}

func iamMalformedPolicy(err error) error {
	return &wire.Error{Code: "MalformedPolicyDocument", Message: "The policy document is not one rotor's local endpoint can evaluate: " + err.Error(), Status: http.StatusBadRequest}
}

func checkQueryRoleName(member, name string) error {
	switch {
	case name == "":
		return iamValidation("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", member)
	case !iamRoleNameRE.MatchString(name):
		return iamValidation(`1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+ and have length between 1 and 64`, name, member)
	}
	return nil
}

func checkQueryPolicyName(name string) error {
	switch {
	case name == "":
		return iamValidation("1 validation error detected: Value null at 'policyName' failed to satisfy constraint: Member must not be null")
	case !iamPolicyNameRE.MatchString(name):
		return iamValidation(`1 validation error detected: Value '%s' at 'policyName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+ and have length between 1 and 128`, name)
	}
	return nil
}

// namedRole finds a role by name for the query API. Call with i.rmu held.
func (i *Service) namedRole(name string) (*iamRole, error) {
	if err := checkQueryRoleName("roleName", name); err != nil {
		return nil, err
	}
	r, ok := i.roles[strings.ToLower(name)]
	if !ok {
		return nil, iamNoSuchRole(name)
	}
	return r, nil
}

func (i *Service) doRole(op string, form url.Values) (any, error) {
	switch op {
	case "CreateRole":
		return i.createRole(form)
	case "GetRole":
		i.rmu.RLock()
		defer i.rmu.RUnlock()
		r, err := i.namedRole(form.Get("RoleName"))
		if err != nil {
			return nil, err
		}
		return iamRoleResult{XMLName: xml.Name{Local: "GetRoleResult"}, Role: i.roleXML(r, true)}, nil
	case "DeleteRole":
		i.rmu.Lock()
		defer i.rmu.Unlock()
		r, err := i.namedRole(form.Get("RoleName"))
		if err != nil {
			return nil, err
		}
		if len(r.Policies) > 0 {
			return nil, &wire.Error{Code: "DeleteConflict", Message: "Cannot delete entity, must delete policies first.", Status: http.StatusConflict}
		}
		lname := strings.ToLower(r.Name)
		if err := i.env.DB.Update(func(b *bbolt.Bucket) error { return b.Delete([]byte(iamRoleKey + lname)) }, iamBucket); err != nil {
			return nil, err
		}
		delete(i.roles, lname)
		delete(i.rolesByARN, r.arn)
		return nil, nil
	case "PutRolePolicy":
		return nil, i.putRolePolicy(form.Get("RoleName"), form.Get("PolicyName"), form.Get("PolicyDocument"))
	case "GetRolePolicy":
		i.rmu.RLock()
		defer i.rmu.RUnlock()
		r, err := i.namedRole(form.Get("RoleName"))
		if err != nil {
			return nil, err
		}
		name := form.Get("PolicyName")
		if err := checkQueryPolicyName(name); err != nil {
			return nil, err
		}
		doc, ok := r.Policies[name]
		if !ok {
			return nil, iamNoSuchRolePolicy(name)
		}
		return getRolePolicyResult{RoleName: r.Name, PolicyName: name, PolicyDocument: encodeDocument(doc)}, nil
	case "DeleteRolePolicy":
		name := form.Get("PolicyName")
		if err := checkQueryPolicyName(name); err != nil {
			return nil, err
		}
		i.rmu.Lock()
		defer i.rmu.Unlock()
		r, err := i.namedRole(form.Get("RoleName"))
		if err != nil {
			return nil, err
		}
		if _, ok := r.Policies[name]; !ok {
			return nil, iamNoSuchRolePolicy(name)
		}
		nr := r.with(func(p map[string]string) { delete(p, name) })
		if err := i.compileRole(nr); err != nil {
			return nil, err
		}
		return nil, i.commitRole(nr)
	case "ListRolePolicies":
		i.rmu.RLock()
		r, err := i.namedRole(form.Get("RoleName"))
		var names []string
		if err == nil {
			names = slices.Sorted(maps.Keys(r.Policies))
		}
		i.rmu.RUnlock()
		if err != nil {
			return nil, err
		}
		names, next, err := iamPage(form, names, func(n string) string { return n })
		if err != nil {
			return nil, err
		}
		res := listRolePoliciesResult{IsTruncated: next != "", Marker: next}
		res.PolicyNames.Member = names
		return res, nil
	}
	return nil, nil
}

func iamNoSuchRolePolicy(name string) error {
	return &wire.Error{Code: "NoSuchEntity", Message: fmt.Sprintf("The role policy with name %s cannot be found.", name), Status: http.StatusNotFound}
}

// roleOps are the role actions doRole answers.
var roleOps = map[string]bool{"CreateRole": true, "GetRole": true, "DeleteRole": true, "PutRolePolicy": true,
	"GetRolePolicy": true, "DeleteRolePolicy": true, "ListRolePolicies": true}

func (i *Service) createRole(form url.Values) (any, error) {
	name, path, doc := form.Get("RoleName"), form.Get("Path"), form.Get("AssumeRolePolicyDocument")
	if err := checkQueryRoleName("roleName", name); err != nil {
		return nil, err
	}
	if path == "" {
		path = "/"
	}
	if len(path) > 512 || !iamPathRE.MatchString(path) {
		return nil, iamValidation(`1 validation error detected: Value '%s' at 'path' failed to satisfy constraint: Member must satisfy regular expression pattern: (\u002F)|(\u002F[\u0021-\u007E]+\u002F)`, path)
	}
	if doc == "" {
		return nil, iamValidation("1 validation error detected: Value null at 'assumeRolePolicyDocument' failed to satisfy constraint: Member must not be null")
	}
	// What this endpoint would not keep is refused rather than dropped.
	for _, p := range []string{"Tags.member.1.Key", "PermissionsBoundary", "MaxSessionDuration"} {
		if form.Has(p) {
			return nil, iamValidation("%s: rotor's local endpoint does not support it on roles", strings.TrimSuffix(p, ".member.1.Key"))
		}
	}
	r := &iamRole{Name: name, Path: path, AssumeRolePolicy: doc, Description: form.Get("Description")}
	if _, err := iampolicy.ParseDocument(doc); err != nil {
		return nil, iamMalformedPolicy(err)
	}
	if err := i.compileRole(r); err != nil {
		return nil, iamMalformedPolicy(err)
	}
	i.rmu.Lock()
	defer i.rmu.Unlock()
	if _, ok := i.roles[strings.ToLower(name)]; ok {
		return nil, &wire.Error{Code: "EntityAlreadyExists", Message: fmt.Sprintf("Role with name %s already exists.", name), Status: http.StatusConflict}
	}
	r.ID, r.Created = "AROA"+iamRandom(iamIDChars, 17), i.now()
	if err := i.commitRole(r); err != nil {
		return nil, err
	}
	return iamRoleResult{XMLName: xml.Name{Local: "CreateRoleResult"}, Role: i.roleXML(r, false)}, nil
}

func (i *Service) putRolePolicy(roleName, policyName, doc string) error {
	if err := checkQueryPolicyName(policyName); err != nil {
		return err
	}
	if doc == "" {
		return iamValidation("1 validation error detected: Value null at 'policyDocument' failed to satisfy constraint: Member must not be null")
	}
	if _, err := iampolicy.ParsePolicy(doc); err != nil {
		return iamMalformedPolicy(err)
	}
	i.rmu.Lock()
	defer i.rmu.Unlock()
	r, err := i.namedRole(roleName)
	if err != nil {
		return err
	}
	nr := r.with(func(p map[string]string) { p[policyName] = doc })
	if err := i.compileRole(nr); err != nil {
		return iamMalformedPolicy(err)
	}
	return i.commitRole(nr)
}
