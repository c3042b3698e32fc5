package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
)

// TestExecutionDocumentsMigration: the executions central received before
// migration 4 keep every field, their documents in result_xml.
func TestExecutionDocumentsMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "taosync.db")
	db, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for v, name := range []string{"0001_home.sql", "0002_data.sql", "0003_results.sql"} {
		body, err := migrations.ReadFile("migrations/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(string(body) + fmt.Sprintf(";PRAGMA user_version = %d", v+1)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
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
}
