package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestLocalServeAllowHost: --allow-host lets requests for a tunnel's name
// through; other names are still refused, and a malformed value is an
// error naming it.
func TestLocalServeAllowHost(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	var errOut bytes.Buffer // read once run has returned
	done := make(chan int)
	go func() {
		defer pw.Close()
		done <- run(ctx, []string{"local", "serve", "--addr", "127.0.0.1:0", "--data", "", "--allow-host", "tunnel.example.net"},
			&IOStreams{In: strings.NewReader(""), Out: pw, ErrOut: &errOut})
	}()
	urlRE := regexp.MustCompile(`rotor local endpoint on (http://\S+)`)
	var endpoint string
	lines := bufio.NewScanner(pr)
	for endpoint == "" && lines.Scan() {
		if m := urlRE.FindStringSubmatch(lines.Text()); m != nil {
			endpoint = m[1]
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if endpoint == "" {
		cancel()
		t.Fatalf("rotor local serve did not come up: exit %d\n%s", <-done, errOut.String())
	}
	for _, tc := range []struct {
		host string
		want int
	}{
		{"tunnel.example.net", http.StatusOK},
		{"TUNNEL.example.net:443", http.StatusOK},
		{"other.example.net", http.StatusForbidden},
	} {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, endpoint+"/_rotor/health", nil)
		req.Host = tc.host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("Host %s: status %d, want %d", tc.host, resp.StatusCode, tc.want)
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit %d after an interrupt\n%s", code, errOut.String())
	}

	code, _, stderr := cli(t, "local", "serve", "--addr", "127.0.0.1:0", "--data", "", "--allow-host", "https://tunnel.example.net")
	if code == 0 || !strings.Contains(stderr, `allowed host "https://tunnel.example.net"`) {
		t.Errorf("a URL as --allow-host: exit %d, stderr %q; want an error naming it", code, stderr)
	}
}

// TestLocalServeLambdaRouteErrors: a malformed or repeated --lambda is a
// usage error naming it, given before anything starts: no data file is
// created.
func TestLocalServeLambdaRouteErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		routes []string
		want   string
	}{
		{"no URL", []string{"rotor-create"}, `--lambda "rotor-create": want NAME=URL`},
		{"no name", []string{"=http://127.0.0.1:9001"}, `--lambda "=http://127.0.0.1:9001": want NAME=URL`},
		{"not HTTP", []string{"rotor-create=ftp://127.0.0.1:9001"}, `--lambda "rotor-create=ftp://127.0.0.1:9001": want NAME=URL`},
		{"routed twice", []string{"rotor-create=http://127.0.0.1:9001", "rotor-create=http://127.0.0.1:9002"},
			`--lambda "rotor-create=http://127.0.0.1:9002": function rotor-create is routed twice`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "local.db")
			args := []string{"local", "serve", "--addr", "127.0.0.1:0", "--data", data}
			for _, r := range tc.routes {
				args = append(args, "--lambda", r)
			}
			code, _, stderr := cli(t, args...)
			if code != exitUsage || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want %d naming %s", code, stderr, exitUsage, tc.want)
			}
			if _, err := os.Stat(data); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("the data file was created (%v): a usage error must change nothing", err)
			}
		})
	}
}

// TestLocalServeTemplateAndIAMErrors: a bad --iam, a missing template and a
// template that cannot load are refused with an error naming what is
// wrong, before the data file is created.
func TestLocalServeTemplateAndIAMErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.template.json")
	if err := os.WriteFile(bad, []byte(`{"Resources":{"Fn":{"Type":"AWS::Lambda::Function","Properties":{"Role":{"Fn::ImportValue":"shared-role"}}}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"iam neither on nor off", []string{"--iam", "maybe"}, exitUsage, `--iam "maybe": want on or off`},
		{"no such template", []string{"--template", filepath.Join(dir, "missing.json")}, exitUsage, "--template: open"},
		{"a template that cannot load", []string{"--template", bad}, exitFailed, "Fn::ImportValue is not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "local.db")
			code, _, stderr := cli(t, append([]string{"local", "serve", "--addr", "127.0.0.1:0", "--data", data}, tc.args...)...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want %d naming %s", code, stderr, tc.code, tc.want)
			}
			if _, err := os.Stat(data); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("the data file was created (%v): a refused start must change nothing", err)
			}
		})
	}
}
