// Package srvtest holds what internal/mysqltest and internal/redistest share
// to run a throwaway server: an unprivileged OS user when the tests run as
// root, a directory that user owns, a free loopback port and a log tail.
//
// The contract: nothing here starts a server; ServerCredential is nil unless
// the process is root, so that a non-root run starts servers as itself;
// MakeDir's directory is under os.TempDir, mode 0755, owned by the
// credential, and the caller removes it.
package srvtest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Host is where every throwaway server listens: loopback only, as the
// servers trust nothing but their random passwords.
const Host = "127.0.0.1"

// ServerCredential is nil unless we are root; as root it is the first of
// users that exists, else "nobody", with no supplementary groups, so that a
// server never runs with root's privileges.
func ServerCredential(users ...string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	var u *user.User
	var err error
	for _, name := range append(users, "nobody") {
		if u, err = user.Lookup(name); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("running as root, and none of the OS users %v exists to run the server as: %w", append(users, "nobody"), err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("uid of %s: %w", u.Username, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("gid of %s: %w", u.Username, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

// MakeDir makes a server's directory under os.TempDir, not t.TempDir: the
// testing package makes its directories 0700 for root, where the server's
// OS user could not reach its own files.
func MakeDir(prefix string, cred *syscall.Credential) (string, error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	if cred == nil {
		return dir, nil
	}
	if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	// Fail here, clearly, rather than with the server's "permission denied".
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err == nil && fi.Mode().Perm()&0o001 == 0 {
			os.RemoveAll(dir)
			return "", fmt.Errorf("%s is not traversable by other users (mode %v), so the server's OS user (uid %d) cannot reach %s; set TMPDIR to a directory such as /tmp", p, fi.Mode().Perm(), cred.Uid, dir)
		}
		if p == filepath.Dir(p) {
			return dir, nil
		}
	}
}

// WriteOwned writes a 0600 file that cred (when not nil) owns.
func WriteOwned(path string, data []byte, cred *syscall.Credential) error {
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return err
	}
	if cred != nil {
		return os.Chown(path, int(cred.Uid), int(cred.Gid))
	}
	return nil
}

// Prepare runs cmd in dir as cred, killed with deathSig if the test binary
// dies without its cleanup, with the environment minus the variables that
// start with any of dropPrefixes (they would steer the server elsewhere).
func Prepare(cmd *exec.Cmd, dir string, cred *syscall.Credential, deathSig syscall.Signal, dropPrefixes ...string) {
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: deathSig}
	cmd.Env = []string{}
	for _, kv := range os.Environ() {
		drop := false
		for _, p := range dropPrefixes {
			drop = drop || strings.HasPrefix(kv, p)
		}
		if !drop {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "LC_ALL=C")
}

// FreePort is a TCP port on Host that was free a moment ago; the caller
// retries when a server then finds it taken.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(Host, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Accepts reports whether something accepts TCP connections at port on Host.
func Accepts(port int) bool {
	c, err := net.Dial("tcp", net.JoinHostPort(Host, strconv.Itoa(port)))
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// Tail is the last n lines of s.
func Tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// FindBinary is the first executable name in dirs, then on $PATH.
func FindBinary(name string, dirs ...string) (string, bool) {
	for _, d := range dirs {
		if d == "" {
			continue
		}
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode().Perm()&0o111 != 0 {
			return p, true
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, true
	}
	return "", false
}

// Stop signals a server started as cmd (exited closes when it has been
// waited for) and kills it if it has not exited after grace: the error
// says so.
func Stop(cmd *exec.Cmd, exited <-chan struct{}, sig os.Signal, grace time.Duration) error {
	_ = cmd.Process.Signal(sig)
	select {
	case <-exited:
		return nil
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("ignored %v for %v; killed", sig, grace)
	}
}

// ReadLogs is the files at paths one after the other (a server's output
// before it opened its log, then the log); a file not there yet is empty.
func ReadLogs(paths ...string) string {
	var b strings.Builder
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(&b, "(cannot read %s: %v)\n", filepath.Base(p), err)
		}
		b.Write(data)
	}
	return b.String()
}
