package wire

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/google/go-cmp/cmp"
	"go.etcd.io/bbolt"
)

func TestDB(t *testing.T) {
	t.Run("a nil DB writes nothing and finds nothing", func(t *testing.T) {
		var d *DB
		called := false
		if err := d.Update(func(*bbolt.Bucket) error { called = true; return nil }, []byte("b")); err != nil || called {
			t.Errorf("Update = %v, fn called %v; want nil, not called", err, called)
		}
		if err := d.View(func(*bbolt.Bucket) error { called = true; return nil }, []byte("b")); err != nil || called {
			t.Errorf("View = %v, fn called %v; want nil, not called", err, called)
		}
		if NewDB(nil, "x") != nil || d.File() != "" {
			t.Error("NewDB(nil) is not the nil DB")
		}
	})
	t.Run("Update makes the buckets of a path, View reads them", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "data.db")
		bolt, err := bbolt.Open(file, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer bolt.Close()
		d := NewDB(bolt, file)
		if d.File() != file {
			t.Errorf("File() = %q", d.File())
		}
		called := false
		if err := d.View(func(*bbolt.Bucket) error { called = true; return nil }, []byte("root"), []byte("sub")); err != nil || called {
			t.Fatalf("View of a missing bucket = %v, fn called %v", err, called)
		}
		if err := d.Update(func(b *bbolt.Bucket) error { return PutJSON(b, "k", map[string]int{"n": 1}) }, []byte("root"), []byte("sub")); err != nil {
			t.Fatal(err)
		}
		var got string
		if err := d.View(func(b *bbolt.Bucket) error { got = string(b.Get([]byte("k"))); return nil }, []byte("root"), []byte("sub")); err != nil {
			t.Fatal(err)
		}
		if got != `{"n":1}` {
			t.Errorf("stored %q", got)
		}
		failed := errors.New("no")
		if err := d.Update(func(b *bbolt.Bucket) error { _ = b.Put([]byte("k"), []byte("x")); return failed }, []byte("root"), []byte("sub")); !errors.Is(err, failed) {
			t.Fatalf("Update = %v, want fn's error", err)
		}
		_ = d.View(func(b *bbolt.Bucket) error { got = string(b.Get([]byte("k"))); return nil }, []byte("root"), []byte("sub"))
		if got != `{"n":1}` {
			t.Errorf("a failed Update changed the file: %q", got)
		}
	})
}

func TestErrors(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want Error
		api  bool
	}{
		{"a wire error keeps its code and status", &Error{Code: "NoSuchEntity", Message: "m", Status: 404}, Error{"NoSuchEntity", "m", 404}, true},
		{"a wire error without status is a 400", fmt.Errorf("op: %w", &Error{Code: "Invalid", Message: "m"}), Error{"Invalid", "m", 0}, true},
		{"an SDK error keeps its code", &snstypes.NotFoundException{Message: aws.String("gone")}, Error{"NotFound", "gone", 400}, true},
		{"anything else is a server fault", errors.New("disk full"), Error{"InternalFailure", "disk full", 500}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, api := AsError(tc.err, "InternalFailure")
			if diff := cmp.Diff(tc.want, *e); diff != "" || api != tc.api {
				t.Errorf("AsError = %+v, %v; want %+v, %v", *e, api, tc.want, tc.api)
			}
		})
	}
	t.Run("query errors: the sender's below 500, the receiver's from 500", func(t *testing.T) {
		for status, typ := range map[int]string{0: "Sender", 404: "Sender", 500: "Receiver"} {
			w := httptest.NewRecorder()
			WriteQueryError(w, "urn:x", "req-1", &Error{Code: "C", Message: "m", Status: status})
			wantStatus := status
			if status == 0 {
				wantStatus = http.StatusBadRequest
			}
			if w.Code != wantStatus || !strings.Contains(w.Body.String(), "<Type>"+typ+"</Type>") || !strings.Contains(w.Body.String(), "<RequestId>req-1</RequestId>") {
				t.Errorf("status %d: answered %d %s", status, w.Code, w.Body)
			}
		}
	})
	t.Run("JSON errors", func(t *testing.T) {
		w := httptest.NewRecorder()
		WriteJSONError(w, JSON11, &Error{Code: "ResourceNotFoundException", Message: "m"})
		if w.Code != 400 || w.Header().Get("X-Amzn-ErrorType") != "ResourceNotFoundException" || !strings.Contains(w.Body.String(), `"__type":"ResourceNotFoundException"`) {
			t.Errorf("answered %d %v %s", w.Code, w.Header(), w.Body)
		}
	})
}
