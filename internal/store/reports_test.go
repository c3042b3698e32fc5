package store

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/taosync/taosync"
)

// TestRecordReport: a report over HTTP always replaces the one kept (the
// centre's state now, whatever its clock says); one from a stick only if
// the client wrote it later than the one kept.
func TestRecordReport(t *testing.T) {
	ctx := t.Context()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "c.db"), true)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c := &Central{DB: db}
	at := func(day int) taosync.Readiness {
		return taosync.Readiness{Version: "1.0.0", At: time.Date(2026, 5, day, 8, 0, 0, 0, time.UTC), DataSeq: uint64(day)}
	}
	for _, step := range []struct {
		day  int
		via  string
		kept int // the day of the report kept after it
	}{
		{10, "folder", 10},
		{8, "folder", 10}, // an older stick: ignored
		{12, "folder", 12},
		{5, "http", 5}, // the centre now, its clock set back
		{4, "folder", 5},
		{6, "folder", 6},
	} {
		if err := RecordReport(ctx, db, "ca", at(step.day), step.via); err != nil {
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
}
