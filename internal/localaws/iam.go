package localaws

import (
	"crypto/rand"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"go.etcd.io/bbolt"

	"github.com/rotorhq/rotor/internal/localaws/wire"
)

// IAM answers the IAM query protocol (form-encoded Action=...&Version=
// 2010-05-08, XML answers, AWS's IAM error codes) for users, their access
// keys and their tags: CreateUser, GetUser, DeleteUser, ListUsers,
// CreateAccessKey, UpdateAccessKey, DeleteAccessKey, ListAccessKeys,
// TagUser, UntagUser and ListUserTags. Any other action is InvalidAction.
//
// IAM keeps AWS's rules that rotation depends on: user names are unique
// without regard to case; a user has at most two access keys, active or
// not (a third is LimitExceeded); a user with access keys cannot be deleted
// (DeleteConflict); a user has at most 50 tags, whose keys are unique
// without regard to case; unknown users and keys are NoSuchEntity, and
// malformed parameters ValidationError. Access key ids are "AKIA" and 16
// characters, secret access keys 40.
//
// IAM does not verify request signatures (no service here does, but STS,
// which verifies them against the secret access keys IAM holds): any
// credentials may call it. Where AWS takes the caller's own user when
// UserName is left out (GetUser, CreateAccessKey, UpdateAccessKey,
// DeleteAccessKey, ListAccessKeys), the caller is the user owning the
// access key id in the request's SigV4 credential; a caller whose key IAM
// does not know gets the ValidationError AWS gives non-user callers.
//
// Secret access keys are kept (STS needs them) but returned only by the
// CreateAccessKey that made them, and never logged. Users, keys and tags
// persist in bbolt bucket "iam", one JSON record per user under
// "user:<lower-case name>", when the server has a data file.
type IAM struct {
	s *Server

	mu    sync.Mutex
	users map[string]*iamUser // by lower-case name
	keys  map[string]string   // access key id -> lower-case user name
}

type iamUser struct {
	Name, ID, Path string
	Created        time.Time
	Tags           []iamTag `json:",omitempty"`
	Keys           []iamKey `json:",omitempty"` // in creation order
}

// iamTag is also the XML shape of a tag.
type iamTag struct {
	Key, Value string
}

type iamKey struct {
	ID      string
	Secret  string // never logged; answered only by CreateAccessKey
	Status  string // Active or Inactive
	Created time.Time
}

// String and GoString keep the secret out of any formatted output.
func (k iamKey) String() string {
	return fmt.Sprintf("{%s %s %s}", k.ID, k.Status, k.Created.Format(time.RFC3339))
}

func (k iamKey) GoString() string { return "iamKey" + k.String() }

// AccessKey describes an access key, without its secret.
type AccessKey struct {
	UserName    string
	AccessKeyID string
	Status      string // "Active" or "Inactive"
	Created     time.Time
}

const (
	iamXMLNS   = "https://iam.amazonaws.com/doc/2010-05-08/"
	iamVersion = "2010-05-08"
	// iamMaxKeys is AWS's quota of access keys per user.
	iamMaxKeys = 2
	// iamMaxTags is AWS's quota of tags per user.
	iamMaxTags = 50
	// iamDefaultPage is how many items a List answers without MaxItems.
	iamDefaultPage = 100
)

var iamBucket = []byte("iam")

const iamUserKey = "user:"

func newIAM(s *Server) (*IAM, error) {
	i := &IAM{s: s, users: map[string]*iamUser{}, keys: map[string]string{}}
	if s.db == nil {
		return i, nil
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(iamBucket)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			if !strings.HasPrefix(string(k), iamUserKey) {
				return nil
			}
			var u iamUser
			if err := json.Unmarshal(v, &u); err != nil {
				// Name the record, never quote it: it holds secret keys.
				return fmt.Errorf("iam: record %q is not a user", k)
			}
			i.index(&u)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("loading IAM state: %w", err)
	}
	return i, nil
}

