package smstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// snapshotFormat is the version of the snapshot layout.
const snapshotFormat = 1

// The snapshot types declare their fields in alphabetical order of their JSON
// names, so the JSON keys come out sorted. Secrets are sorted by name, tags by
// key, labels alphabetically; versions keep their creation order (oldest
// first), which is part of the state.
type snapshotJSON struct {
	Account string       `json:"account"`
	Format  int          `json:"format"`
	Region  string       `json:"region"`
	Secrets []secretJSON `json:"secrets"`
}

type secretJSON struct {
	ARN              string        `json:"arn"`
	CreatedDate      time.Time     `json:"createdDate"`
	DeletedDate      *time.Time    `json:"deletedDate,omitempty"`
	Description      *string       `json:"description,omitempty"`
	KmsKeyID         *string       `json:"kmsKeyId,omitempty"`
	LastAccessedDate *time.Time    `json:"lastAccessedDate,omitempty"`
	LastChangedDate  time.Time     `json:"lastChangedDate"`
	Name             string        `json:"name"`
	Tags             []tagJSON     `json:"tags"`
	Versions         []versionJSON `json:"versions"`
}

type tagJSON struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type versionJSON struct {
	CreatedDate      time.Time  `json:"createdDate"`
	LastAccessedDate *time.Time `json:"lastAccessedDate,omitempty"`
	SecretBinary     []byte     `json:"secretBinary,omitempty"`
	SecretString     *string    `json:"secretString,omitempty"`
	VersionID        string     `json:"versionId"`
	VersionStages    []string   `json:"versionStages"`
}

// Snapshot returns the whole state, secret values included, as deterministic
// JSON: equal states give equal bytes. Secrets whose deletion date has passed
// are purged first. The output is as sensitive as the secrets it holds.
func (s *Store) Snapshot() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.purge(s.clock())

	snap := snapshotJSON{Account: s.account, Format: snapshotFormat, Region: s.region, Secrets: []secretJSON{}}
	names := make([]string, 0, len(s.secrets))
	for n := range s.secrets {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		snap.Secrets = append(snap.Secrets, s.secrets[n].toJSON())
	}
	b, err := json.MarshalIndent(snap, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("smstore: snapshot: %w", err)
	}
	return append(b, '\n'), nil
}

// Load rebuilds a store from Snapshot output. Region and Account come from
// the snapshot; if o sets them they must agree with it. o.Now and o.Rand are
// used as in New. Load checks every rule the store keeps (valid names and
// ARNs, one version per label, AWSCURRENT iff the secret has versions, the
// limits) and refuses a snapshot that breaks one. Its errors name the secret
// and version at fault, never a value.
func Load(o Options, snapshot []byte) (*Store, error) {
	var snap snapshotJSON
	dec := json.NewDecoder(bytes.NewReader(snapshot))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&snap); err != nil {
		return nil, fmt.Errorf("smstore: load: not a snapshot: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("smstore: load: trailing data after the snapshot")
	}
	o, err := o.fromHeader("snapshot", snapshotFormat, snap.Format, snap.Region, snap.Account)
	if err != nil {
		return nil, err
	}
	s := New(o)
	for i, sj := range snap.Secrets {
		sec, err := s.loadSecret(sj)
		if err != nil {
			return nil, fmt.Errorf("smstore: load: secret %d (%q): %w", i, sj.Name, err)
		}
		if s.secrets[sec.name] != nil {
			return nil, fmt.Errorf("smstore: load: secret %d: duplicate name %q", i, sec.name)
		}
		s.add(sec)
	}
	clear(s.changed) // the snapshot holds what was loaded
	return s, nil
}

// fromHeader checks the format, region and account a snapshot or a
// header names, and returns o with that region and account.
func (o Options) fromHeader(what string, want, format int, region, account string) (Options, error) {
	if format != want {
		return o, fmt.Errorf("smstore: load: %s format %d, want %d", what, format, want)
	}
	if region == "" || account == "" {
		return o, fmt.Errorf("smstore: load: %s has no region or account", what)
	}
	if o.Region != "" && o.Region != region {
		return o, fmt.Errorf("smstore: load: %s is of region %q, options say %q", what, region, o.Region)
	}
	if o.Account != "" && o.Account != account {
		return o, fmt.Errorf("smstore: load: %s is of account %q, options say %q", what, account, o.Account)
	}
	o.Region, o.Account = region, account
	return o, nil
}

