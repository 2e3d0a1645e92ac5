package mysql

import (
	"fmt"
	"slices"
	"strings"
)

// This file reads what SHOW GRANTS and SHOW CREATE USER print, so that the
// alternating strategy can give the clone exactly the base user's
// privileges and account settings, and Create can check that the master
// may grant them. Only the statements MariaDB 10.11 and MySQL 8 print are
// understood; anything else is refused by name, never guessed at. The
// lines may carry the account's password hash (MariaDB's IDENTIFIED BY
// PASSWORD '...'), so no error here ever quotes a whole line: only the part
// before the grantee, which names privileges and objects.

type tokKind int

const (
	tWord   tokKind = iota // an unquoted keyword or name
	tIdent                 // `quoted identifier`
	tString                // 'string' or "string"
	tPunct                 // one of @ . , ( ) * =
)

type token struct {
	kind       tokKind
	val        string // unquoted; keywords as written
	start, end int    // byte offsets in the statement
}

func (t token) is(word string) bool { return t.kind == tWord && strings.EqualFold(t.val, word) }

// tokenize splits a statement the server printed.
func tokenize(s string) ([]token, error) {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '`' || c == '\'' || c == '"':
			kind := tIdent
			if c != '`' {
				kind = tString
			}
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(s) {
					return nil, fmt.Errorf("unterminated quote at byte %d", i)
				}
				if s[j] == '\\' && c != '`' && j+1 < len(s) {
					b.WriteByte(s[j+1])
					j += 2
					continue
				}
				if s[j] == c {
					if j+1 < len(s) && s[j+1] == c {
						b.WriteByte(c)
						j += 2
						continue
					}
					break
				}
				b.WriteByte(s[j])
				j++
			}
			out = append(out, token{kind: kind, val: b.String(), start: i, end: j + 1})
			i = j + 1
		case isWordByte(c):
			j := i
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			out = append(out, token{kind: tWord, val: s[i:j], start: i, end: j})
			i = j
		case strings.IndexByte("@.,()*=", c) >= 0:
			out = append(out, token{kind: tPunct, val: s[i : i+1], start: i, end: i + 1})
			i++
		default:
			return nil, fmt.Errorf("unexpected character at byte %d", i)
		}
	}
	return out, nil
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '$' || c >= 0x80
}

// account is a user@host pair, unquoted; a role has no host.
type account struct {
	user, host string
	role       bool
}

// quoteIdent quotes a name as a backtick identifier, which means the same
// under every sql_mode (backslashes are not escapes there, ANSI_QUOTES does
// not apply).
func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

func (a account) quoted() string {
	if a.role {
		return quoteIdent(a.user)
	}
	return quoteIdent(a.user) + "@" + quoteIdent(a.host)
}

func (a account) String() string {
	if a.role {
		return a.user
	}
	return "'" + a.user + "'@'" + a.host + "'"
}

type lineKind int

const (
	linePriv        lineKind = iota // GRANT privileges ON level TO grantee
	lineProxy                       // GRANT PROXY ON account TO grantee
	lineRole                        // GRANT role TO grantee
	lineDefaultRole                 // SET DEFAULT ROLE role FOR grantee (MariaDB)
	lineRevoke                      // REVOKE privileges ON level FROM grantee (MySQL partial revokes)
)

// privilege is one entry of a privilege list: "SELECT", "CREATE USER",
// "ALL PRIVILEGES", with columns for column privileges.
type privilege struct {
	name string
	cols []string
}

// level is what a privilege applies to: db "*" is global, table "*" a
// whole database; objType is "", PROCEDURE, FUNCTION or PACKAGE [BODY].
type level struct {
	objType, db, table string
}

// grantLine is one parsed line of SHOW GRANTS.
type grantLine struct {
	kind    lineKind
	grantee account
	// head is the line up to the grantee ("GRANT SELECT ON `shop`.* TO "):
	// privileges and objects, never a hash.
	head                     string
	grantOption, adminOption bool
	privsText, levelText     string // as printed, for REVOKE
	privs                    []privilege
	level                    level
	role                     string // the role's text, for role and default-role lines
}

