package safefile

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestBatch: a batch's files are whole under their names with no temporary
// file left beside them, and Sync reports a file it cannot sync.
func TestBatch(t *testing.T) {
	dir := t.TempDir()
	var b Batch
	want := map[string][]byte{}
	for i, name := range []string{"a/1", "a/2", "b/3"} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		want[p] = bytes.Repeat([]byte{byte(i)}, 1<<20+i)
		if err := b.Write(p, want[p], 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// Replacing a file in the batch is atomic too.
	p := filepath.Join(dir, "a/1")
	want[p] = []byte("new")
	if err := b.Write(p, want[p], 0o600); err != nil {
		t.Fatal(err)
	}
	if err := b.Sync(2); err != nil {
		t.Fatal(err)
	}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		got, err := os.ReadFile(p)
		if w, ok := want[p]; !ok || err != nil || !bytes.Equal(got, w) {
			t.Errorf("%s: %d bytes, %v; in the batch: %v", p, len(got), err, ok)
		}
		if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v", p, st.Mode(), err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Sync(2); err != nil {
		t.Errorf("Sync of an empty batch: %v", err)
	}
	b.Add(filepath.Join(dir, "gone"))
	if err := b.Sync(2); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Sync of a missing file: %v", err)
	}
}
