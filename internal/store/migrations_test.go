package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"testing"

	"github.com/taosync/taosync"
)

// atVersion creates a database at path with only the first n migrations
// applied, as an older taosync left it, and returns it opened without
// migrating further.
func atVersion(t *testing.T, path string, n int) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=rwc")
	if err != nil {
		t.Fatal(err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	for v, name := range names[:n] {
		body, err := migrations.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(string(body) + fmt.Sprintf(";PRAGMA user_version = %d", v+1)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	return db
}

// TestExecutionDocumentsMigration: the executions central received before
// migration 5 keep every field, their documents in result_xml, and
// EachExecution reads them.
func TestExecutionDocumentsMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "taosync.db")
	db := atVersion(t, path, 3)
	const row = `'x-1', 'h1', 2, 'ca', 'd1', 't1', 'a1', 'finished', 's', 'f', '<assessmentResult/>', 'received', 'b1', 'r'`
	if _, err := db.Exec("INSERT INTO executions VALUES (" + row + ")"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	d, err := Open(ctx, path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var same bool
	var zst []byte
	err = d.QueryRow(`SELECT (id, content_hash, revision, client, delivery, test_taker, test_center, status, started_at,
		finished_at, result_xml, state, bundle_id, received_at) = (`+row+`), result_zst FROM executions`).Scan(&same, &zst)
	if err != nil || !same || zst != nil {
		t.Errorf("after the migration: same %v, result_zst %q, %v", same, zst, err)
	}
	// And it is read back as the ones stored since are.
	var docs []string
	err = (&CentralDB{DB: d}).EachExecution(ctx, true, func(e ExecutionEntry) error {
		docs = append(docs, *e.ResultXML)
		return nil
	})
	if err != nil || len(docs) != 1 || docs[0] != "<assessmentResult/>" {
		t.Errorf("documents read back after the migration: %q, %v", docs, err)
	}
}

// TestMigrateClientEntities: a central at schema version 3 kept what each
// client holds as one row per entity (client_entities). Migration 4 turns
// that into sorted id lists at change counter 0, so that the next delta
// sends every entity held and still in scope once and misses none, and
// leaves the scopes to be computed at the next export or load.
func TestMigrateClientEntities(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "taosync.db")
	raw := atVersion(t, path, 3)
	for _, q := range []string{
		`INSERT INTO meta (key, value) VALUES ('entity_version', '7')`,
		`INSERT INTO entities (type, id, data, version) VALUES
			('test-center', 'tc1', '{}', 1), ('test-taker', 'tt1', '{}', 2), ('test-taker', 'tt2', '{}', 2),
			('eligibility', 'e1', '{}', 3), ('delivery', 'd1', '{}', 2)`,
		`INSERT INTO entity_links (type, id, ref_type, ref_id) VALUES ('test-center', 'tc1', 'org', 'o1'),
			('eligibility', 'e1', 'test-center', 'tc1'), ('eligibility', 'e1', 'test-taker', 'tt2'),
			('eligibility', 'e1', 'delivery', 'd1')`,
		// Inserted out of order: the lists come out sorted.
		`INSERT INTO client_entities (client, type, id, version) VALUES ('c1', 'test-taker', 'tt2', 2),
			('c1', 'test-taker', 'tt1', 2), ('c1', 'test-center', 'tc1', 1), ('c2', 'test-taker', 'tt1', 2)`,
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(q, err)
		}
	}
	raw.Close()

	db, err := Open(ctx, path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var tables int
	if err := db.QueryRow("SELECT COUNT(*) FROM sqlite_schema WHERE name = 'client_entities'").Scan(&tables); err != nil || tables != 0 {
		t.Fatalf("client_entities still there (%d, %v)", tables, err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	got, err := loadHeld(ctx, tx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	want := map[taosync.Type]held{
		taosync.TestTaker:  {version: 0, ids: []string{"tt1", "tt2"}},
		taosync.TestCenter: {version: 0, ids: []string{"tc1"}},
	}
	if len(got) != len(want) {
		t.Fatalf("c1 holds %v, want %v", got, want)
	}
	for typ, w := range want {
		if got[typ].version != w.version || !slices.Equal(got[typ].ids, w.ids) {
			t.Errorf("c1 holds %s %+v, want %+v", typ, got[typ], w)
		}
	}
	if err := refreshStaleScopes(ctx, tx); err != nil {
		t.Fatal(err)
	}
	var scope []string
	rows, err := tx.Query("SELECT org || ' ' || type || ' ' || id FROM scopes ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		rows.Scan(&s)
		scope = append(scope, s)
	}
	rows.Close()
	wantScope := []string{"o1 delivery d1", "o1 eligibility e1", "o1 test-center tc1", "o1 test-taker tt2"}
	if !slices.Equal(scope, wantScope) {
		t.Errorf("scopes %q, want %q", scope, wantScope)
	}
	var stale int
	if err := tx.QueryRow("SELECT COUNT(*) FROM meta WHERE key = 'scopes_stale'").Scan(&stale); err != nil || stale != 0 {
		t.Errorf("scopes still marked stale (%d, %v)", stale, err)
	}
}

// TestClientReportsMigration: a central at schema version 6 holding a
// client's report far beyond what it made for it (a wedged client) is
// brought back to what it made; a report within RestoreWindow is kept.
func TestClientReportsMigration(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "taosync.db")
	raw := atVersion(t, path, 6)
	if _, err := raw.Exec(`INSERT INTO clients (id, org, age_recipient, sign_key, key_id, secret_hash, created_at,
		next_seq, data_seq, acked_seq, receipt_seq, acked_receipt_seq) VALUES
		('wedged', 'o', 'age1', 'k', 'K1', 'h', 'c', 5, 4, 9223372036854775807, 3, 9223372036854775807),
		('restored', 'o', 'age1', 'k', 'K2', 'h', 'c', 5, 4, 1048581, 3, 1048579)`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	d, err := Open(ctx, path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	c := &CentralDB{DB: d}
	for id, want := range map[string][2]uint64{"wedged": {5, 3}, "restored": {1048581, 1048579}} {
		cl, err := c.GetClient(ctx, d, id)
		if err != nil {
			t.Fatal(err)
		}
		if got := [2]uint64{cl.AckedSeq, cl.AckedReceiptSeq}; got != want {
			t.Errorf("%s: acked_seq, acked_receipt_seq %v, want %v", id, got, want)
		}
		if err := cmp.Or(cl.CheckDataSeq("acked_seq", cl.AckedSeq), cl.CheckReceiptSeq("acked_receipt_seq", cl.AckedReceiptSeq)); err != nil {
			t.Errorf("%s: %v", id, err)
		}
	}
}
