package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/taosync/taosync/internal/ioerr"
	"github.com/taosync/taosync/internal/pgtest"
)

// TestPlaceholders: SQLite's ? and ?N become PostgreSQL's $N, and
// nothing inside quotes or comments changes.
func TestPlaceholders(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"SELECT ? , ?", "SELECT $1 , $2"},
		{"SELECT ?1, ?12, ?1", "SELECT $1, $12, $1"},
		{"SELECT '?', \"a?\", ? -- what?\n, ?", "SELECT '?', \"a?\", $1 -- what?\n, $2"},
		{"SELECT 'it''s ?', ?", "SELECT 'it''s ?', $1"},
		{"SELECT 'unterminated ?", "SELECT 'unterminated ?"},
		{"SELECT ? -- end?", "SELECT $1 -- end?"},
		{"SELECT ?2, ?", "SELECT $2, $3"},
		{"SELECT ?, ?1, ?", "SELECT $1, $1, $2"},
		{"SELECT /* why? */ ?", "SELECT /* why? */ $1"},
		{"SELECT /* a /* nested? */ one? */ ?", "SELECT /* a /* nested? */ one? */ $1"},
		{"SELECT /* open ?", "SELECT /* open ?"},
		{"SELECT E'it\\'s ?', ?", "SELECT E'it\\'s ?', $1"},
		{"SELECT e'\\\\', ?", "SELECT e'\\\\', $1"},
		{"SELECT type'?', ?", "SELECT type'?', $1"},
		{"SELECT $$ ? $$, ?", "SELECT $$ ? $$, $1"},
		{"SELECT $t$ it's ? $t$, ?", "SELECT $t$ it's ? $t$, $1"},
		{"SELECT a$b, ?", "SELECT a$b, $1"},
	} {
		if got := placeholders(tc.in); got != tc.want {
			t.Errorf("placeholders(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, q := range []string{"SELECT data ?| ?", "SELECT data ?& ?"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("placeholders(%q) did not refuse the operator", q)
				}
			}()
			placeholders(q)
		}()
	}
}

// TestLocations: a PostgreSQL URL's password never shows; a value that is
// neither a file path nor a PostgreSQL URL is refused before anything is
// opened.
func TestLocations(t *testing.T) {
	for _, tc := range []struct{ in, redacted string }{
		{"postgres://taosync:s3cret@db.example.org:5432/central", "postgres://taosync:xxxxx@db.example.org:5432/central"},
		{"postgresql://db/central?password=s3cret&sslmode=require", "postgresql://db/central?password=xxxxx&sslmode=require"},
		{"postgres://taosync@db/central", "postgres://taosync@db/central"},
		{"/srv/central/taosync.db", "/srv/central/taosync.db"},
		{"postgres://u:p@[::1", "postgres://…"},
		{"postgres://db/central?sslpassword=s3cret", "postgres://db/central?sslpassword=xxxxx"},
	} {
		if got := Redact(tc.in); got != tc.redacted {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.redacted)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"mysql://root:s3cret@db/central", "mysql://root:xxxxx@db/central is not a database location: want a file path or a postgres:// URL"},
		{"", "an empty value is not a database location: want a file path or a postgres:// URL"},
		{"postgres://u:s3cret@db:99999999/central", "postgres://u:xxxxx@db:99999999/central is not a database location"},
		{"host=db dbname=central password=s3cret", "a value with '=' is not a database location: want a file path or a postgres:// URL"},
		{"/srv/a=b.db", "a value with '=' is not a database location"},
	} {
		err := CheckLocation(tc.in)
		if !errors.Is(err, ErrBadLocation) || !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("CheckLocation(%q) = %v, want %q...", tc.in, err, tc.want)
		}
	}
	for _, ok := range []string{"taosync.db", "./a://b", "postgres://db/central"} {
		if err := CheckLocation(ok); err != nil {
			t.Errorf("CheckLocation(%q): %v", ok, err)
		}
	}
}