// toJSON is the secret as a snapshot or a record holds it.
func (sec *secret) toJSON() secretJSON {
	sj := secretJSON{
		ARN:              sec.arn,
		CreatedDate:      sec.created,
		DeletedDate:      cloneTime(sec.deleted),
		Description:      cloneStr(sec.description),
		KmsKeyID:         cloneStr(sec.kmsKeyID),
		LastAccessedDate: cloneTime(sec.lastAccessed),
		LastChangedDate:  sec.lastChanged,
		Name:             sec.name,
		Tags:             []tagJSON{},
		Versions:         []versionJSON{},
	}
	for _, t := range sec.tagList() {
		sj.Tags = append(sj.Tags, tagJSON{Key: *t.Key, Value: *t.Value})
	}
	for _, v := range sec.versions {
		sj.Versions = append(sj.Versions, versionJSON{
			CreatedDate:      v.created,
			LastAccessedDate: cloneTime(v.lastAccessed),
			SecretBinary:     slices.Clone(v.bin),
			SecretString:     cloneStr(v.str),
			VersionID:        v.id,
			VersionStages:    append([]string{}, v.stages...),
		})
	}
	return sj
}

func (s *Store) loadSecret(sj secretJSON) (*secret, error) {
	if _, err := validName(&sj.Name); err != nil {
		return nil, err
	}
	suffix, ok := strings.CutPrefix(sj.ARN, s.arnPrefix()+sj.Name+"-")
	if !ok || len(suffix) != 6 || strings.Trim(suffix, alnum) != "" {
		return nil, fmt.Errorf("ARN %q is not %sNAME-XXXXXX", sj.ARN, s.arnPrefix())
	}
	if err := validDescription(sj.Description); err != nil {
		return nil, err
	}
	if sj.KmsKeyID != nil && (*sj.KmsKeyID == "" || len(*sj.KmsKeyID) > maxKmsKeyIDLen) {
		return nil, fmt.Errorf("bad kmsKeyId")
	}
	if sj.CreatedDate.IsZero() || sj.LastChangedDate.IsZero() {
		return nil, fmt.Errorf("missing createdDate or lastChangedDate")
	}
	sec := &secret{
		name:         sj.Name,
		arn:          sj.ARN,
		description:  cloneStr(sj.Description),
		kmsKeyID:     cloneStr(sj.KmsKeyID),
		tags:         map[string]string{},
		created:      normTime(sj.CreatedDate),
		lastChanged:  normTime(sj.LastChangedDate),
		lastAccessed: normTimePtr(sj.LastAccessedDate),
		deleted:      normTimePtr(sj.DeletedDate),
	}
	for _, t := range sj.Tags {
		if _, dup := sec.tags[t.Key]; dup {
			return nil, fmt.Errorf("duplicate tag key %q", t.Key)
		}
		if err := validTags(sec.tags, tagsOf(t)); err != nil {
			return nil, err
		}
	}
	if len(sec.tags) > maxTags {
		return nil, fmt.Errorf("%d tags, at most %d allowed", len(sec.tags), maxTags)
	}
	holders := map[string]string{}
	for _, vj := range sj.Versions {
		if vj.VersionID == "" || sec.version(vj.VersionID) != nil {
			return nil, fmt.Errorf("empty or duplicate version id %q", vj.VersionID)
		}
		str, bin, err := validValue(vj.SecretString, vj.SecretBinary, true)
		if err != nil {
			return nil, fmt.Errorf("version %s: %w", vj.VersionID, err)
		}
		if vj.CreatedDate.IsZero() {
			return nil, fmt.Errorf("version %s: missing createdDate", vj.VersionID)
		}
		v := &version{id: vj.VersionID, str: str, bin: bin, created: normTime(vj.CreatedDate), lastAccessed: normTimePtr(vj.LastAccessedDate)}
		for _, l := range vj.VersionStages {
			if err := validLabel("VersionStages", l); err != nil {
				return nil, fmt.Errorf("version %s: %w", vj.VersionID, err)
			}
			if other, dup := holders[l]; dup {
				return nil, fmt.Errorf("label %s is on versions %s and %s", l, other, vj.VersionID)
			}
			holders[l] = vj.VersionID
			v.add(l)
		}
		if len(v.stages) > maxLabelsPerVersion {
			return nil, fmt.Errorf("version %s has %d labels, at most %d allowed", vj.VersionID, len(v.stages), maxLabelsPerVersion)
		}
		sec.versions = append(sec.versions, v)
	}
	if _, ok := holders[stageCurrent]; ok != (len(sec.versions) > 0) {
		return nil, fmt.Errorf("AWSCURRENT must be on a version exactly when the secret has versions")
	}
	return sec, nil
}

func tagsOf(t tagJSON) []types.Tag { return []types.Tag{{Key: ptr(t.Key), Value: ptr(t.Value)}} }

func normTimePtr(p *time.Time) *time.Time {
	if p == nil {
		return nil
	}
	return ptr(normTime(*p))
}
