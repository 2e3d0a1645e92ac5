package iam

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/rotorhq/rotor/internal/localaws/wire"
)

// The query protocol's answers.

type iamUserXML struct {
	Path       string
	UserName   string
	UserId     string
	Arn        string
	CreateDate string
	Tags       *iamTagsXML `xml:",omitempty"`
}

type iamTagsXML struct {
	Member []iamTag `xml:"member"`
}

type iamAccessKeyXML struct {
	UserName        string
	AccessKeyId     string
	Status          string
	SecretAccessKey string `xml:",omitempty"`
	CreateDate      string
}

type iamUserResult struct {
	XMLName xml.Name // CreateUserResult or GetUserResult
	User    iamUserXML
}

type listUsersResult struct {
	XMLName xml.Name `xml:"ListUsersResult"`
	Users   struct {
		Member []iamUserXML `xml:"member"`
	}
	IsTruncated bool
	Marker      string `xml:",omitempty"`
}

type createAccessKeyResult struct {
	XMLName   xml.Name `xml:"CreateAccessKeyResult"`
	AccessKey iamAccessKeyXML
}

type listAccessKeysResult struct {
	XMLName           xml.Name `xml:"ListAccessKeysResult"`
	AccessKeyMetadata struct {
		Member []iamAccessKeyXML `xml:"member"`
	}
	IsTruncated bool
	Marker      string `xml:",omitempty"`
}

type listUserTagsResult struct {
	XMLName xml.Name `xml:"ListUserTagsResult"`
	Tags    iamTagsXML
	// IsTruncated comes after Tags as in AWS's answers.
	IsTruncated bool
	Marker      string `xml:",omitempty"`
}

const iamTime = "2006-01-02T15:04:05Z"

func (i *Service) userXML(u *iamUser, withTags bool) iamUserXML {
	x := iamUserXML{Path: u.Path, UserName: u.Name, UserId: u.ID, Arn: i.arn(u), CreateDate: u.Created.UTC().Format(iamTime)}
	if withTags && len(u.Tags) > 0 {
		x.Tags = &iamTagsXML{Member: slices.Clone(u.Tags)}
	}
	return x
}

func iamKeyXML(u *iamUser, k iamKey) iamAccessKeyXML {
	return iamAccessKeyXML{UserName: u.Name, AccessKeyId: k.ID, Status: k.Status, CreateDate: k.Created.UTC().Format(iamTime)}
}

// serve answers one query-protocol request.
func (i *Service) Serve(w http.ResponseWriter, r *http.Request, op string, body []byte) {
	requestID := uuid.NewString()
	w.Header().Set("X-Amzn-RequestId", requestID)
	form, err := wire.ParseQuery(body)
	if err != nil {
		wire.WriteQueryError(w, iamXMLNS, requestID, &wire.Error{Code: "MalformedQueryString", Message: "the request body is not a valid form"})
		return
	}
	var result any
	if v := form.Get("Version"); v != "" && v != iamVersion {
		err = &wire.Error{Code: "InvalidAction", Message: fmt.Sprintf("Could not find operation %s for version %s", op, v)}
	} else {
		result, err = i.do(r, op, form)
	}
	if err != nil {
		var ae *wire.Error
		if !errors.As(err, &ae) {
			// Storage failures: the message names no secret (records are
			// never quoted), but keep it out of the answer all the same.
			i.env.Log.Error("iam", "operation", op, "error", err)
			ae = &wire.Error{Code: "ServiceFailure", Message: "the rotor local endpoint could not store the change", Status: http.StatusInternalServerError}
		}
		wire.WriteQueryError(w, iamXMLNS, requestID, ae)
		return
	}
	wire.WriteQueryResult(w, iamXMLNS, op, requestID, result)
}

// writeError answers a fault or a throttling refusal in IAM's protocol.
func (i *Service) WriteError(w http.ResponseWriter, code, message string, status int) {
	if code == "ThrottlingException" {
		code = "Throttling" // IAM's name for it
	}
	wire.WriteQueryError(w, iamXMLNS, "", &wire.Error{Code: code, Message: message, Status: status})
}

