package rotorlocal

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rotorhq/rotor/internal/redistest"
)

// redisKit is a Redis server whose rotor clients go through a recording
// proxy. MONITOR leaves administrative commands (ACL SETUSER among them)
// out, so its server log is MONITOR's lines plus every command rotor sent
// on the wire except the logins themselves (AUTH, HELLO ... AUTH), which
// carry a password by necessity: no other command may.
type redisKit struct {
	srv   *redistest.Server
	mon   *redistest.Monitor
	proxy *redistest.Proxy

	once sync.Once
	log  string
}

func newRedisKit(t testing.TB) dbKit {
	srv := redistest.Start(t, redistest.Options{})
	return &redisKit{srv: srv, mon: srv.Monitor(t), proxy: srv.Proxy(t)}
}

func (k *redisKit) name() string { return "redis" }

func (k *redisKit) value(user, password string, extra map[string]any) string {
	doc := map[string]any{"host": k.proxy.Host, "port": k.proxy.Port, "username": user, "password": password, "tls": "disable"}
	for f, v := range extra {
		doc[f] = v
	}
	b, _ := json.Marshal(doc)
	return string(b)
}

// newMaster: the ACL rules the README gives a master (and a master that
// rotates itself).
func (k *redisKit) newMaster(t testing.TB, user, password string) {
	k.srv.Do(t, "ACL", "SETUSER", user, "on", ">"+password, "+acl|getuser", "+acl|setuser", "+acl|dryrun", "+client|kill", "+acl|whoami", "+ping")
}

func (k *redisKit) newUser(t testing.TB, user, password string) {
	k.srv.Do(t, "ACL", "SETUSER", user, "on", ">"+password, "~*", "+get", "+ping", "+acl|whoami")
}

func (k *redisKit) login(user, password string) bool {
	c := k.srv.ClientAs(user, password)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.Ping(ctx).Err() == nil
}

func (k *redisKit) serverLog(t testing.TB) string {
	k.once.Do(func() {
		var b strings.Builder
		for _, l := range k.mon.Stop(t) {
			b.WriteString(l + "\n")
		}
		for _, raw := range k.proxy.Close() {
			cmds, err := redistest.Commands(raw)
			if err != nil {
				t.Errorf("the proxy's record does not parse: %v", err)
			}
			for _, c := range cmds {
				if len(c) > 0 && (strings.EqualFold(c[0], "auth") || strings.EqualFold(c[0], "hello")) {
					continue
				}
				b.WriteString(strings.Join(c, " ") + "\n")
			}
		}
		k.log = b.String()
		if !strings.Contains(strings.ToLower(k.log), "acl setuser") {
			t.Error("the proxy recorded no ACL SETUSER: the capture missed rotor's commands")
		}
	})
	return k.log
}

type redisPool struct {
	*redis.Client
	counter
}

// pool: go-redis asks for credentials at each new connection, retires
// connections after lifetime, and retries a command whose connection was
// dropped (its default MaxRetries), which expire's CLIENT KILL USER does.
func (k *redisKit) pool(t testing.TB, size int, lifetime time.Duration, current func() dbCreds) kitPool {
	p := &redisPool{}
	p.Client = redis.NewClient(&redis.Options{Addr: k.srv.Addr(), PoolSize: size, ConnMaxLifetime: lifetime, Protocol: 2,
		CredentialsProvider: func() (string, string) {
			c := current()
			p.add(c.Username)
			return c.Username, c.Password
		}})
	return p
}

func (p *redisPool) query(ctx context.Context) error { return p.Ping(ctx).Err() }

func (p *redisPool) close() { p.Close() }