// index puts u in memory. Call with i.mu held (or before serving).
func (i *IAM) index(u *iamUser) {
	lname := strings.ToLower(u.Name)
	if old, ok := i.users[lname]; ok {
		for _, k := range old.Keys {
			delete(i.keys, k.ID)
		}
	}
	i.users[lname] = u
	for _, k := range u.Keys {
		i.keys[k.ID] = lname
	}
}

// commit persists u (a changed copy of a user, or a new one) and then puts
// it in memory, so memory never holds what the data file lacks. Call with
// i.mu held.
func (i *IAM) commit(u *iamUser) error {
	if db := i.s.db; db != nil {
		data, err := json.Marshal(u)
		if err != nil {
			return err
		}
		if err := db.Update(func(tx *bbolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists(iamBucket)
			if err != nil {
				return err
			}
			return b.Put([]byte(iamUserKey+strings.ToLower(u.Name)), data)
		}); err != nil {
			return err
		}
	}
	i.index(u)
	return nil
}

// remove deletes a user from the data file and then from memory. Call with
// i.mu held.
func (i *IAM) remove(u *iamUser) error {
	lname := strings.ToLower(u.Name)
	if db := i.s.db; db != nil {
		if err := db.Update(func(tx *bbolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists(iamBucket)
			if err != nil {
				return err
			}
			return b.Delete([]byte(iamUserKey + lname))
		}); err != nil {
			return err
		}
	}
	for _, k := range u.Keys {
		delete(i.keys, k.ID)
	}
	delete(i.users, lname)
	return nil
}

func (u *iamUser) clone() *iamUser {
	c := *u
	c.Tags = slices.Clone(u.Tags)
	c.Keys = slices.Clone(u.Keys)
	return &c
}

func (i *IAM) arn(u *iamUser) string {
	return fmt.Sprintf("arn:aws:iam::%s:user%s%s", i.s.opts.Account, u.Path, u.Name)
}

// AccessKey looks an access key up by id: its user and status, never its
// secret.
func (i *IAM) AccessKey(id string) (AccessKey, bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	u, k, ok := i.key(id)
	if !ok {
		return AccessKey{}, false
	}
	return AccessKey{UserName: u.Name, AccessKeyID: k.ID, Status: k.Status, Created: k.Created}, true
}

// AccessKeys lists a user's access keys, oldest first, without their
// secrets; nil when the user does not exist.
func (i *IAM) AccessKeys(userName string) []AccessKey {
	i.mu.Lock()
	defer i.mu.Unlock()
	u, ok := i.users[strings.ToLower(userName)]
	if !ok {
		return nil
	}
	out := make([]AccessKey, 0, len(u.Keys))
	for _, k := range u.Keys {
		out = append(out, AccessKey{UserName: u.Name, AccessKeyID: k.ID, Status: k.Status, Created: k.Created})
	}
	return out
}

// key finds an access key and its user. Call with i.mu held.
func (i *IAM) key(id string) (*iamUser, iamKey, bool) {
	u, ok := i.users[i.keys[id]]
	if !ok {
		return nil, iamKey{}, false
	}
	for _, k := range u.Keys {
		if k.ID == id {
			return u, k, true
		}
	}
	return nil, iamKey{}, false
}

// iamCaller is who STS found a request to come from.
type iamCaller struct {
	UserName, UserID, ARN string
}

// authenticate returns the user owning an active access key and that key's
// secret, for STS. Unknown and inactive keys are not found.
func (i *IAM) authenticate(id string) (iamCaller, string, bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	u, k, ok := i.key(id)
	if !ok || k.Status != "Active" {
		return iamCaller{}, "", false
	}
	return iamCaller{UserName: u.Name, UserID: u.ID, ARN: i.arn(u)}, k.Secret, true
}

// Errors, with AWS's codes, messages and statuses.

func iamValidation(format string, args ...any) error {
	return &wire.Error{Code: "ValidationError", Message: fmt.Sprintf(format, args...), Status: http.StatusBadRequest}
}

func iamInvalidInput(format string, args ...any) error {
	return &wire.Error{Code: "InvalidInput", Message: fmt.Sprintf(format, args...), Status: http.StatusBadRequest}
}

func iamNoSuchUser(name string) error {
	return &wire.Error{Code: "NoSuchEntity", Message: fmt.Sprintf("The user with name %s cannot be found.", name), Status: http.StatusNotFound}
}