func (i *Service) do(r *http.Request, op string, form url.Values) (any, error) {
	switch op {
	case "CreateUser":
		return i.createUser(form)
	case "GetUser":
		i.mu.Lock()
		defer i.mu.Unlock()
		u, err := i.user(r, form.Get("UserName"))
		if err != nil {
			return nil, err
		}
		return iamUserResult{XMLName: xml.Name{Local: "GetUserResult"}, User: i.userXML(u, true)}, nil
	case "DeleteUser":
		return nil, i.deleteUser(form.Get("UserName"))
	case "ListUsers":
		return i.listUsers(form)
	case "CreateAccessKey":
		return i.createAccessKey(r, form.Get("UserName"))
	case "UpdateAccessKey":
		return nil, i.updateAccessKey(r, form.Get("UserName"), form.Get("AccessKeyId"), form.Get("Status"))
	case "DeleteAccessKey":
		return nil, i.deleteAccessKey(r, form.Get("UserName"), form.Get("AccessKeyId"))
	case "ListAccessKeys":
		return i.listAccessKeys(r, form)
	case "TagUser":
		return nil, i.tagUser(form)
	case "UntagUser":
		return nil, i.untagUser(form.Get("UserName"), wire.FormList(form, "TagKeys"))
	case "ListUserTags":
		return i.listUserTags(form)
	}
	if roleOps[op] {
		return i.doRole(op, form)
	}
	return nil, &wire.Error{Code: "InvalidAction", Message: fmt.Sprintf("The action %s is not valid for this web service (rotor local endpoint).", op)}
}

// user finds the user named name or, when name is "", the user whose
// access key signed r (IAM's rule for operations whose UserName is
// optional). Call with i.mu held.
func (i *Service) user(r *http.Request, name string) (*iamUser, error) {
	if name == "" {
		if id := credentialKeyID(r); id != "" {
			if u, ok := i.users[i.keys[id]]; ok {
				return u, nil
			}
		}
		return nil, iamValidation("%s", iamNonUserCred)
	}
	return i.namedUser("userName", name)
}

// namedUser finds a user by name. Call with i.mu held.
func (i *Service) namedUser(member, name string) (*iamUser, error) {
	if err := checkIAMUserName(member, name); err != nil {
		return nil, err
	}
	u, ok := i.users[strings.ToLower(name)]
	if !ok {
		return nil, iamNoSuchUser(name)
	}
	return u, nil
}

func (i *Service) createUser(form url.Values) (any, error) {
	name, path := form.Get("UserName"), form.Get("Path")
	if err := checkIAMUserName("userName", name); err != nil {
		return nil, err
	}
	if path == "" {
		path = "/"
	}
	if len(path) > 512 || !iamPathRE.MatchString(path) {
		return nil, iamValidation(`1 validation error detected: Value '%s' at 'path' failed to satisfy constraint: Member must satisfy regular expression pattern: (\u002F)|(\u002F[\u0021-\u007E]+\u002F)`, path)
	}
	tags, err := iamFormTags(form)
	if err != nil {
		return nil, err
	}
	if len(tags) > iamMaxTags {
		return nil, iamLimit(fmt.Sprintf("The number of tags has reached the maximum limit of %d.", iamMaxTags))
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if _, ok := i.users[strings.ToLower(name)]; ok {
		return nil, &wire.Error{Code: "EntityAlreadyExists", Message: fmt.Sprintf("User with name %s already exists.", name), Status: http.StatusConflict}
	}
	u := &iamUser{Name: name, ID: "AIDA" + iamRandom(iamIDChars, 17), Path: path, Created: i.now(), Tags: tags}
	if err := i.commit(u); err != nil {
		return nil, err
	}
	return iamUserResult{XMLName: xml.Name{Local: "CreateUserResult"}, User: i.userXML(u, true)}, nil
}

func (i *Service) deleteUser(name string) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	u, err := i.namedUser("userName", name)
	if err != nil {
		return err
	}
	if len(u.Keys) > 0 {
		return &wire.Error{Code: "DeleteConflict", Message: "Cannot delete entity, must delete access keys first.", Status: http.StatusConflict}
	}
	return i.remove(u)
}

