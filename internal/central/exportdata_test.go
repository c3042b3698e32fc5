package central_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/internal/central"
	"github.com/taosync/taosync/internal/store"
	"github.com/taosync/taosync/internal/testfixture"
)

// movingSource moves the client (it reports holding seq) after each of
// the first moves exports has read it, before it records its bundle.
type movingSource struct {
	*store.CentralDB
	seq          uint64
	moves, begun int
}

func (s *movingSource) BeginDataExport(ctx context.Context, client string) (taosync.DataExport, error) {
	ex, err := s.CentralDB.BeginDataExport(ctx, client)
	if err != nil {
		return nil, err
	}
	if s.begun++; s.begun <= s.moves {
		if err := s.ReportDataState(ctx, client, s.seq, 0, time.Now().Add(time.Duration(s.begun)*time.Second)); err != nil {
			ex.Rollback()
			return nil, err
		}
	}
	return ex, nil
}

// TestExportDataDoneAgain: an export whose client moved while it ran is
// done again, as a full snapshot, and only the bundle recorded is left in
// the folder; a client that moves at every try stops the export after
// three, with nothing left.
func TestExportDataDoneAgain(t *testing.T) {
	testfixture.OnEngines(t, testExportDataDoneAgain)
}

func testExportDataDoneAgain(t *testing.T, engine string) {
	f := testfixture.NewOn(t, engine)
	f.Register("ca", "A")
	first, err := f.C.ExportData(f.Ctx, "ca", t.TempDir(), central.ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// The client holds the first bundle: without the move, the next
	// export is a delta on it.
	src := &movingSource{CentralDB: f.C.Store, seq: first.Manifest.Seq, moves: 1}
	f.C.SetExports(src)
	out := t.TempDir()
	res, err := f.C.ExportData(f.Ctx, "ca", out, central.ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if src.begun != 2 || res.Manifest.Base != nil {
		t.Errorf("%d tries, base %v; want 2, the second a full snapshot", src.begun, res.Manifest.Base)
	}
	if left, _ := os.ReadDir(out); len(left) != 1 {
		t.Errorf("%d entries in the folder, want the one bundle", len(left))
	}
	cl, err := f.C.Store.GetClient(f.Ctx, f.C.Home.DB, "ca")
	if err != nil {
		t.Fatal(err)
	}
	if cl.DataBundle != res.Manifest.ID || res.Manifest.Seq <= first.Manifest.Seq {
		t.Errorf("central records bundle %s, want %s, of a seq after %d", cl.DataBundle, res.Manifest.ID, first.Manifest.Seq)
	}

	src = &movingSource{CentralDB: f.C.Store, seq: res.Manifest.Seq, moves: 10}
	f.C.SetExports(src)
	out = t.TempDir()
	if _, err := f.C.ExportData(f.Ctx, "ca", out, central.ExportOptions{}); !errors.Is(err, store.ErrExportMoved) || src.begun != 3 {
		t.Fatalf("%d tries, then %v; want 3, then %v", src.begun, err, store.ErrExportMoved)
	}
	if left, _ := os.ReadDir(out); len(left) != 0 {
		t.Errorf("%d entries left in the folder, want none", len(left))
	}
}