func iamNoSuchKey(id string) error {
	return &wire.Error{Code: "NoSuchEntity", Message: fmt.Sprintf("The Access Key with id %s cannot be found.", id), Status: http.StatusNotFound}
}

func iamLimit(msg string) error {
	return &wire.Error{Code: "LimitExceeded", Message: msg, Status: http.StatusConflict}
}

// Parameter rules (the IAM API reference's patterns and lengths).
var (
	iamUserNameRE  = regexp.MustCompile(`^[\w+=,.@-]+$`)
	iamPathRE      = regexp.MustCompile(`^/([\x21-\x7E]*/)?$`)
	iamKeyIDRE     = regexp.MustCompile(`^\w+$`)
	iamTagKeyRE    = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$`)
	iamTagValueRE  = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
	iamNonUserCred = "Must specify userName when calling with non-User credentials"
)

func checkIAMUserName(member, name string) error {
	switch {
	case name == "":
		return iamValidation("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", member)
	case len(name) > 64:
		return iamValidation("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must have length less than or equal to 64", name, member)
	case !iamUserNameRE.MatchString(name):
		return iamValidation(`1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+`, name, member)
	}
	return nil
}

func checkIAMKeyID(id string) error {
	switch {
	case id == "":
		return iamValidation("1 validation error detected: Value null at 'accessKeyId' failed to satisfy constraint: Member must not be null")
	case len(id) < 16 || len(id) > 128 || !iamKeyIDRE.MatchString(id):
		return iamValidation(`1 validation error detected: Value '%s' at 'accessKeyId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w]+ and have length between 16 and 128`, id)
	}
	return nil
}

func checkIAMTag(t iamTag) error {
	switch {
	case t.Key == "" || utf8.RuneCountInString(t.Key) > 128 || !iamTagKeyRE.MatchString(t.Key):
		return iamValidation(`1 validation error detected: Value '%s' at 'tags.member.key' failed to satisfy constraint: Member must satisfy regular expression pattern: [\p{L}\p{Z}\p{N}_.:/=+\-@]+ and have length between 1 and 128`, t.Key)
	case utf8.RuneCountInString(t.Value) > 256 || !iamTagValueRE.MatchString(t.Value):
		return iamValidation(`1 validation error detected: Value at 'tags.member.value' failed to satisfy constraint: Member must satisfy regular expression pattern: [\p{L}\p{Z}\p{N}_.:/=+\-@]* and have length less than or equal to 256`)
	case strings.HasPrefix(strings.ToLower(t.Key), "aws:"):
		return iamInvalidInput("Tag keys starting with 'aws:' are reserved for AWS use.")
	}
	return nil
}

// iamFormTags reads Tags.member.N.Key/Value, refusing bad and duplicate keys.
func iamFormTags(form url.Values) ([]iamTag, error) {
	var tags []iamTag
	seen := map[string]bool{}
	for n := 1; ; n++ {
		p := "Tags.member." + strconv.Itoa(n) + "."
		k, ok := form[p+"Key"]
		if !ok {
			return tags, nil
		}
		t := iamTag{Key: k[0], Value: form.Get(p + "Value")}
		if err := checkIAMTag(t); err != nil {
			return nil, err
		}
		if seen[strings.ToLower(t.Key)] {
			return nil, iamInvalidInput("Duplicate tag keys found. Please note that Tag keys are case insensitive.")
		}
		seen[strings.ToLower(t.Key)] = true
		tags = append(tags, t)
	}
}

// iamMergeTags sets tags on existing ones; keys match without regard to case,
// and a tag set again takes the new key's case.
func iamMergeTags(existing, tags []iamTag) []iamTag {
	for _, t := range tags {
		i := slices.IndexFunc(existing, func(e iamTag) bool { return strings.EqualFold(e.Key, t.Key) })
		if i >= 0 {
			existing[i] = t
		} else {
			existing = append(existing, t)
		}
	}
	return existing
}

