package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// PostgreSQL's schema: the same history as SQLite's, version for version,
// with central's tables only (the client keeps SQLite: its schema is the
// test-delivery application's read interface).
//
//go:embed migrations/postgres/*.sql
var pgMigrations embed.FS

// Advisory lock keys, the same in every process: writersLock is taken by
// every write transaction for its length, as SQLite's write lock is
// (_txlock=immediate), so that the store's read-then-write transactions
// behave the same on both engines, but for those of one client's rows
// (BeginClientTx), which take it shared, and clientLocks with the hash of
// the client's id (a result import also locks the rows of the execution
// ids it stores, as two clients may send one id: lockExecutions);
// migrateLock is held while a process brings the schema up to date, so
// that processes starting at once migrate once.
const (
	writersLock = 0x7461_6f73_796e_6301 // "taosync" and 1
	migrateLock = 0x7461_6f73_796e_6302

	// The key of the two-key advisory locks (a space apart from the others).
	clientLocks = 0x7473_7901
)

// pgMaxConns is how many connections to PostgreSQL a process opens at
// most, unless its URL says otherwise (?pool_max_conns=N, as pgx's pools
// name it): a few replicas stay well under PostgreSQL's default
// max_connections (100). Read transactions (BeginRead) take at most half
// of them: an export holds one for its snapshot and needs another for the
// group commit that records it, so readers must leave the writes some;
// the long writes (result imports) take at most what is left but two
// (DB.Spare).
const pgMaxConns = 20

// pgMaxConnsParam is the URL parameter that bounds the connections; it
// is taosync's, not sent to the server.
const pgMaxConnsParam = "pool_max_conns"

// lockTimeout is how long a statement waits for a lock (the writers' lock
// above, a row) before it fails as busy: SQLite's busy_timeout.
const lockTimeout = 10 * time.Second

// IsURL reports whether where names a PostgreSQL database (a postgres://
// or postgresql:// URL) rather than an SQLite file.
func IsURL(where string) bool {
	return strings.HasPrefix(where, "postgres://") || strings.HasPrefix(where, "postgresql://")
}

// ErrUnreachable: the PostgreSQL server named does not answer, or refuses
// the connection.
var ErrUnreachable = errors.New("cannot connect to the database")

// ErrBadLocation: a database location that is neither a file path nor a
// PostgreSQL URL.
var ErrBadLocation = errors.New("not a database location")

// CheckLocation says whether where can name a database: a PostgreSQL URL
// that parses, or a path without a URL scheme and without '='. It does not
// connect.
func CheckLocation(where string) error {
	if IsURL(where) {
		if _, err := pgx.ParseConfig(where); err != nil {
			return fmt.Errorf("%s is %w: %s", Redact(where), ErrBadLocation, pgErrText(err, where))
		}
		return nil
	}
	if i := strings.Index(where, "://"); i > 0 && !strings.ContainsAny(where[:i], "/\\.") {
		return fmt.Errorf("%s is %w: want a file path or a postgres:// URL", Redact(where), ErrBadLocation)
	}
	if where == "" {
		return fmt.Errorf("an empty value is %w: want a file path or a postgres:// URL", ErrBadLocation)
	}
	// PostgreSQL's key=value connection strings are not taken (one form
	// is enough), nor shown: they may hold a password.
	if strings.Contains(where, "=") {
		return fmt.Errorf("a value with '=' is %w: want a file path or a postgres:// URL, not a key=value connection string", ErrBadLocation)
	}
	return nil
}

