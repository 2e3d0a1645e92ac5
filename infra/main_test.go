package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestEnsureBootstraps(t *testing.T) {
	root := t.TempDir()
	write := func(path string, mtime time.Time) {
		t.Helper()
		full := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(path), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(full, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-time.Hour)
	write("go.mod", old)
	write("internal/rotation/steps.go", old)
	write("internal/rotation/steps_test.go", time.Now()) // tests are not in the binary
	var why string
	build := func(w string) error { why = w; return nil }

	check := func(want string) {
		t.Helper()
		why = ""
		if err := ensureBootstraps(root, build); err != nil {
			t.Fatal(err)
		}
		if why != want {
			t.Errorf("build reason %q, want %q", why, want)
		}
	}
	check("missing dist/resolve/bootstrap")
	for _, fn := range functions {
		write(filepath.Join("dist", fn, "bootstrap"), old.Add(time.Minute))
	}
	check("")
	write("statemachine/rotation.asl.json", time.Now())
	check("statemachine/rotation.asl.json changed since the last build")
}
