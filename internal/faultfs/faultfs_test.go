package faultfs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taosync/taosync/internal/safefile"
)

// TestWriteFile fails each operation of an atomic replace in turn: the
// write returns the injected error and the file keeps its old content, and
// no temporary file is left beside it.
func TestWriteFile(t *testing.T) {
	for _, kind := range Kinds {
		dir := t.TempDir()
		p := filepath.Join(dir, "f")
		if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
		counter := &Injector{Kind: kind}
		clear := Install(t, counter)
		if err := safefile.WriteFile(p, []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
		clear()
		ops := counter.Seen()
		want := 5 // create, write, sync, rename, and the folder's sync
		if kind.Ops != nil {
			want = 2 // the two syncs
		}
		if ops != want {
			t.Fatalf("%s: %d operations, want %d", kind.Name, ops, want)
		}
		for n := 1; n <= ops; n++ {
			in := &Injector{Kind: kind, N: n}
			clear := Install(t, in)
			err := safefile.WriteFile(p, []byte("new"), 0o644)
			clear()
			if !errors.Is(err, kind.Err) {
				t.Errorf("%s at op %d (%s): %v", kind.Name, n, in.Failed(), err)
			}
			got, _ := os.ReadFile(p)
			// Only the folder's sync comes after the rename.
			want := "old"
			if n == ops {
				want = "new"
			}
			if string(got) != want {
				t.Errorf("%s at op %d (%s): the file holds %q, want %q", kind.Name, n, in.Failed(), got, want)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 {
				t.Errorf("%s at op %d (%s): %d files left in the folder", kind.Name, n, in.Failed(), len(entries))
			}
			if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestBatch: a batch reports a fault met by any of its files, even in the
// fsyncs it runs in the background, and removes a file whose fsync failed.
func TestBatch(t *testing.T) {
	for _, kind := range Kinds {
		for n := 1; ; n++ {
			dir := t.TempDir()
			in := &Injector{Kind: kind, N: n}
			clear := Install(t, in)
			var b safefile.Batch
			var err error
			for _, name := range []string{"a", "b", "c"} {
				if err = b.Write(filepath.Join(dir, name), []byte(name), 0o600); err != nil {
					break
				}
			}
			serr := b.Sync()
			clear()
			if in.Failed() == "" {
				if n == 1 {
					t.Fatalf("%s: no operation met", kind.Name)
				}
				break
			}
			if !errors.Is(err, kind.Err) && !errors.Is(serr, kind.Err) {
				t.Errorf("%s at op %d (%s): write %v, sync %v", kind.Name, n, in.Failed(), err, serr)
			}
			// A file whose fsync failed is gone, to be written again.
			if op, p, _ := strings.Cut(in.Failed(), " "); op == safefile.OpSync.String() && p != dir {
				if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s at op %d (%s): the file is still there (%v)", kind.Name, n, in.Failed(), err)
				}
			}
		}
	}
}
