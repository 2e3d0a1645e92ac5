package wire

import (
	"encoding/json"

	"go.etcd.io/bbolt"
)

// DB is the data file services persist in, one top-level bbolt bucket per
// service. A nil *DB keeps state in memory: every write is then a no-op and
// every read finds nothing, so a service writes the same code for both.
//
// A service writes its change to the file before it changes its memory,
// so memory never holds what the file lacks.
type DB struct {
	bolt *bbolt.DB
	file string
}

// NewDB wraps an open bbolt database; file names it in errors. A nil db
// gives a nil *DB.
func NewDB(db *bbolt.DB, file string) *DB {
	if db == nil {
		return nil
	}
	return &DB{bolt: db, file: file}
}

// File is the data file's path ("" in memory).
func (d *DB) File() string {
	if d == nil {
		return ""
	}
	return d.file
}

// Update runs fn in a write transaction on the bucket at path (a
// top-level bucket and nested ones), creating the buckets that are
// missing.
func (d *DB) Update(fn func(b *bbolt.Bucket) error, path ...[]byte) error {
	return d.UpdateTx(func(tx *bbolt.Tx) error {
		b, err := Bucket(tx, path...)
		if err != nil {
			return err
		}
		return fn(b)
	})
}

// UpdateTx runs fn in one write transaction, for changes to several
// buckets at once.
func (d *DB) UpdateTx(fn func(tx *bbolt.Tx) error) error {
	if d == nil {
		return nil
	}
	return d.bolt.Update(fn)
}

// View runs fn in a read transaction on the bucket at path; fn is not
// called when the bucket does not exist. Values are valid only inside fn.
func (d *DB) View(fn func(b *bbolt.Bucket) error, path ...[]byte) error {
	if d == nil {
		return nil
	}
	return d.bolt.View(func(tx *bbolt.Tx) error {
		var b *bbolt.Bucket
		for i, name := range path {
			if i == 0 {
				b = tx.Bucket(name)
			} else {
				b = b.Bucket(name)
			}
			if b == nil {
				return nil
			}
		}
		return fn(b)
	})
}

// Bucket returns the bucket at path in tx, creating the buckets that are
// missing: the one place buckets are made.
func Bucket(tx *bbolt.Tx, path ...[]byte) (*bbolt.Bucket, error) {
	b, err := tx.CreateBucketIfNotExists(path[0])
	for _, name := range path[1:] {
		if err != nil {
			break
		}
		b, err = b.CreateBucketIfNotExists(name)
	}
	return b, err
}

// PutJSON stores v as JSON under key.
func PutJSON(b *bbolt.Bucket, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put([]byte(key), data)
}