// TestPostgresMigratesOnce: processes opening a new database at once bring
// its schema up to date once, under the advisory lock: every Open
// succeeds, at the last version.
func TestPostgresMigratesOnce(t *testing.T) {
	url := pgtest.NewDB(t)
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			d, err := Open(t.Context(), url, true)
			if err == nil {
				d.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	d, err := Open(t.Context(), url, false)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var version, rows int
	if err := d.QueryRow("SELECT MAX(version), COUNT(*) FROM schema_version").Scan(&version, &rows); err != nil {
		t.Fatal(err)
	}
	names, _ := pgMigrations.ReadDir("migrations/postgres")
	sqlite, _ := migrations.ReadDir("migrations")
	if version != len(names) || rows != 1 {
		t.Errorf("schema_version %d in %d rows, want %d in 1", version, rows, len(names))
	}
	// The same history: one PostgreSQL migration for each of SQLite's,
	// under the same name.
	for i, e := range sqlite {
		if i >= len(names) || names[i].Name() != e.Name() {
			t.Errorf("SQLite's migration %s has no PostgreSQL twin", e.Name())
		}
	}
	if len(names) != len(sqlite) {
		t.Errorf("%d PostgreSQL migrations for %d SQLite ones", len(names), len(sqlite))
	}
}

// TestPostgresRefusesForeign: Open without create refuses a database
// without a taosync schema, with create one holding another
// application's tables; neither is written to.
func TestPostgresRefusesForeign(t *testing.T) {
	empty, foreign := pgtest.NewDB(t), pgtest.NewDB(t)
	raw, err := sql.Open("pgx", foreign)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec("CREATE TABLE minutes (line TEXT)"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		url    string
		create bool
		want   string
	}{
		{empty, false, "it holds no taosync schema"},
		{foreign, false, "it holds tables of another application"},
		{foreign, true, "it holds tables of another application"},
	} {
		d, err := Open(t.Context(), tc.url, tc.create)
		if err == nil {
			d.Close()
		}
		if want := Redact(tc.url) + " is not a taosync database: " + tc.want; !errors.Is(err, ErrNotOurs) || err.Error() != want {
			t.Errorf("open %s (create %v): %v, want %q", tc.url, tc.create, err, want)
		}
	}
	var tables int
	if err := raw.QueryRow("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'").Scan(&tables); err != nil || tables != 1 {
		t.Errorf("the foreign database holds %d tables (%v), want its 1", tables, err)
	}
}

// TestPostgresBusy: a write transaction that waits for another writer
// longer than lock_timeout fails as SQLite's busy database does
// (ioerr.Busy), and changes nothing.
func TestPostgresBusy(t *testing.T) {
	url := pgtest.NewDB(t)
	d, err := Open(t.Context(), url+"&lock_timeout=200ms", true)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	other, err := Open(t.Context(), url, false)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	held, err := other.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Rollback()
	err = d.Tx(t.Context(), func(tx *sql.Tx) error { return SetMeta(t.Context(), tx, "k", "v") })
	if !ioerr.Busy(err) {
		t.Errorf("a writer waiting past lock_timeout: %v, want busy", err)
	}
	if _, err := Meta(t.Context(), other, "k"); !errors.Is(err, ErrNotFound) {
		t.Errorf("the busy writer wrote: %v", err)
	}
}

// TestPostgresReadSnapshot: a read-only transaction takes no writers' lock
// and reads one snapshot, whatever commits meanwhile.
func TestPostgresReadSnapshot(t *testing.T) {
	d, err := Open(t.Context(), pgtest.NewDB(t), true)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	count := func(q Querier) int {
		var n int
		if err := q.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM meta").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	read, err := d.BeginTx(t.Context(), &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer read.Rollback()
	before := count(read)
	// A writer meanwhile: not held up by the reader.
	if err := d.Tx(t.Context(), func(tx *sql.Tx) error { return SetMeta(t.Context(), tx, "k", "v") }); err != nil {
		t.Fatal(err)
	}
	if got := count(read); got != before {
		t.Errorf("the read transaction saw %d rows, then %d", before, got)
	}
	if got := count(d); got != before+1 {
		t.Errorf("after the write: %d rows, want %d", got, before+1)
	}
}

// TestPostgresConnections: a process opens at most pool_max_conns
// connections (taosync's parameter, not sent to the server), and its read
// transactions leave the writes some: with two, a write commits while a
// read transaction is open.
func TestPostgresConnections(t *testing.T) {
	url := pgtest.NewDB(t)
	if _, err := Open(t.Context(), url+"&pool_max_conns=1", true); !errors.Is(err, ErrBadLocation) {
		t.Fatalf("pool_max_conns=1: %v, want %v", err, ErrBadLocation)
	}
	d, err := Open(t.Context(), url+"&pool_max_conns=2", true)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if n := d.Stats().MaxOpenConnections; n != 2 || cap(d.readers) != 1 {
		t.Fatalf("%d connections and %d readers, want 2 and 1", n, cap(d.readers))
	}
	d2, err := Open(t.Context(), url, false)
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	if n := d2.Stats().MaxOpenConnections; n != pgMaxConns {
		t.Fatalf("%d connections by default, want %d", n, pgMaxConns)
	}
	tx, err := d.BeginRead(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer d.EndRead(tx)
	c := &CentralDB{DB: d}
	err = c.write(t.Context(), func(ctx context.Context, tx *sql.Tx) error { return SetMeta(ctx, tx, "k", "v") })
	if err != nil {
		t.Fatal(err)
	}
}

// TestPostgresSettings: each connection runs with the store's settings
// (no parallel workers, plans made for each run, the lock timeout), in
// read transactions too, unless the URL gives one of its own; the URL may
// give others of PostgreSQL's (random_page_cost, docs/operations.md).
func TestPostgresSettings(t *testing.T) {
	url := pgtest.NewDB(t)
	for _, c := range []struct {
		query string
		want  map[string]string
	}{
		{"", map[string]string{"max_parallel_workers_per_gather": "0", "plan_cache_mode": "force_custom_plan", "lock_timeout": "10s"}},
		{"&max_parallel_workers_per_gather=2&lock_timeout=2s&random_page_cost=1.1", map[string]string{"max_parallel_workers_per_gather": "2",
			"plan_cache_mode": "force_custom_plan", "lock_timeout": "2s", "random_page_cost": "1.1"}},
	} {
		d, err := Open(t.Context(), url+c.query, true)
		if err != nil {
			t.Fatal(err)
		}
		tx, err := d.BeginRead(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for k, want := range c.want {
			var got string
			if err := tx.QueryRowContext(t.Context(), "SHOW "+k).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("URL %q: %s is %s, want %s", c.query, k, got, want)
			}
		}
		d.EndRead(tx)
		d.Close()
	}
}

// TestSpareFitsThePool: the long write transactions a process may hold at
// once (Spare: the result imports) and its read transactions together
// leave two of the pool's connections to the short writes and the leases,
// whatever the pool's size; there is always room for one import, the
// least that makes progress, even in a pool too small to leave two.
func TestSpareFitsThePool(t *testing.T) {
	url := pgtest.NewDB(t)
	for _, conns := range []int{2, 3, 4, 8, 20, 100} {
		d, err := Open(t.Context(), fmt.Sprintf("%s&pool_max_conns=%d", url, conns), true)
		if err != nil {
			t.Fatal(err)
		}
		spare := d.Spare()
		if spare < 1 || (spare > 1 && spare+cap(d.readers) > conns-2) {
			t.Errorf("pool of %d: %d spare and %d read transactions", conns, spare, cap(d.readers))
		}
		d.Close()
	}
	d, err := Open(t.Context(), filepath.Join(t.TempDir(), "central.db"), true)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if n := d.Spare(); n != 0 {
		t.Errorf("SQLite spares %d connections, want 0: its writes take turns", n)
	}
}
