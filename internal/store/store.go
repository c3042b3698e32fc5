// Package store is the database of a home: opening it (SQLite with the
// pragmas taosync relies on, or, for central, PostgreSQL), the embedded
// versioned migrations of each engine, and the tables every home has (meta,
// settings, trusted keys, history, applied bundles). The central and client
// stores build on it.
//
// The store's SQL is written once for both engines: SQLite's placeholders
// (? and ?N; the PostgreSQL connection rewrites them, see pgConn), ON
// CONFLICT for idempotence, integers for flags, and SQLite's two-argument
// max(), which PostgreSQL's schema defines. The few statements that differ
// are built by Engine's methods (tempTable, jsonElements, inArray with
// the arguments textArray makes), and each engine has its own migrations
// (migrations/, migrations/postgres/).
package store

import (
	"context"
	"database/sql"
	"embed"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"runtime"
	"sort"
	"strconv"
	"strings"

	"github.com/mattn/go-sqlite3"
)

//go:embed migrations/*.sql
var migrations embed.FS

// driverName is go-sqlite3's driver registered again, with a hook on each
// new connection that runs connectPragma, if set.
const driverName = "sqlite3-taosync"

// connectPragma is run on each connection opened while it is set: only
// tests set it (SetConnectPragma), to make a home's database answer
// "database or disk is full" as a full disk does.
var connectPragma string

func init() {
	sql.Register(driverName, &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		if connectPragma == "" {
			return nil
		}
		_, err := c.Exec(connectPragma, nil)
		return err
	}})
}

// SetConnectPragma runs stmt on each database connection opened until
// the returned function is called. For tests: "PRAGMA max_page_count = 1"
// keeps a database from growing, so that SQLite fails a write the way a
// full disk makes it fail.
func SetConnectPragma(stmt string) (restore func()) {
	old := connectPragma
	connectPragma = stmt
	return func() { connectPragma = old }
}

// Engine is the database engine of a DB.
type Engine string

// Engines.
const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
)

// DB is an open home database.
type DB struct {
	*sql.DB
	// Path is where the database is: a file, or a PostgreSQL URL without
	// its password.
	Path   string
	Engine Engine
	// read is, on SQLite, a second pool on the same file, for BeginRead:
	// its transactions begin deferred (no lock) and its connections
	// refuse to write. nil on PostgreSQL, whose one pool serves both.
	read *sql.DB
	// readers holds a slot for each read transaction open (BeginRead).
	readers chan struct{}
	// conns bounds the pool's connections, on PostgreSQL.
	conns int
}

// Spare is how many connections a process may hold at once in long write
// transactions (the result imports on PostgreSQL) beside its read
// transactions, leaving two for the short writes and the leases: at least
// one. 0 on SQLite, whose writes take turns.
func (d *DB) Spare() int {
	if d.Engine != Postgres {
		return 0
	}
	return max(1, d.conns-cap(d.readers)-2)
}

// ErrNotOurs: a database file that taosync did not create.
var ErrNotOurs = errors.New("not a taosync database")

// sqliteMagic starts every SQLite database file.
const sqliteMagic = "SQLite format 3\x00"

// CheckFile reads the header of the database file at path, and fails with
// ErrNotOurs unless it is an SQLite database with a taosync schema (a
// user_version above 0). It reads the header itself: SQLite, asked to
// open a file, writes to it (an empty file becomes a database, and the
// journal mode is set on every open), and a file that is not ours must
// be left as it is.
func CheckFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer f.Close()
	// The header is 100 bytes; user_version is the big-endian uint32 at
	// offset 60 (https://www.sqlite.org/fileformat2.html#database_header).
	hdr := make([]byte, 100)
	n, err := io.ReadFull(f, hdr)
	switch {
	case n == 0 && errors.Is(err, io.EOF):
		return fmt.Errorf("%s is %w: it is empty", path, ErrNotOurs)
	case errors.Is(err, io.ErrUnexpectedEOF), err == nil && string(hdr[:len(sqliteMagic)]) != sqliteMagic:
		return fmt.Errorf("%s is %w: it is not an SQLite database", path, ErrNotOurs)
	case err != nil:
		return fmt.Errorf("read database %s: %w", path, err)
	case binary.BigEndian.Uint32(hdr[60:64]) == 0:
		return fmt.Errorf("%s is %w: it holds no taosync schema", path, ErrNotOurs)
	}
	return nil
}

