package store

import (
	"bytes"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestOpenRefusesForeignFiles: Open without create refuses a file that is
// not a taosync database (empty, too short, not SQLite, SQLite without a
// taosync schema) with ErrNotOurs, and leaves its bytes as they were; a
// taosync database opens.
func TestOpenRefusesForeignFiles(t *testing.T) {
	dir := t.TempDir()
	foreign := filepath.Join(dir, "foreign.db")
	db, err := sql.Open("sqlite3", "file:"+foreign+"?mode=rwc")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE minutes (line TEXT)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	ours := filepath.Join(dir, "ours.db")
	d, err := Open(t.Context(), ours, true)
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		path, want string
	}{
		{write("empty.db", ""), "it is empty"},
		{write("short.db", "SQLite format 3\x00"), "it is not an SQLite database"},
		{write("text.db", string(bytes.Repeat([]byte("minutes of the board. "), 10))), "it is not an SQLite database"},
		{foreign, "it holds no taosync schema"},
		{ours, ""},
	} {
		before, err := os.ReadFile(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		d, err := Open(t.Context(), tc.path, false)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.path, err)
			} else {
				d.Close()
			}
			continue
		}
		if err == nil {
			d.Close()
		}
		if want := tc.path + " is not a taosync database: " + tc.want; !errors.Is(err, ErrNotOurs) || err.Error() != want {
			t.Errorf("open %s: %v, want %q", tc.path, err, want)
		}
		if after, err := os.ReadFile(tc.path); err != nil || !bytes.Equal(after, before) {
			t.Errorf("%s changed by the open (%v)", tc.path, err)
		}
		if _, err := os.Stat(tc.path + "-wal"); err == nil {
			t.Errorf("%s: a journal was made", tc.path)
		}
	}
}
