package store

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/internal/pgtest"
)

// TestRecordReport: a live report (with a pull) always replaces the one
// kept (the centre's state now, whatever its clock says); one inside a
// result bundle, by either road, only if the client wrote it later than the
// one kept; one dated ahead of central's clock counts as of now.
func TestRecordReport(t *testing.T) {
	for _, engine := range pgtest.Engines {
		t.Run(engine, func(t *testing.T) { testRecordReport(t, engine) })
	}
}

func testRecordReport(t *testing.T, engine string) {
	ctx := t.Context()
	where := pgtest.Where(t, engine)
	if where == "" {
		where = filepath.Join(t.TempDir(), "c.db")
	}
	db, err := Open(ctx, where, true)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c := &CentralDB{DB: db}
	at := func(day int) taosync.Readiness {
		return taosync.Readiness{Version: "1.0.0", At: time.Date(2026, 5, day, 8, 0, 0, 0, time.UTC), DataSeq: uint64(day)}
	}
	for _, step := range []struct {
		day  int
		via  string
		live bool
		kept int // the day of the report kept after it
	}{
		{10, "folder", false, 10},
		{8, "folder", false, 10}, // an older stick: ignored
		{12, "folder", false, 12},
		{5, "http", true, 5}, // the centre now, its clock set back
		{4, "folder", false, 5},
		{6, "folder", false, 6},
		{3, "http", false, 6}, // an old result bundle sent again over HTTP: ignored
		{7, "http", false, 7},
	} {
		if err := RecordReport(ctx, db, "ca", at(step.day), step.via, step.live); err != nil {
			t.Fatal(err)
		}
		reports, err := c.Reports(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := reports["ca"]; got.DataSeq != uint64(step.kept) {
			t.Errorf("after the report of day %d by %s: central keeps day %d, want %d", step.day, step.via, got.DataSeq, step.kept)
		}
	}
	// A clock years ahead counts as of now: a later report still passes.
	future := at(1)
	future.At, future.DataSeq = time.Now().AddDate(5, 0, 0), 100
	if err := RecordReport(ctx, db, "ca", future, "folder", false); err != nil {
		t.Fatal(err)
	}
	next := at(1)
	next.At, next.DataSeq = time.Now().Add(time.Minute), 101
	if err := RecordReport(ctx, db, "ca", next, "folder", false); err != nil {
		t.Fatal(err)
	}
	if reports, err := c.Reports(ctx); err != nil || reports["ca"].DataSeq != 101 {
		t.Errorf("after a report from a clock five years ahead, then one a minute ahead: central keeps seq %d, want 101 (%v)", reports["ca"].DataSeq, err)
	}
}
