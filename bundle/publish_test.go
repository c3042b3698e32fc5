package bundle

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/taosync/taosync/internal/safefile"
	"github.com/taosync/taosync/manifest"
)

// recorder is a safefile.Injector that fails nothing and notes every
// operation asked about.
type recorder struct {
	mu  sync.Mutex
	ops []string
}

func (r *recorder) MaybeError(op safefile.Op, path string) error {
	r.mu.Lock()
	r.ops = append(r.ops, op.String()+" "+path)
	r.mu.Unlock()
	return nil
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ops := r.ops
	r.ops = nil
	return ops
}

// TestPublishOnlyRenames: CommitChunks leaves a whole, durable bundle in
// the hidden folder, manifest and signature included, and Publish, which
// callers run inside a database transaction, only renames the folder and
// fsyncs its parent: no file is written and no file fsynced while the
// transaction waits. Before Publish, no reader takes the hidden folder for
// a bundle.
func TestPublishOnlyRenames(t *testing.T) {
	w := newWorld(t)
	parent := t.TempDir()
	// Set before Create: the workers ask it from their first chunk.
	rec := &recorder{}
	defer safefile.SetInjector(rec)()
	wr, err := Create(parent, w.header(w.a, 1), Options{Recipient: w.a.id.Recipient(), Signer: w.central.priv, ChunkRecords: 3})
	if err != nil {
		t.Fatal(err)
	}
	if err := wr.BeginRecords("r"); err != nil {
		t.Fatal(err)
	}
	for _, r := range smallSections()[0].records {
		if err := wr.Record([]byte(r), false); err != nil {
			t.Fatal(err)
		}
	}
	rec.take()
	res, err := wr.CommitChunks()
	if err != nil {
		t.Fatal(err)
	}
	hidden := filepath.Join(parent, "."+filepath.Base(res.Dir)+partialSuffix)
	synced := rec.take()
	for _, name := range []string{manifest.SigName, manifest.FileName} {
		if !slices.Contains(synced, "sync "+filepath.Join(hidden, name)) {
			t.Errorf("CommitChunks did not fsync %s: %q", name, synced)
		}
	}
	if len(synced) == 0 || synced[len(synced)-1] != "sync "+hidden {
		t.Errorf("CommitChunks did not end with the fsync of the hidden folder: %q", synced)
	}
	if dirs, err := Find(parent); err != nil || len(dirs) != 0 {
		t.Fatalf("before Publish, Find = %v, %v; want no bundle", dirs, err)
	}
	// The hidden folder holds a whole bundle, which Find refuses when
	// given it itself: its export may never be recorded.
	if dirs, err := Find(hidden); !errors.Is(err, ErrUnpublished) {
		t.Fatalf("Find(hidden folder) = %v, %v; want ErrUnpublished", dirs, err)
	}

	if err := res.Publish(); err != nil {
		t.Fatal(err)
	}
	want := []string{"rename " + res.Dir, "sync " + parent}
	if got := rec.take(); !slices.Equal(got, want) {
		t.Errorf("Publish asked for %q, want %q", got, want)
	}
	if _, err := os.Stat(hidden); !os.IsNotExist(err) {
		t.Errorf("hidden folder after Publish: %v", err)
	}
	b, err := Open(res.Dir, w.trust(w.a))
	if err != nil {
		t.Fatal(err)
	}
	if got := len(b.Manifest.Sections[0].Chunks); got != 2 {
		t.Errorf("published bundle has %d chunks, want 2", got)
	}
}