func (i *Service) listUsers(form url.Values) (any, error) {
	prefix := form.Get("PathPrefix")
	if prefix == "" {
		prefix = "/"
	}
	i.mu.Lock()
	var all []*iamUser
	for _, u := range i.users {
		if strings.HasPrefix(u.Path, prefix) {
			all = append(all, u)
		}
	}
	i.mu.Unlock()
	slices.SortFunc(all, func(a, b *iamUser) int { return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
	users, next, err := iamPage(form, all, func(u *iamUser) string { return strings.ToLower(u.Name) })
	if err != nil {
		return nil, err
	}
	res := listUsersResult{IsTruncated: next != "", Marker: next}
	for _, u := range users {
		// ListUsers leaves tags out, as AWS's does.
		res.Users.Member = append(res.Users.Member, i.userXML(u, false))
	}
	return res, nil
}

func (i *Service) createAccessKey(r *http.Request, name string) (any, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	u, err := i.user(r, name)
	if err != nil {
		return nil, err
	}
	if len(u.Keys) >= iamMaxKeys {
		return nil, iamLimit(fmt.Sprintf("Cannot exceed quota for AccessKeysPerUser: %d", iamMaxKeys))
	}
	var id string
	for id == "" || i.keys[id] != "" {
		id = "AKIA" + iamRandom(iamKeyIDChars, 16)
	}
	k := iamKey{ID: id, Secret: iamRandom(iamSecretChars, 40), Status: "Active", Created: i.now()}
	c := u.clone()
	c.Keys = append(c.Keys, k)
	if err := i.commit(c); err != nil {
		return nil, err
	}
	x := iamKeyXML(c, k)
	x.SecretAccessKey = k.Secret
	return createAccessKeyResult{AccessKey: x}, nil
}

// userKey finds the key id of user name (or of the caller's user). Call
// with i.mu held.
func (i *Service) userKey(r *http.Request, name, id string) (*iamUser, int, error) {
	if err := checkIAMKeyID(id); err != nil {
		return nil, 0, err
	}
	u, err := i.user(r, name)
	if err != nil {
		return nil, 0, err
	}
	n := slices.IndexFunc(u.Keys, func(k iamKey) bool { return k.ID == id })
	if n < 0 {
		return nil, 0, iamNoSuchKey(id)
	}
	return u, n, nil
}

func (i *Service) updateAccessKey(r *http.Request, name, id, status string) error {
	if status != "Active" && status != "Inactive" {
		if status == "" {
			return iamValidation("1 validation error detected: Value null at 'status' failed to satisfy constraint: Member must not be null")
		}
		return iamValidation("1 validation error detected: Value '%s' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]", status)
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	u, n, err := i.userKey(r, name, id)
	if err != nil {
		return err
	}
	if u.Keys[n].Status == status {
		return nil
	}
	c := u.clone()
	c.Keys[n].Status = status
	return i.commit(c)
}

func (i *Service) deleteAccessKey(r *http.Request, name, id string) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	u, n, err := i.userKey(r, name, id)
	if err != nil {
		return err
	}
	c := u.clone()
	c.Keys = slices.Delete(c.Keys, n, n+1)
	if err := i.commit(c); err != nil {
		return err
	}
	delete(i.keys, id)
	return nil
}

func (i *Service) listAccessKeys(r *http.Request, form url.Values) (any, error) {
	i.mu.Lock()
	u, err := i.user(r, form.Get("UserName"))
	var keys []iamKey
	if err == nil {
		keys = slices.Clone(u.Keys)
	}
	i.mu.Unlock()
	if err != nil {
		return nil, err
	}
	keys, next, err := iamPage(form, keys, func(k iamKey) string { return k.ID })
	if err != nil {
		return nil, err
	}
	res := listAccessKeysResult{IsTruncated: next != "", Marker: next}
	for _, k := range keys {
		res.AccessKeyMetadata.Member = append(res.AccessKeyMetadata.Member, iamKeyXML(u, k))
	}
	return res, nil
}

func (i *Service) tagUser(form url.Values) error {
	name := form.Get("UserName")
	if err := checkIAMUserName("userName", name); err != nil {
		return err
	}
	tags, err := iamFormTags(form)
	if err != nil {
		return err
	}
	if len(tags) == 0 {
		return iamValidation("1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null")
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	u, err := i.namedUser("userName", name)
	if err != nil {
		return err
	}
	c := u.clone()
	c.Tags = iamMergeTags(c.Tags, tags)
	if len(c.Tags) > iamMaxTags {
		return iamLimit(fmt.Sprintf("The number of tags has reached the maximum limit of %d.", iamMaxTags))
	}
	return i.commit(c)
}

func (i *Service) untagUser(name string, keys []string) error {
	if err := checkIAMUserName("userName", name); err != nil {
		return err
	}
	if len(keys) == 0 {
		return iamValidation("1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null")
	}
	if len(keys) > iamMaxTags {
		return iamValidation("1 validation error detected: Value at 'tagKeys' failed to satisfy constraint: Member must have length less than or equal to %d", iamMaxTags)
	}
	for _, k := range keys {
		if err := checkIAMTag(iamTag{Key: k}); err != nil {
			return err
		}
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	u, err := i.namedUser("userName", name)
	if err != nil {
		return err
	}
	c := u.clone()
	c.Tags = slices.DeleteFunc(c.Tags, func(t iamTag) bool {
		return slices.ContainsFunc(keys, func(k string) bool { return strings.EqualFold(k, t.Key) })
	})
	if len(c.Tags) == len(u.Tags) {
		return nil // removing tags a user lacks is not an error
	}
	return i.commit(c)
}

func (i *Service) listUserTags(form url.Values) (any, error) {
	i.mu.Lock()
	u, err := i.namedUser("userName", form.Get("UserName"))
	var tags []iamTag
	if err == nil {
		tags = slices.Clone(u.Tags)
	}
	i.mu.Unlock()
	if err != nil {
		return nil, err
	}
	tags, next, err := iamPage(form, tags, func(t iamTag) string { return strings.ToLower(t.Key) })
	if err != nil {
		return nil, err
	}
	return listUserTagsResult{Tags: iamTagsXML{Member: tags}, IsTruncated: next != "", Marker: next}, nil
}