// iamPage returns the items after marker (the key of the last item of the
// previous page, "" for the first page), at most MaxItems of them, and the
// marker of the next page ("" on the last).
func iamPage[T any](form url.Values, items []T, key func(T) string) ([]T, string, error) {
	max := iamDefaultPage
	if v := form.Get("MaxItems"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return nil, "", iamValidation("1 validation error detected: Value '%s' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000", v)
		}
		max = n
	}
	if m := form.Get("Marker"); m != "" {
		i := slices.IndexFunc(items, func(t T) bool { return key(t) == m })
		if i < 0 {
			return nil, "", iamValidation("Invalid Marker.")
		}
		items = items[i+1:]
	}
	if len(items) > max {
		return items[:max], key(items[max-1]), nil
	}
	return items, "", nil
}

const (
	iamIDChars     = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	iamKeyIDChars  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" // AWS key ids are base32
	iamSecretChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)

// iamRandom draws n characters of alphabet (at most 256 long) from
// crypto/rand, rejecting bytes past the last multiple of its length so
// every character is equally likely.
func iamRandom(alphabet string, n int) string {
	limit := 256 - 256%len(alphabet)
	out := make([]byte, 0, n)
	buf := make([]byte, 2*n)
	for len(out) < n {
		_, _ = rand.Read(buf) // never fails (crypto/rand documents it)
		for _, x := range buf {
			if int(x) < limit && len(out) < n {
				out = append(out, alphabet[int(x)%len(alphabet)])
			}
		}
	}
	return string(out)
}

func (i *IAM) now() time.Time { return i.s.opts.Now().UTC().Truncate(time.Second) }

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

func (i *IAM) userXML(u *iamUser, withTags bool) iamUserXML {
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
func (i *IAM) Serve(w http.ResponseWriter, r *http.Request, op string, body []byte) {
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
			i.s.opts.Log.Error("iam", "operation", op, "error", err)
			ae = &wire.Error{Code: "ServiceFailure", Message: "the rotor local endpoint could not store the change", Status: http.StatusInternalServerError}
		}
		wire.WriteQueryError(w, iamXMLNS, requestID, ae)
		return
	}
	wire.WriteQueryResult(w, iamXMLNS, op, requestID, result)
}

// writeError answers a fault or a throttling refusal in IAM's protocol.
func (i *IAM) WriteError(w http.ResponseWriter, code, message string, status int) {
	if code == "ThrottlingException" {
		code = "Throttling" // IAM's name for it
	}
	wire.WriteQueryError(w, iamXMLNS, "", &wire.Error{Code: code, Message: message, Status: status})
}

func (i *IAM) do(r *http.Request, op string, form url.Values) (any, error) {
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
	return nil, &wire.Error{Code: "InvalidAction", Message: fmt.Sprintf("The action %s is not valid for this web service (rotor local endpoint).", op)}
}

// user finds the user named name or, when name is "", the user whose
// access key signed r (IAM's rule for operations whose UserName is
// optional). Call with i.mu held.
func (i *IAM) user(r *http.Request, name string) (*iamUser, error) {
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
func (i *IAM) namedUser(member, name string) (*iamUser, error) {
	if err := checkIAMUserName(member, name); err != nil {
		return nil, err
	}
	u, ok := i.users[strings.ToLower(name)]
	if !ok {
		return nil, iamNoSuchUser(name)
	}
	return u, nil
}

func (i *IAM) createUser(form url.Values) (any, error) {
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

func (i *IAM) deleteUser(name string) error {
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

func (i *IAM) listUsers(form url.Values) (any, error) {
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

func (i *IAM) createAccessKey(r *http.Request, name string) (any, error) {
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
func (i *IAM) userKey(r *http.Request, name, id string) (*iamUser, int, error) {
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

func (i *IAM) updateAccessKey(r *http.Request, name, id, status string) error {
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

func (i *IAM) deleteAccessKey(r *http.Request, name, id string) error {
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

func (i *IAM) listAccessKeys(r *http.Request, form url.Values) (any, error) {
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

func (i *IAM) tagUser(form url.Values) error {
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

func (i *IAM) untagUser(name string, keys []string) error {
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

func (i *IAM) listUserTags(form url.Values) (any, error) {
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
