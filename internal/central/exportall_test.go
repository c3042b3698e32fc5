package central_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/taosync/taosync/internal/central"
	"github.com/taosync/taosync/internal/testfixture"
)

// TestExportAllInterrupted: an interrupt (the context's end) stops the run
// after the client being exported, unlike a client's failure, and the next
// run finds that client current and goes on with the others.
func TestExportAllInterrupted(t *testing.T) { testfixture.OnEngines(t, testExportAllInterrupted) }

func testExportAllInterrupted(t *testing.T, engine string) {
	f := testfixture.NewOn(t, engine)
	for _, id := range []string{"ca", "cb", "cc"} {
		f.Register(id, "A")
	}
	out := t.TempDir()
	ctx, cancel := context.WithCancel(f.Ctx)
	defer cancel()
	var seen []string
	done, err := f.C.ExportAll(ctx, out, central.ExportOptions{}, func(e central.ClientExport, n, of int) {
		seen = append(seen, e.Client)
		if n != len(seen) || of != 3 {
			t.Errorf("done %d of %d, want %d of 3", n, of, len(seen))
		}
		cancel()
	})
	if !errors.Is(err, context.Canceled) || len(done) != 1 || done[0].Outcome != central.ExportWritten || len(seen) != 1 {
		t.Fatalf("ExportAll = %+v, %v; want ca written, then context canceled", done, err)
	}
	for _, id := range []string{"cb", "cc"} {
		if _, err := os.Stat(filepath.Join(out, id)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: %v, want no folder", id, err)
		}
	}
	done, err = f.C.ExportAll(f.Ctx, out, central.ExportOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"ca": central.ExportCurrent, "cb": central.ExportWritten, "cc": central.ExportWritten}
	for _, e := range done {
		if e.Outcome != want[e.Client] {
			t.Errorf("%s: %s (%s), want %s", e.Client, e.Outcome, e.Error, want[e.Client])
		}
		delete(want, e.Client)
	}
	if len(want) > 0 {
		t.Errorf("not exported: %v", want)
	}
}