// parseGrant parses one line of SHOW GRANTS.
func parseGrant(line string) (grantLine, error) {
	var g grantLine
	toks, err := tokenize(line)
	if err != nil {
		return g, err
	}
	var marker string // the keyword the grantee follows
	switch {
	case len(toks) > 0 && toks[0].is("GRANT"):
		marker = "TO"
	case len(toks) > 0 && toks[0].is("REVOKE"):
		marker, g.kind = "FROM", lineRevoke
	case len(toks) > 3 && toks[0].is("SET") && toks[1].is("DEFAULT") && toks[2].is("ROLE"):
		marker, g.kind = "FOR", lineDefaultRole
	default:
		return g, fmt.Errorf("not a GRANT, REVOKE or SET DEFAULT ROLE statement")
	}
	at := -1
	on := -1
	depth := 0
	for i, t := range toks {
		switch {
		case t.kind == tPunct && t.val == "(":
			depth++
		case t.kind == tPunct && t.val == ")":
			depth--
		case depth == 0 && on < 0 && t.is("ON") && g.kind != lineDefaultRole:
			on = i
		case depth == 0 && t.is(marker):
			at = i
		}
		if at >= 0 {
			break
		}
	}
	if at < 1 || at+1 >= len(toks) {
		return g, fmt.Errorf("no grantee after %s", marker)
	}
	g.head = line[:toks[at+1].start]
	grantee, next, err := parseAccount(toks, at+1)
	if err != nil {
		return g, err
	}
	g.grantee = grantee
	for i := next; i+1 < len(toks); i++ {
		switch {
		case toks[i].is("GRANT") && toks[i+1].is("OPTION"):
			g.grantOption = true
		case toks[i].is("ADMIN") && toks[i+1].is("OPTION"):
			g.adminOption = true
		}
	}
	if g.kind == lineDefaultRole {
		if at < 4 {
			return g, fmt.Errorf("no role")
		}
		g.role = line[toks[3].start:toks[at-1].end]
		return g, nil
	}
	if on < 0 {
		if g.kind == lineRevoke {
			return g, fmt.Errorf("a REVOKE without ON")
		}
		if at < 2 {
			return g, fmt.Errorf("no role")
		}
		g.kind = lineRole
		g.role = line[toks[1].start:toks[at-1].end]
		return g, nil
	}
	if on < 2 || on+1 >= at {
		return g, fmt.Errorf("no privileges or no level")
	}
	g.privsText = line[toks[1].start:toks[on-1].end]
	g.levelText = line[toks[on+1].start:toks[at-1].end]
	if g.privs, err = parsePrivileges(toks[1:on]); err != nil {
		return g, err
	}
	if len(g.privs) == 1 && g.privs[0].name == "PROXY" {
		if g.kind == lineRevoke {
			return g, fmt.Errorf("a REVOKE PROXY")
		}
		g.kind = lineProxy
		return g, nil
	}
	if g.level, err = parseLevel(toks[on+1 : at]); err != nil {
		return g, err
	}
	return g, nil
}

// parseAccount reads user@host (or a bare role name) at toks[i].
func parseAccount(toks []token, i int) (account, int, error) {
	name := func(t token) bool { return t.kind == tIdent || t.kind == tString || t.kind == tWord }
	if i >= len(toks) || !name(toks[i]) {
		return account{}, i, fmt.Errorf("no account name")
	}
	if i+2 < len(toks) && toks[i+1].kind == tPunct && toks[i+1].val == "@" && name(toks[i+2]) {
		return account{user: toks[i].val, host: toks[i+2].val}, i + 3, nil
	}
	return account{user: toks[i].val, role: true}, i + 1, nil
}

