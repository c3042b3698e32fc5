package importer_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/bundle"
	"github.com/taosync/taosync/importer"
	"github.com/taosync/taosync/internal/central"
	"github.com/taosync/taosync/internal/client"
	"github.com/taosync/taosync/internal/load"
	"github.com/taosync/taosync/internal/testfixture"
)

// racingTarget lets another import run between the stream checks an import
// makes before its transaction and the transaction itself, as a second
// process would: other runs once, just before the transaction begins.
type racingTarget struct {
	taosync.DataTarget
	other func()
}

func (t *racingTarget) BeginApply(ctx context.Context, full bool, packageChunks []string) (taosync.DataApply, error) {
	if t.other != nil {
		t.other()
		t.other = nil
	}
	return t.DataTarget.BeginApply(ctx, full, packageChunks)
}

// exportData writes a data bundle for client c1 into a new folder, after
// giving test-taker t1 the first name name.
func exportData(t *testing.T, f *testfixture.Fixture, name string, full bool) string {
	t.Helper()
	if name != "" {
		r, err := load.NewReader(strings.NewReader("id,login,first_name\nt1,t1,"+name+"\n"), "tt.csv", load.CSV, taosync.TestTaker)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.C.Store.Load(f.Ctx, "tt.csv", taosync.TestTaker, r, false); err != nil {
			t.Fatal(err)
		}
	}
	out := t.TempDir()
	if _, err := f.C.ExportData(f.Ctx, "c1", out, central.ExportOptions{Full: full}); err != nil {
		t.Fatal(err)
	}
	return out
}

func importInto(t *testing.T, cl *client.Client, dir string, target taosync.DataTarget) []importer.Line {
	t.Helper()
	opts, err := cl.Options(context.Background(), "folder")
	if err != nil {
		t.Fatal(err)
	}
	lines, err := importer.Data(context.Background(), dir, target, opts)
	if err != nil {
		t.Fatal(err)
	}
	return lines
}

// TestImportRaceNeverRollsBack: an older delta (seq 2) whose stream checks
// passed before a full snapshot (seq 3) was applied by another import is
// refused as a rollback in its transaction; the client keeps seq 3 and the
// snapshot's data.
func TestImportRaceNeverRollsBack(t *testing.T) {
	f := testfixture.New(t)
	cl := f.Register("c1", "A")
	importInto(t, cl, exportData(t, f, "", true), cl.Local)
	delta := exportData(t, f, "Delta", false)
	full := exportData(t, f, "Snapshot", true)

	race := &racingTarget{DataTarget: cl.Local, other: func() {
		if l := importInto(t, cl, full, cl.Local); l[0].Outcome != importer.Applied {
			t.Fatalf("the full snapshot: %+v", l)
		}
	}}
	lines := importInto(t, cl, delta, race)
	if len(lines) != 1 || lines[0].Outcome != importer.Refused || !errors.Is(lines[0].Err(), taosync.ErrRollback) {
		t.Fatalf("the delta: %+v; want it refused as a rollback", lines)
	}
	s, err := cl.Local.DataState(f.Ctx)
	if err != nil || s.Seq != 3 {
		t.Fatalf("data state %+v (%v), want seq 3", s, err)
	}
	var data string
	if err := cl.Home.DB.QueryRowContext(f.Ctx, "SELECT data FROM entities WHERE type = 'test-taker' AND id = 't1'").Scan(&data); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(data, "Snapshot") {
		t.Fatalf("t1 is %s, want the snapshot's", data)
	}
}

// TestImportRaceDuplicate: the same bundle applied by another import
// between the checks and the transaction is reported already applied, not
// refused, and leaves no refusal in the history.
func TestImportRaceDuplicate(t *testing.T) {
	f := testfixture.New(t)
	cl := f.Register("c1", "A")
	dir := exportData(t, f, "", true)
	race := &racingTarget{DataTarget: cl.Local, other: func() {
		if l := importInto(t, cl, dir, cl.Local); l[0].Outcome != importer.Applied {
			t.Fatalf("the first import: %+v", l)
		}
	}}
	lines := importInto(t, cl, dir, race)
	if len(lines) != 1 || lines[0].Outcome != importer.Skipped || lines[0].Reason != "already applied" {
		t.Fatalf("the second import: %+v; want skipped, already applied", lines)
	}
}

// TestCommitNeverMovesBack: a data bundle committed on a state at or past
// its seq fails, whatever checks its caller made.
func TestCommitNeverMovesBack(t *testing.T) {
	f := testfixture.New(t)
	cl := f.Register("c1", "A")
	first := exportData(t, f, "", true)
	second := exportData(t, f, "Second", true)
	importInto(t, cl, second, cl.Local)
	opts, err := cl.Options(f.Ctx, "folder")
	if err != nil {
		t.Fatal(err)
	}
	dirs, err := bundle.Find(first)
	if err != nil || len(dirs) != 1 {
		t.Fatal(dirs, err)
	}
	b, err := bundle.Open(dirs[0], opts.Trust)
	if err != nil {
		t.Fatal(err)
	}
	ap, err := cl.Local.BeginApply(f.Ctx, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ap.Rollback()
	if err := ap.Commit(f.Ctx, b, taosync.HistoryEntry{}); !errors.Is(err, taosync.ErrRollback) {
		t.Fatalf("commit of seq 1 on seq 2: %v, want ErrRollback", err)
	}
}