// Redact returns where with the password of a URL replaced by xxxxx, for
// logs and errors.
func Redact(where string) string {
	u, err := url.Parse(where)
	if err != nil || u.Scheme == "" {
		if i := strings.Index(where, "://"); i > 0 {
			// A URL too broken to parse may still hold a password: show
			// its scheme only.
			return where[:i] + "://…"
		}
		return where
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	for _, k := range []string{"password", "sslpassword"} {
		if q.Has(k) {
			q.Set(k, "xxxxx")
			u.RawQuery = q.Encode()
		}
	}
	return u.String()
}

// pgErrText is err's message with where's password taken out: pgx's
// parse errors may quote the URL whole.
func pgErrText(err error, where string) string {
	s := err.Error()
	if u, perr := url.Parse(where); perr == nil {
		if p, ok := u.User.Password(); ok && p != "" {
			s = strings.ReplaceAll(s, p, "xxxxx")
		}
	}
	return strings.ReplaceAll(s, where, Redact(where))
}

// openPostgres opens the database at the URL where and brings its schema
// up to date. Without create, the database must hold a taosync schema.
func openPostgres(ctx context.Context, where string, create bool) (*DB, error) {
	name := Redact(where)
	cfg, err := pgx.ParseConfig(where)
	if err != nil {
		return nil, fmt.Errorf("%s is %w: %s", name, ErrBadLocation, pgErrText(err, where))
	}
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	conns := pgMaxConns
	if v, ok := cfg.RuntimeParams[pgMaxConnsParam]; ok {
		if conns, err = strconv.Atoi(v); err != nil || conns < 2 {
			return nil, fmt.Errorf("%s is %w: %s=%s: want a whole number of 2 or more", name, ErrBadLocation, pgMaxConnsParam, v)
		}
		delete(cfg.RuntimeParams, pgMaxConnsParam)
	}
	// A statement is planned for the table as it is when it runs: a load
	// or an import fills tables within one transaction, and a plan cached
	// when they were empty (a sequential scan) made each batch of a load of
	// 20,000 rows scan the table whole, 20 times slower. No statement is
	// spread over parallel workers: the store's reads are of one scope or
	// one client, and many run at once (a pull each), so that the workers,
	// started anew for each statement, only added their start and their
	// coordination to every export of a large scope (two workers each,
	// two fifths of PostgreSQL's CPU per first pull). Every setting may be given
	// in the URL (?lock_timeout=2s).
	for k, v := range map[string]string{
		"lock_timeout":                    strconv.Itoa(int(lockTimeout.Milliseconds())),
		"plan_cache_mode":                 "force_custom_plan",
		"max_parallel_workers_per_gather": "0",
	} {
		if _, ok := cfg.RuntimeParams[k]; !ok {
			cfg.RuntimeParams[k] = v
		}
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	db := sql.OpenDB(pgConnector{stdlib.GetConnector(*cfg)})
	// A PostgreSQL connection is a server process, started in
	// milliseconds: keep those that serve's requests open, rather than
	// database/sql's default of two.
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("%w %s: %s", ErrUnreachable, name, pgErrText(err, where))
	}
	d := &DB{DB: db, Path: name, Engine: Postgres, readers: make(chan struct{}, min(maxReaders, conns/2)), conns: conns}
	if err := d.migratePostgres(ctx, create); err != nil {
		db.Close()
		return nil, err
	}
	return d, nil
}

// migratePostgres applies the embedded migrations newer than the version
// in schema_version, each in a transaction, under migrateLock.
func (d *DB) migratePostgres(ctx context.Context, create bool) error {
	conn, err := d.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrate database %s: %w", d.Path, err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(?)", migrateLock); err != nil {
		return fmt.Errorf("migrate database %s: wait for another process migrating it: %w", d.Path, err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(?)", migrateLock)
	// A database is ours when it has the table schema_version; one
	// without it is created into only when it holds no table at all.
	var ours bool
	var tables int
	err = conn.QueryRowContext(ctx, `SELECT COUNT(*) FILTER (WHERE table_name = 'schema_version'), COUNT(*)
		FROM information_schema.tables WHERE table_schema = current_schema()`).Scan(&ours, &tables)
	if err != nil {
		return fmt.Errorf("read database %s: %w", d.Path, err)
	}
	var current int
	switch {
	case ours:
		if err := conn.QueryRowContext(ctx, "SELECT version FROM schema_version").Scan(&current); err != nil {
			return fmt.Errorf("read schema version of %s: %w", d.Path, err)
		}
	case tables > 0:
		return fmt.Errorf("%s is %w: it holds tables of another application", d.Path, ErrNotOurs)
	case !create:
		return fmt.Errorf("%s is %w: it holds no taosync schema", d.Path, ErrNotOurs)
	default:
		if _, err := conn.ExecContext(ctx, "CREATE TABLE schema_version (version BIGINT NOT NULL); INSERT INTO schema_version VALUES (0)"); err != nil {
			return fmt.Errorf("migrate database %s: %w", d.Path, err)
		}
	}
	todo, err := pending(pgMigrations, "migrations/postgres/*.sql", current)
	if err != nil {
		return err
	}
	for _, m := range todo {
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		// Simple statements only in migrations: no placeholders, run as
		// one multi-statement string.
		_, err = tx.ExecContext(ctx, string(m.body))
		if err == nil {
			_, err = tx.ExecContext(ctx, "UPDATE schema_version SET version = ?", m.version)
		}
		if err == nil {
			err = tx.Commit()
		} else {
			tx.Rollback()
		}
		if err != nil {
			return fmt.Errorf("migrate database %s to version %d (%s): %w", d.Path, m.version, m.name, err)
		}
	}
	return nil
}

// pgConnector hands database/sql pgx's connections behind pgConn.
type pgConnector struct{ driver.Connector }

func (c pgConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return pgConn{conn.(*stdlib.Conn)}, nil
}

// pgConn is pgx's connection taking the store's SQL as SQLite does: ?
// and ?N placeholders (PostgreSQL's are $N), and bools for the INTEGER
// columns that hold 0 or 1.
type pgConn struct{ *stdlib.Conn }

func (c pgConn) Prepare(query string) (driver.Stmt, error) {
	return c.Conn.Prepare(placeholders(query))
}

func (c pgConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.Conn.PrepareContext(ctx, placeholders(query))
}

func (c pgConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	return c.Conn.ExecContext(ctx, placeholders(query), args)
}

func (c pgConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	return c.Conn.QueryContext(ctx, placeholders(query), args)
}

// CheckNamedValue stores a bool as SQLite does, 1 or 0: the schema's
// flags are integers on both engines.
func (c pgConn) CheckNamedValue(v *driver.NamedValue) error {
	if b, ok := v.Value.(bool); ok {
		v.Value = int64(0)
		if b {
			v.Value = int64(1)
		}
	}
	return c.Conn.CheckNamedValue(v)
}

// rewritten caches placeholders' work: the store runs few distinct
// statements, many times.
var rewritten sync.Map

// placeholders rewrites SQLite's placeholders, ? (one more than the
// largest number given so far, as SQLite numbers it) and ?N (the Nth), into
// PostgreSQL's $N, outside quoted strings (E'...' ones too), quoted
// identifiers, dollar-quoted strings and comments. PostgreSQL's jsonb
// operators ?| and ?& cannot be told from a placeholder: the store's SQL
// never uses them, and a statement that does is a programming error
// (a panic).
func placeholders(query string) string {
	if !strings.Contains(query, "?") {
		return query
	}
	if q, ok := rewritten.Load(query); ok {
		return q.(string)
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	largest := 0
	for i := 0; i < len(query); {
		n := quoted(query, i)
		if n > 0 {
			b.WriteString(query[i : i+n])
			i += n
			continue
		}
		if query[i] != '?' {
			b.WriteByte(query[i])
			i++
			continue
		}
		if i+1 < len(query) && (query[i+1] == '|' || query[i+1] == '&') {
			panic(fmt.Sprintf("store: the operator %s cannot be told from a placeholder: %s", query[i:i+2], query))
		}
		j := i + 1
		for j < len(query) && query[j] >= '0' && query[j] <= '9' {
			j++
		}
		if j > i+1 {
			n, _ := strconv.Atoi(query[i+1 : j])
			largest = max(largest, n)
			b.WriteString("$" + query[i+1:j])
		} else {
			largest++
			b.WriteString("$" + strconv.Itoa(largest))
		}
		i = j
	}
	q := b.String()
	rewritten.Store(query, q)
	return q
}

// quoted returns the length of the quoted string, quoted identifier,
// dollar-quoted string or comment that starts at query[i], or 0 if none
// does. One left open runs to the end.
func quoted(query string, i int) int {
	rest := query[i:]
	ident := func(c byte) bool {
		return c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
	}
	after := i == 0 || !ident(query[i-1])
	switch {
	case rest[0] == '\'' || rest[0] == '"':
		// A doubled quote inside is two strings side by side here.
		if j := strings.IndexByte(rest[1:], rest[0]); j >= 0 {
			return j + 2
		}
		return len(rest)
	case (rest[0] == 'E' || rest[0] == 'e') && len(rest) > 1 && rest[1] == '\'' && after:
		// An escape string: a backslash escapes the next byte.
		for j := 2; j < len(rest); j++ {
			switch rest[j] {
			case '\\':
				j++
			case '\'':
				return j + 1
			}
		}
		return len(rest)
	case strings.HasPrefix(rest, "--"):
		if j := strings.IndexByte(rest, '\n'); j >= 0 {
			return j
		}
		return len(rest)
	case strings.HasPrefix(rest, "/*"):
		// Block comments nest in PostgreSQL.
		depth := 0
		for j := 0; j+1 < len(rest); j++ {
			switch rest[j : j+2] {
			case "/*":
				depth++
				j++
			case "*/":
				if depth--; depth == 0 {
					return j + 2
				}
				j++
			}
		}
		return len(rest)
	case rest[0] == '$' && after:
		// $$ or $tag$, a tag not starting with a digit, up to the same.
		k := 1
		for k < len(rest) && rest[k] != '$' && ident(rest[k]) && !(k == 1 && rest[k] >= '0' && rest[k] <= '9') {
			k++
		}
		if k == len(rest) || rest[k] != '$' {
			return 0
		}
		tag := rest[:k+1]
		j := strings.Index(rest[k+1:], tag)
		if j < 0 {
			return len(rest)
		}
		return k + 1 + j + len(tag)
	}
	return 0
}
