package rotorlocal

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"time"

	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/rotorhq/rotor/internal/mysqltest"
)

// mysqlKit is a MariaDB server with its general query log on.
type mysqlKit struct{ srv *mysqltest.Server }

func newMySQLKit(t testing.TB) dbKit { return &mysqlKit{srv: mysqltest.Start(t, mysqltest.Options{})} }

func (k *mysqlKit) name() string { return "mysql" }

func (k *mysqlKit) value(user, password string, extra map[string]any) string {
	doc := map[string]any{"engine": "mariadb", "host": k.srv.Host, "port": k.srv.Port, "username": user,
		"password": password, "tls": "disable"}
	for f, v := range extra {
		doc[f] = v
	}
	b, _ := json.Marshal(doc)
	return string(b)
}

// newMaster: the grants the README gives a master of every strategy on
// MariaDB 10.11 (the consumers' accounts of these tests hold no
// privilege, so there is none to pass on with GRANT OPTION).
func (k *mysqlKit) newMaster(t testing.TB, user, password string) {
	k.srv.Exec(t, "CREATE USER '"+user+"'@'%' IDENTIFIED BY '"+password+"'")
	k.srv.Exec(t, "GRANT CREATE USER, PROCESS, CONNECTION ADMIN ON *.* TO '"+user+"'@'%'")
	k.srv.Exec(t, "GRANT SELECT ON mysql.* TO '"+user+"'@'%'")
}

func (k *mysqlKit) newUser(t testing.TB, user, password string) {
	k.srv.Exec(t, "CREATE USER '"+user+"'@'%' IDENTIFIED BY '"+password+"'")
}

func (k *mysqlKit) login(user, password string) bool {
	db, err := sql.Open("mysql", k.srv.DSN(user, password, ""))
	if err != nil {
		return false
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var n int
	return db.QueryRowContext(ctx, "SELECT 1").Scan(&n) == nil && n == 1
}

func (k *mysqlKit) serverLog(testing.TB) string { return k.srv.GeneralLog() }

// mysqlConnector opens each connection with the secret current at that
// moment, as a consumer's database/sql pool should.
type mysqlConnector struct {
	k       *mysqlKit
	current func() dbCreds
	*counter
}

func (c *mysqlConnector) Connect(ctx context.Context) (driver.Conn, error) {
	cr := c.current()
	c.add(cr.Username)
	cfg, err := mysql.ParseDSN(c.k.srv.DSN(cr.Username, cr.Password, ""))
	if err != nil {
		return nil, err
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	return conn.Connect(ctx)
}

func (c *mysqlConnector) Driver() driver.Driver { return &mysql.MySQLDriver{} }

type mysqlPool struct {
	*sql.DB
	*counter
}

func (k *mysqlKit) pool(t testing.TB, size int, lifetime time.Duration, current func() dbCreds) kitPool {
	cnt := &counter{}
	db := sql.OpenDB(&mysqlConnector{k: k, current: current, counter: cnt})
	db.SetMaxOpenConns(size)
	db.SetConnMaxLifetime(lifetime)
	return &mysqlPool{DB: db, counter: cnt}
}

func (p *mysqlPool) query(ctx context.Context) error {
	var n int
	return p.QueryRowContext(ctx, "SELECT 1").Scan(&n)
}

func (p *mysqlPool) close() { p.Close() }