// Open opens the database at path, a file or a PostgreSQL URL (IsURL), and
// brings its schema up to date. With create, the database is created if
// there is none (a PostgreSQL database must exist, empty); without, it must
// be a taosync database (CheckFile).
func Open(ctx context.Context, path string, create bool) (*DB, error) {
	if IsURL(path) {
		return openPostgres(ctx, path, create)
	}
	if err := CheckLocation(path); err != nil {
		return nil, err
	}
	mode := "rw"
	if create {
		mode = "rwc"
	} else if err := CheckFile(path); err != nil {
		return nil, err
	}
	// WAL lets readers (the test-delivery application) read while taosync
	// writes. synchronous=FULL makes every commit durable before it returns:
	// a result acknowledged or a bundle marked applied must survive a power
	// cut. _txlock=immediate takes the write lock at BEGIN, so that two
	// writers queue on busy_timeout instead of failing mid-transaction.
	q := url.Values{}
	q.Set("mode", mode)
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "FULL")
	q.Set("_busy_timeout", "10000")
	q.Set("_foreign_keys", "on")
	q.Set("_txlock", "immediate")
	db, err := sql.Open(driverName, "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	d := &DB{DB: db, Path: path, Engine: SQLite, readers: make(chan struct{}, maxReaders)}
	if err := d.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	// The read pool: WAL is the file's mode already, set above.
	q.Del("_journal_mode")
	q.Set("_txlock", "deferred")
	q.Set("_query_only", "1")
	if d.read, err = sql.Open(driverName, "file:"+path+"?"+q.Encode()); err != nil {
		db.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	// No more connections than readers (BeginRead): each holds a page
	// cache and three open files.
	d.read.SetMaxOpenConns(maxReaders)
	return d, nil
}

// BeginRead starts a read transaction: one snapshot of the database that
// takes no lock, so that it runs beside other readers and beside the
// writers (WAL), and sees none of their commits. Nothing may be written in
// it. On SQLite it comes from the read pool (go-sqlite3 ignores the
// options: that pool is read-only and deferred); on PostgreSQL from the one
// pool, as a REPEATABLE READ, READ ONLY transaction (BeginTx).
//
// At most maxReaders read transactions are open at once, on either engine
// (a reader's transaction lasts while its export compresses, encrypts and
// records its bundle, which keeps a core busy: more of them than a few per
// core would only add memory, and PostgreSQL connections); a caller waits
// for a slot, or for ctx. EndRead ends it and frees its slot.
func (d *DB) BeginRead(ctx context.Context) (*sql.Tx, error) {
	select {
	case d.readers <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	opts := &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
	var tx *sql.Tx
	var err error
	if d.read == nil {
		tx, err = d.BeginTx(ctx, opts)
	} else {
		tx, err = d.read.BeginTx(ctx, opts)
	}
	if err != nil {
		<-d.readers
	}
	return tx, err
}

// EndRead ends a read transaction of BeginRead (it wrote nothing: it is
// rolled back) and frees its slot.
func (d *DB) EndRead(tx *sql.Tx) {
	tx.Rollback()
	<-d.readers
}

// maxReaders bounds the read transactions open at once (BeginRead).
var maxReaders = max(8, 4*runtime.GOMAXPROCS(0))

// Close closes the database's pools.
func (d *DB) Close() error {
	if d.read == nil {
		return d.DB.Close()
	}
	return errors.Join(d.read.Close(), d.DB.Close())
}

// migrate applies, in one transaction each, the embedded migrations newer
// than the database's user_version.
func (d *DB) migrate(ctx context.Context) error {
	var current int
	if err := d.QueryRowContext(ctx, "PRAGMA user_version").Scan(&current); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	todo, err := pending(migrations, "migrations/*.sql", current)
	if err != nil {
		return err
	}
	for _, m := range todo {
		err = d.Tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, string(m.body)); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.version))
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate database to version %d (%s): %w", m.version, m.name, err)
		}
	}
	return nil
}

// migration is one embedded migration file.
type migration struct {
	version int
	name    string
	body    []byte
}

// pending reads the migrations of fsys that glob names, in order, checks
// that they are numbered 1, 2, ... as their file names say, and returns
// those above the database's version current. A database of a version
// this taosync does not know is refused.
func pending(fsys embed.FS, glob string, current int) ([]migration, error) {
	names, err := fs.Glob(fsys, glob)
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	if current > len(names) {
		return nil, fmt.Errorf("database schema version %d is newer than this taosync knows (%d): upgrade taosync", current, len(names))
	}
	var todo []migration
	for i, name := range names {
		version := i + 1
		if n, err := strconv.Atoi(strings.SplitN(path.Base(name), "_", 2)[0]); err != nil || n != version {
			return nil, fmt.Errorf("migration %s is out of sequence", name)
		}
		if version <= current {
			continue
		}
		body, err := fsys.ReadFile(name)
		if err != nil {
			return nil, err
		}
		todo = append(todo, migration{version: version, name: name, body: body})
	}
	return todo, nil
}