func parsePrivileges(toks []token) ([]privilege, error) {
	var out []privilege
	var cur privilege
	var words []string
	inCols := false
	flush := func() error {
		if len(words) == 0 {
			return fmt.Errorf("an empty privilege")
		}
		cur.name = strings.ToUpper(strings.Join(words, " "))
		out = append(out, cur)
		cur, words = privilege{}, nil
		return nil
	}
	for _, t := range toks {
		switch {
		case inCols && t.kind == tPunct && t.val == ")":
			inCols = false
		case inCols && t.kind == tPunct && t.val == ",":
		case inCols && (t.kind == tIdent || t.kind == tWord):
			cur.cols = append(cur.cols, t.val)
		case inCols:
			return nil, fmt.Errorf("unexpected text in a column list")
		case t.kind == tPunct && t.val == "(":
			inCols = true
		case t.kind == tPunct && t.val == ",":
			if err := flush(); err != nil {
				return nil, err
			}
		case t.kind == tWord:
			words = append(words, t.val)
		default:
			return nil, fmt.Errorf("unexpected text in a privilege list")
		}
	}
	if inCols {
		return nil, fmt.Errorf("unterminated column list")
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}

func parseLevel(toks []token) (level, error) {
	var l level
	i := 0
	for i < len(toks) && toks[i].kind == tWord && (toks[i].is("PROCEDURE") || toks[i].is("FUNCTION") || toks[i].is("PACKAGE") || toks[i].is("BODY")) {
		l.objType = strings.TrimSpace(l.objType + " " + strings.ToUpper(toks[i].val))
		i++
	}
	part := func(t token) (string, bool) {
		switch {
		case t.kind == tPunct && t.val == "*":
			return "*", true
		case t.kind == tIdent || t.kind == tWord:
			return t.val, true
		}
		return "", false
	}
	rest := toks[i:]
	if len(rest) != 3 || rest[1].kind != tPunct || rest[1].val != "." {
		return l, fmt.Errorf("a privilege level other than db.object")
	}
	var ok1, ok2 bool
	l.db, ok1 = part(rest[0])
	l.table, ok2 = part(rest[2])
	if !ok1 || !ok2 || (l.db == "*" && l.table != "*") {
		return l, fmt.Errorf("an unexpected privilege level")
	}
	return l, nil
}

// options is the line's WITH clause as rotor copies it: only the grant and
// admin options (resource limits and REQUIRE are account settings, copied
// by ALTER USER).
func (g grantLine) options() string {
	var s string
	if g.grantOption && (g.kind == linePriv || g.kind == lineProxy) {
		s += " WITH GRANT OPTION"
	}
	if g.adminOption && g.kind == lineRole {
		s += " WITH ADMIN OPTION"
	}
	return s
}

// forAccount is the line as a statement granting the same to a: without
// the IDENTIFIED clause (the password hash) or account settings.
func (g grantLine) forAccount(a account) string { return g.head + a.quoted() + g.options() }

// normal is the line with its grantee left out, to compare lines of two
// accounts.
func (g grantLine) normal() string { return g.head + "<grantee>" + g.options() }

// undo is the statements that take the line's grant back from a, or nil
// when it cannot be taken back line by line.
func (g grantLine) undo(a account) []string {
	from := " FROM " + a.quoted()
	switch g.kind {
	case linePriv:
		var out []string
		if !(len(g.privs) == 1 && g.privs[0].name == "USAGE") {
			out = append(out, "REVOKE "+g.privsText+" ON "+g.levelText+from)
		}
		if g.grantOption {
			out = append(out, "REVOKE GRANT OPTION ON "+g.levelText+from)
		}
		return out
	case lineProxy:
		return []string{"REVOKE PROXY ON " + g.levelText + from}
	case lineRole:
		return []string{"REVOKE " + g.role + from}
	case lineDefaultRole:
		return []string{"SET DEFAULT ROLE NONE FOR " + a.quoted()}
	}
	return nil
}

// parseGrants parses the lines SHOW GRANTS printed for a, checking each
// is a's.
func parseGrants(a account, lines []string) ([]grantLine, error) {
	var out []grantLine
	for i, l := range lines {
		g, err := parseGrant(l)
		if err != nil {
			return nil, invalid("line %d of SHOW GRANTS FOR %s: rotor cannot read it (%v)", i+1, a, err)
		}
		if g.grantee != a {
			return nil, invalid("line %d of SHOW GRANTS FOR %s names another grantee", i+1, a)
		}
		out = append(out, g)
	}
	return out, nil
}

// normals is the set of lines' normal forms, sorted.
func normals(gs []grantLine) []string {
	out := make([]string, 0, len(gs))
	for _, g := range gs {
		out = append(out, g.normal())
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// accountSettings is what SHOW CREATE USER prints after the account name,
// without the IDENTIFIED clause (the hash) and the lock state (which rotor
// manages): REQUIRE, resource limits, password expiry, as the server
// prints them, so that ALTER USER or CREATE USER take it as is.
func accountSettings(stmt string) (string, error) {
	toks, err := tokenize(stmt)
	if err != nil {
		return "", err
	}
	if len(toks) < 3 || !toks[0].is("CREATE") || !toks[1].is("USER") {
		return "", fmt.Errorf("not a CREATE USER statement")
	}
	_, i, err := parseAccount(toks, 2)
	if err != nil {
		return "", err
	}
	// clauseStart reports whether toks[j] starts a clause after the
	// IDENTIFIED one. WITH starts one only before a resource limit: in
	// IDENTIFIED WITH plugin it names the plugin.
	clauseStart := func(j int) bool {
		t := toks[j]
		for _, w := range []string{"REQUIRE", "ACCOUNT", "DEFAULT", "COMMENT", "ATTRIBUTE", "FAILED_LOGIN_ATTEMPTS", "PASSWORD_LOCK_TIME"} {
			if t.is(w) {
				return true
			}
		}
		switch {
		case t.is("WITH"):
			return j+1 < len(toks) && toks[j+1].kind == tWord && strings.HasPrefix(strings.ToUpper(toks[j+1].val), "MAX_")
		case t.is("PASSWORD"):
			// PASSWORD EXPIRE ..., not IDENTIFIED BY PASSWORD 'hash'.
			return !toks[j-1].is("BY")
		}
		return false
	}
	var parts []string
	for i < len(toks) {
		switch {
		case toks[i].is("IDENTIFIED"):
			// IDENTIFIED BY|VIA|WITH ... up to the next clause, including
			// MariaDB's OR and MySQL's AND IDENTIFIED alternatives.
			i += 2
			for i < len(toks) && !clauseStart(i) {
				i++
			}
		case toks[i].is("ACCOUNT") && i+1 < len(toks) && (toks[i+1].is("LOCK") || toks[i+1].is("UNLOCK")):
			i += 2
		default:
			parts = append(parts, stmt[toks[i].start:toks[i].end])
			i++
		}
	}
	for _, p := range parts {
		if strings.EqualFold(p, "IDENTIFIED") || strings.EqualFold(p, "USING") || strings.EqualFold(p, "AS") {
			// Whatever the statement was, its hash must not travel on.
			return "", fmt.Errorf("an authentication clause rotor cannot separate")
		}
	}
	return strings.Join(parts, " "), nil
}

// resetSettings undoes every account setting accountSettings can carry
// over on MariaDB and MySQL, before the base's are applied again.
const resetSettings = "REQUIRE NONE WITH MAX_QUERIES_PER_HOUR 0 MAX_UPDATES_PER_HOUR 0 MAX_CONNECTIONS_PER_HOUR 0 MAX_USER_CONNECTIONS 0 PASSWORD EXPIRE DEFAULT"

// holdings is what the master's own SHOW GRANTS says it holds.
type holdings []grantLine

// global reports whether the master holds any of privs globally (with or
// without grant option).
func (h holdings) global(privs ...string) bool {
	for _, g := range h {
		if g.kind != linePriv || g.level.db != "*" {
			continue
		}
		for _, p := range g.privs {
			if p.name == "ALL PRIVILEGES" || slices.Contains(privs, p.name) {
				return true
			}
		}
	}
	return false
}

// exactly reports whether the master holds priv globally by name (not as
// part of ALL PRIVILEGES, which does not include MySQL's dynamic
// privileges).
func (h holdings) exactly(priv string) bool {
	for _, g := range h {
		if g.kind == linePriv && g.level.db == "*" && slices.ContainsFunc(g.privs, func(p privilege) bool { return p.name == priv }) {
			return true
		}
	}
	return false
}

// on reports whether the master holds priv on every object of database db
// (with or without grant option).
func (h holdings) on(db, priv string) bool {
	for _, g := range h {
		if g.kind != linePriv || !(g.level.db == "*" || g.level.db == db && g.level.table == "*" && g.level.objType == "") {
			continue
		}
		for _, p := range g.privs {
			if len(p.cols) == 0 && (p.name == "ALL PRIVILEGES" || p.name == priv) {
				return true
			}
		}
	}
	return false
}

// levelCovers reports whether a privilege held at m applies at l.
func levelCovers(m, l level) bool {
	switch {
	case m.db == "*":
		return true
	case m.db != l.db:
		return false
	case m.table == "*":
		return true
	}
	return m.table == l.table && m.objType == l.objType
}

// canGrant reports whether the master may grant priv at l: it holds it
// there (or everywhere above) WITH GRANT OPTION.
func (h holdings) canGrant(p privilege, l level) bool {
	if p.name == "USAGE" {
		return true
	}
	for _, g := range h {
		if g.kind != linePriv || !g.grantOption || !levelCovers(g.level, l) {
			continue
		}
		for _, mp := range g.privs {
			switch {
			case mp.name == "ALL PRIVILEGES" && len(mp.cols) == 0:
				return true
			case mp.name != p.name:
			case len(mp.cols) == 0:
				return true
			case g.level == l && len(p.cols) > 0 && subset(p.cols, mp.cols):
				return true
			}
		}
	}
	return false
}

func subset(xs, ys []string) bool {
	for _, x := range xs {
		if !slices.Contains(ys, x) {
			return false
		}
	}
	return true
}

// grantOptionAt reports whether the master holds some privilege at a level
// covering l WITH GRANT OPTION, which granting GRANT OPTION there needs.
func (h holdings) grantOptionAt(l level) bool {
	for _, g := range h {
		if g.kind == linePriv && g.grantOption && levelCovers(g.level, l) {
			return true
		}
	}
	return false
}

// missing names what the master lacks to copy line g to another account,
// or "" when it lacks nothing.
func (h holdings) missing(g grantLine) string {
	switch g.kind {
	case linePriv:
		var lack []string
		for _, p := range g.privs {
			if !h.canGrant(p, g.level) {
				name := p.name
				if len(p.cols) > 0 {
					name += " (" + strings.Join(p.cols, ", ") + ")"
				}
				lack = append(lack, name)
			}
		}
		if g.grantOption && !h.grantOptionAt(g.level) {
			lack = append(lack, "GRANT OPTION")
		}
		if len(lack) > 0 {
			return strings.Join(lack, ", ") + " ON " + g.levelText + " WITH GRANT OPTION"
		}
	case lineProxy:
		for _, m := range h {
			if m.kind == lineProxy && m.grantOption && (m.levelText == g.levelText || m.levelText == "``@`%`" || m.levelText == "''@'%'") {
				return ""
			}
		}
		return "PROXY ON " + g.levelText + " WITH GRANT OPTION"
	case lineRole:
		if h.exactly("ROLE_ADMIN") { // MySQL's: any role
			return ""
		}
		for _, m := range h {
			if m.kind == lineRole && m.adminOption && m.role == g.role {
				return ""
			}
		}
		return "role " + g.role + " WITH ADMIN OPTION"
	case lineDefaultRole:
		// MariaDB checks SET DEFAULT ROLE ... FOR another account as a
		// change to the mysql database.
		if !h.on("mysql", "UPDATE") {
			return "UPDATE ON `mysql`.* (MariaDB's SET DEFAULT ROLE ... FOR another account needs it)"
		}
	case lineRevoke:
		return ""
	}
	return ""
}
