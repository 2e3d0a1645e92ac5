package smstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"iter"
	"slices"
)

// Formats of what Snapshot, Header and Records write, as their "format"
// member says: a host that keeps a store in a key-value file tells by it
// whether a key holds a whole snapshot (written before records existed)
// or the header of a store kept as records.
const (
	SnapshotFormat = snapshotFormat
	RecordsFormat  = 2
)

// Record is one secret as a host keeps it: its name and its JSON (the
// secretJSON a snapshot holds for it, secret values included), or nil
// Data for a secret that no longer exists. Data is as sensitive as the
// secret.
type Record struct {
	Name string
	Data []byte
}

type headerJSON struct {
	Account string `json:"account"`
	Format  int    `json:"format"`
	Region  string `json:"region"`
}

// Format returns the "format" member of Snapshot or Header output.
func Format(data []byte) (int, error) {
	var f struct {
		Format *int `json:"format"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return 0, fmt.Errorf("smstore: not a snapshot or header: %w", err)
	}
	if f.Format == nil {
		return 0, fmt.Errorf("smstore: not a snapshot or header: no format")
	}
	return *f.Format, nil
}

// Header returns what a host keeps beside the records: the format, region
// and account. It holds no secret.
func (s *Store) Header() []byte {
	b, err := json.Marshal(headerJSON{Account: s.account, Format: RecordsFormat, Region: s.region})
	if err != nil {
		panic(err) // three strings and an int always marshal
	}
	return b
}

// Records returns a Record of every secret, sorted by name, after purging
// the secrets whose deletion date has passed: what a host writes to keep
// the whole store anew. It does not touch what Changes reports.
func (s *Store) Records() ([]Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.purge(s.clock())
	names := make([]string, 0, len(s.secrets))
	for n := range s.secrets {
		names = append(names, n)
	}
	return s.records(names)
}

// Changes returns a Record of every secret created, changed or removed
// (deleted without recovery, or purged once its deletion date passed)
// since the previous call, or since New, Load or LoadRecords, sorted by
// name, and forgets them. A host that keeps one record per secret writes
// them to stay in step with the store at the cost of what changed, not of
// the whole store. A GetSecretValue counts as a change only when it moves
// a LastAccessedDate (the first read of a version on a day).
//
// What Changes returns is gone from the store's memory of changes: a host
// that fails to write it must keep it and write it again, before what a
// later call returns (which supersedes it for the same names). A store
// whose host never calls Changes remembers one name per secret ever
// changed.
func (s *Store) Changes() ([]Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.purge(s.clock())
	if len(s.changed) == 0 {
		return nil, nil
	}
	names := make([]string, 0, len(s.changed))
	for n := range s.changed {
		names = append(names, n)
	}
	recs, err := s.records(names)
	if err != nil {
		return nil, err
	}
	clear(s.changed)
	return recs, nil
}

// records encodes the named secrets, sorted by name; a name with no
// secret gives a Record without Data. The caller holds s.mu.
func (s *Store) records(names []string) ([]Record, error) {
	slices.Sort(names)
	out := make([]Record, 0, len(names))
	for _, n := range names {
		r := Record{Name: n}
		if sec := s.secrets[n]; sec != nil {
			b, err := json.Marshal(sec.toJSON())
			if err != nil {
				return nil, fmt.Errorf("smstore: record of %q: %w", n, err)
			}
			r.Data = b
		}
		out = append(out, r)
	}
	return out, nil
}

// LoadRecords rebuilds a store from Header output and the Records a host
// kept, given as (key, Data) pairs in any order, where key is the record's
// name. The pairs are read only while records runs, so it may yield
// buffers it reuses. Region and Account, and the checks, are those of
// Load; an error names the record (the secret) at fault, never a value.
func LoadRecords(o Options, header []byte, records iter.Seq2[[]byte, []byte]) (*Store, error) {
	var h headerJSON
	dec := json.NewDecoder(bytes.NewReader(header))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return nil, fmt.Errorf("smstore: load: not a header: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("smstore: load: trailing data after the header")
	}
	o, err := o.fromHeader("header", RecordsFormat, h.Format, h.Region, h.Account)
	if err != nil {
		return nil, err
	}
	s := New(o)
	for key, data := range records {
		var sj secretJSON
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&sj); err != nil {
			return nil, fmt.Errorf("smstore: load: record %q: not a secret: %w", key, err)
		}
		if dec.More() {
			return nil, fmt.Errorf("smstore: load: record %q: trailing data after the secret", key)
		}
		if sj.Name != string(key) {
			return nil, fmt.Errorf("smstore: load: record %q holds the secret %q", key, sj.Name)
		}
		sec, err := s.loadSecret(sj)
		if err != nil {
			return nil, fmt.Errorf("smstore: load: record %q: %w", key, err)
		}
		s.add(sec) // keys are unique, so are names, and so ARNs (loadSecret checks the ARN names the secret)
	}
	clear(s.changed) // the records hold what was loaded
	return s, nil
}