// BeginTx begins a transaction. A write transaction (every one but
// ReadOnly) takes the writers' lock at its start, on both engines: SQLite's
// (_txlock=immediate), or PostgreSQL's advisory writersLock, held until it
// ends. A ReadOnly one takes no lock, and reads one snapshot on PostgreSQL
// too (REPEATABLE READ, unless opts says otherwise), as SQLite's readers do.
func (d *DB) BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error) {
	if d.Engine == Postgres && opts != nil && opts.ReadOnly && opts.Isolation == sql.LevelDefault {
		opts = &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead}
	}
	tx, err := d.DB.BeginTx(ctx, opts)
	if err != nil || d.Engine != Postgres || (opts != nil && opts.ReadOnly) {
		return tx, err
	}
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(?)", writersLock); err != nil {
		tx.Rollback()
		return nil, fmt.Errorf("wait for the database's other writers: %w", err)
	}
	return tx, nil
}

// BeginClientTx begins a write transaction of one client's rows: on
// PostgreSQL those of different clients proceed at once (each takes the
// writers' lock shared, and the client's own), a transaction of BeginTx
// waits for them and they for it; on SQLite it is BeginTx.
func (d *DB) BeginClientTx(ctx context.Context, client string) (*sql.Tx, error) {
	if d.Engine != Postgres {
		return d.BeginTx(ctx, nil)
	}
	tx, err := d.DB.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	for _, lock := range []struct {
		sql  string
		args []any
	}{
		{"SELECT pg_advisory_xact_lock_shared(?)", []any{writersLock}},
		{"SELECT pg_advisory_xact_lock(?, hashtext(?))", []any{clientLocks, client}},
	} {
		if _, err := tx.ExecContext(ctx, lock.sql, lock.args...); err != nil {
			tx.Rollback()
			return nil, fmt.Errorf("wait for the database's other writers: %w", err)
		}
	}
	return tx, nil
}

// Tx runs fn in a transaction, committing if it returns nil.
func (d *DB) Tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := d.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// Querier is what both *sql.DB and *sql.Tx provide.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// ErrNotFound is returned for a missing meta key or setting.
var ErrNotFound = errors.New("not found")

// Meta reads a meta value.
func Meta(ctx context.Context, q Querier, key string) (string, error) {
	var v string
	err := q.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = ?", key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("meta %s: %w", key, ErrNotFound)
	}
	return v, err
}

// SetMeta writes a meta value.
func SetMeta(ctx context.Context, q Querier, key, value string) error {
	_, err := q.ExecContext(ctx, "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value)
	return err
}

// The few statements whose SQL differs between the engines.

// tempTable creates, if the connection has none yet, a temporary table of
// the columns cols whose first is its key.
func (e Engine) tempTable(name, cols string) string {
	if e == Postgres {
		return "CREATE TEMP TABLE IF NOT EXISTS " + name + " (" + cols + ")"
	}
	return "CREATE TEMP TABLE IF NOT EXISTS " + name + " (" + cols + ") WITHOUT ROWID"
}

// textArray is the argument of an array of strings: a text[] on
// PostgreSQL, a JSON array on SQLite.
func (e Engine) textArray(ss []string) any {
	if e == Postgres {
		return ss
	}
	b, _ := json.Marshal(ss) // strings always marshal
	return string(b)
}

// inArray is the condition that a value is an element of the array the
// placeholder param stands for (an argument textArray made).
func (e Engine) inArray(param string) string {
	if e == Postgres {
		return "= ANY(" + param + "::text[])"
	}
	return "IN (SELECT value FROM json_each(" + param + "))"
}

// jsonElements is a table of the elements of the JSON array at path (keys
// of objects) in the JSON value doc, named alias, with columns value (an
// element) and key (its index, from 0 on SQLite, 1 on PostgreSQL: for
// ordering only).
func (e Engine) jsonElements(alias, doc string, path ...string) string {
	if e == Postgres {
		for _, k := range path {
			doc += "->'" + k + "'"
		}
		return "json_array_elements(" + doc + ") WITH ORDINALITY AS " + alias + " (value, key)"
	}
	return "json_each(" + doc + ", '$." + strings.Join(path, ".") + "') " + alias
}
