package iam

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"go.etcd.io/bbolt"

	"github.com/rotorhq/rotor/internal/localaws/wire"
)

// Service is the local IAM (see the package comment).
type Service struct {
	env wire.Env

	mu    sync.Mutex
	users map[string]*iamUser // by lower-case name
	keys  map[string]string   // access key id -> lower-case user name

	// Roles are read on every request under Options.EnforceIAM, hence a
	// lock of their own, and one that readers share.
	rmu        sync.RWMutex
	roles      map[string]*iamRole // by lower-case name
	rolesByARN map[string]*iamRole
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

// New builds the service, loading its users from env.DB.
func New(env wire.Env) (*Service, error) {
	i := &Service{env: env, users: map[string]*iamUser{}, keys: map[string]string{},
		roles: map[string]*iamRole{}, rolesByARN: map[string]*iamRole{}}
	err := env.DB.View(func(b *bbolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			if strings.HasPrefix(string(k), iamRoleKey) {
				var r iamRole
				if err := json.Unmarshal(v, &r); err != nil {
					return fmt.Errorf("iam: record %q is not a role: %w", k, err)
				}
				if err := i.compileRole(&r); err != nil {
					return fmt.Errorf("iam: record %q: %w", k, err)
				}
				i.indexRole(&r)
				return nil
			}
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
	}, iamBucket)
	if err != nil {
		return nil, fmt.Errorf("loading IAM state: %w", err)
	}
	return i, nil
}

// index puts u in memory. Call with i.mu held (or before serving).
func (i *Service) index(u *iamUser) {
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
func (i *Service) commit(u *iamUser) error {
	data, err := json.Marshal(u)
	if err != nil {
		return err
	}
	key := []byte(iamUserKey + strings.ToLower(u.Name))
	if err := i.env.DB.Update(func(b *bbolt.Bucket) error { return b.Put(key, data) }, iamBucket); err != nil {
		return err
	}
	i.index(u)
	return nil
}

// remove deletes a user from the data file and then from memory. Call with
// i.mu held.
func (i *Service) remove(u *iamUser) error {
	lname := strings.ToLower(u.Name)
	if err := i.env.DB.Update(func(b *bbolt.Bucket) error { return b.Delete([]byte(iamUserKey + lname)) }, iamBucket); err != nil {
		return err
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

func (i *Service) arn(u *iamUser) string {
	return fmt.Sprintf("arn:aws:iam::%s:user%s%s", i.env.Account, u.Path, u.Name)
}

// AccessKey looks an access key up by id: its user and status, never its
// secret.
func (i *Service) AccessKey(id string) (AccessKey, bool) {
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
func (i *Service) AccessKeys(userName string) []AccessKey {
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
func (i *Service) key(id string) (*iamUser, iamKey, bool) {
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

// keyOwner returns the user owning an access key (active or not), as a
// Principal, with the key's secret and status: what STS verifies
// signatures with. The secret goes nowhere else.
func (i *Service) keyOwner(id string) (Principal, string, string, bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	u, k, ok := i.key(id)
	if !ok {
		return Principal{}, "", "", false
	}
	arn := i.arn(u)
	return Principal{Kind: User, ARN: arn, UserID: u.ID, PrincipalARN: arn, Account: i.env.Account}, k.Secret, k.Status, true
}

func (i *Service) now() time.Time { return i.env.Now().UTC().Truncate(time.Second) }
