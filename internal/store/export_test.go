package store_test

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/exporter"
	"github.com/taosync/taosync/internal/pgtest"
	"github.com/taosync/taosync/internal/store"
)

// pausedSource hands out data exports that stop in their read phase, at
// their first record, until resumed: whatever runs meanwhile overlaps
// them.
type pausedSource struct {
	*store.CentralDB
	paused, resume chan struct{}
}

func (s *pausedSource) BeginDataExport(ctx context.Context, client string) (taosync.DataExport, error) {
	ex, err := s.CentralDB.BeginDataExport(ctx, client)
	if err != nil {
		return nil, err
	}
	return &pausedExport{DataExport: ex, s: s}, nil
}

type pausedExport struct {
	taosync.DataExport
	s    *pausedSource
	once sync.Once
}

func (e *pausedExport) Records(ctx context.Context, t taosync.Type, full bool, fn func(taosync.Record) error) error {
	return e.DataExport.Records(ctx, t, full, func(r taosync.Record) error {
		e.once.Do(func() {
			close(e.s.paused)
			<-e.s.resume
		})
		return fn(r)
	})
}

// pausedExport starts a data export for c into a new folder and returns
// once it is paused in its read phase; finish lets it go on and returns
// what it did.
func (w *world) pausedExport(c *clientSide) (dir string, finish func() (*exporter.DataWritten, error)) {
	dir = w.newDir("paused")
	src := &pausedSource{CentralDB: w.c, paused: make(chan struct{}), resume: make(chan struct{})}
	type result struct {
		res *exporter.DataWritten
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := exporter.Data(w.ctx, src, dir, exporter.DataOptions{Client: c.name, ChunkRecords: 2,
			Expiry: expiry, Signer: w.central.signer, AgeRecipient: w.central.keys.Age, Now: time.Now(), Log: w.discard})
		done <- result{res, err}
	}()
	select {
	case <-src.paused:
	case r := <-done:
		w.failf("the export for %s ended before its first record: %v", c.name, r.err)
	}
	return dir, func() (*exporter.DataWritten, error) {
		close(src.resume)
		r := <-done
		return r.res, r.err
	}
}

// TestExportsOverlap: while one client's data export is paused in its read
// phase, another client's export runs whole and a load changes central's
// data; neither waits for the first. The paused export then records its
// bundle, of the data as it read it, and the next delta carries the load.
func TestExportsOverlap(t *testing.T) {
	for _, engine := range pgtest.Engines {
		t.Run(engine, func(t *testing.T) {
			withCentral(t, engine, 1, func(w *world) {
				w.c.Writes = &sync.Mutex{} // as central sets it
				w.load("org-a", "tc-a", []string{"tt-1", "tt-2"}, "e-a")
				w.load("org-b", "tc-b", []string{"tt-3"}, "e-b")
				a, b := w.initClient("ca", "tc-a", nil), w.initClient("cb", "tc-b", nil)
				w.register(a, "org-a")
				w.register(b, "org-b")
				dir, finish := w.pausedExport(a)

				w.dataBundle(b, importKillNone)
				w.checkScope(b, []string{"delivery/" + delivery, "eligibility/e-b", "test-center/tc-b", "test-taker/tt-3"})
				_, err := w.c.Load(w.ctx, "test-taker.jsonl", taosync.TestTaker, &entitySource{es: []taosync.Entity{{Type: taosync.TestTaker,
					ID: "tt-1", Data: []byte(`{"id":"tt-1","login":"renamed","language":"en"}`)}}}, false)
				w.must(err, "load during the export")

				res, err := finish()
				w.must(err, "the paused export")
				// The data moved after its snapshot: what it wrote is not kept for
				// the organisation's next full export.
				var kept int
				w.must(w.central.h.DB.QueryRowContext(w.ctx, "SELECT count(*) FROM snapshots").Scan(&kept), "kept snapshots")
				if kept != 0 {
					t.Errorf("%d snapshots kept of data that has changed since", kept)
				}
				if lines := w.importClient(a, dir, importKillNone); len(lines) != 1 || lines[0].BundleID != res.Manifest.ID {
					t.Fatalf("import of the paused export's bundle: %+v", lines)
				}
				var login string
				w.must(a.h.DB.QueryRowContext(w.ctx, "SELECT data->>'login' FROM entities WHERE type = 'test-taker' AND id = 'tt-1'").Scan(&login), "tt-1")
				if login != "tt-1" {
					t.Fatalf("the paused export carried tt-1 with login %q, not as it read it", login)
				}
				next := w.dataBundle(a, importKillNone)
				if next.Manifest.Base == nil || next.Counts[string(taosync.TestTaker)].Updated != 1 {
					t.Fatalf("the next export for ca: base %v, counts %+v; want a delta updating tt-1", next.Manifest.Base, next.Counts)
				}
				w.checkScope(a, []string{"delivery/" + delivery, "eligibility/e-a", "test-center/tc-a", "test-taker/tt-1", "test-taker/tt-2"})
			})
		})
	}
}

// TestExportMoved: an export of a client paused in its read phase while
// another export of the same client is recorded records nothing, publishes
// nothing, and leaves no number pending: the next export is a delta on the
// other one.
func TestExportMoved(t *testing.T) {
	for _, engine := range pgtest.Engines {
		t.Run(engine, func(t *testing.T) {
			withCentral(t, engine, 1, func(w *world) {
				w.load("org-a", "tc-a", []string{"tt-1"}, "e-a")
				a := w.initClient("ca", "tc-a", nil)
				w.register(a, "org-a")
				dir, finish := w.pausedExport(a)
				other := w.dataBundle(a, importKillNone)

				_, err := finish()
				if !errors.Is(err, store.ErrExportMoved) {
					t.Fatalf("the overtaken export: %v, want %v", err, store.ErrExportMoved)
				}
				if left, _ := os.ReadDir(dir); len(left) != 0 {
					t.Fatalf("the overtaken export left %d entries in its folder", len(left))
				}
				cl, err := w.c.GetClient(w.ctx, w.central.h.DB, a.name)
				w.must(err, "client")
				if cl.DataBundle != other.Manifest.ID {
					t.Fatalf("central records bundle %s for ca, want %s", cl.DataBundle, other.Manifest.ID)
				}
				w.must(w.c.ReportDataState(w.ctx, a.name, other.Manifest.Seq, 0, time.Now()), "report")
				_, err = w.c.Load(w.ctx, "test-taker.jsonl", taosync.TestTaker, &entitySource{es: []taosync.Entity{{Type: taosync.TestTaker,
					ID: "tt-1", Data: []byte(`{"id":"tt-1","login":"renamed","language":"en"}`)}}}, false)
				w.must(err, "load")
				if next := w.dataBundle(a, importKillNone); next.Manifest.Base == nil || next.Manifest.Base.ID != other.Manifest.ID {
					t.Fatalf("the next export for ca has base %v, want a delta on %s", next.Manifest.Base, other.Manifest.ID)
				}
			})
		})
	}
}

// TestExportOvertakenBeforeItsSnapshot: an export that reserved its number
// and waits for a read slot while another process on the same database
// exports the client and records its bundle fails as moved (so that
// central does it again) rather than record a bundle numbered before the
// one the client holds next.
func TestExportOvertakenBeforeItsSnapshot(t *testing.T) {
	for _, engine := range pgtest.Engines {
		t.Run(engine, func(t *testing.T) {
			withCentral(t, engine, 1, func(w *world) {
				w.load("org-a", "tc-a", []string{"tt-1"}, "e-a")
				a := w.initClient("ca", "tc-a", nil)
				w.register(a, "org-a")
				db2, err := store.Open(w.ctx, w.central.h.DB.Path, false)
				w.must(err, "open the database a second time")
				defer db2.Close()
				other := &store.CentralDB{DB: db2, Chunks: w.central.chunks}

				release := store.HoldReads(w.c.DB)
				type begun struct {
					ex  taosync.DataExport
					err error
				}
				done := make(chan begun, 1)
				go func() {
					ex, err := w.c.BeginDataExport(w.ctx, a.name)
					done <- begun{ex, err}
				}()
				for i := 0; ; i++ {
					cl, err := w.c.GetClient(w.ctx, db2, a.name)
					w.must(err, "client")
					if cl.NextSeq > 0 {
						break
					}
					if i == 1000 {
						release()
						t.Fatal("the first export reserved no number")
					}
					time.Sleep(10 * time.Millisecond)
				}
				res, err := exporter.Data(w.ctx, other, w.newDir("other"), exporter.DataOptions{Client: a.name, ChunkRecords: 2,
					Expiry: expiry, Signer: w.central.signer, AgeRecipient: w.central.keys.Age, Now: time.Now(), Log: w.discard})
				release()
				w.must(err, "the other process's export")
				b := <-done
				if b.ex != nil {
					b.ex.Rollback()
				}
				if !errors.Is(b.err, store.ErrExportMoved) {
					t.Fatalf("the overtaken export began with %v, want %v", b.err, store.ErrExportMoved)
				}
				cl, err := w.c.GetClient(w.ctx, w.central.h.DB, a.name)
				w.must(err, "client")
				if cl.DataSeq != res.Manifest.Seq || cl.DataBundle != res.Manifest.ID {
					t.Fatalf("central records bundle %d %s, want %d %s", cl.DataSeq, cl.DataBundle, res.Manifest.Seq, res.Manifest.ID)
				}
			})
		})
	}
}

// TestExportKeepsWhatNoneKept: two clients of one organisation export at
// once, one of them its test centres only. Each type's snapshot is kept
// once, by whichever export recorded it first, and the next full export
// of the organisation sends them all without reading a record.
func TestExportKeepsWhatNoneKept(t *testing.T) {
	for _, engine := range pgtest.Engines {
		t.Run(engine, func(t *testing.T) {
			withCentral(t, engine, 1, func(w *world) {
				w.chunk = 2 // as pausedExport's
				w.load("org-a", "tc-a", []string{"tt-1", "tt-2"}, "e-a")
				a, b, c := w.initClient("ca", "tc-a", nil), w.initClient("cb", "tc-a", nil), w.initClient("cc", "tc-a", nil)
				for _, x := range []*clientSide{a, b, c} {
					w.register(x, "org-a")
				}
				dir, finish := w.pausedExport(a)
				_, err := exporter.Data(w.ctx, w.c, w.newDir("centres"), exporter.DataOptions{Client: b.name, ChunkRecords: 2,
					Types: []taosync.Type{taosync.TestCenter}, Expiry: expiry, Signer: w.central.signer,
					AgeRecipient: w.central.keys.Age, Now: time.Now(), Log: w.discard})
				w.must(err, "export of the test centres")
				_, err = finish()
				w.must(err, "the paused export")
				var kept int
				w.must(w.central.h.DB.QueryRowContext(w.ctx, "SELECT count(*) FROM snapshots WHERE org = 'org-a'").Scan(&kept), "kept")
				if kept != len(taosync.Types) {
					t.Errorf("%d types' snapshots kept, want %d", kept, len(taosync.Types))
				}
				w.importClient(a, dir, importKillNone)
				before := w.tally.get(keptSnapshot)
				w.dataBundle(c, importKillNone)
				if w.tally.get(keptSnapshot) == before {
					t.Error("the next full export of org-a found no kept snapshot")
				}
				w.checkScope(c, []string{"delivery/" + delivery, "eligibility/e-a", "test-center/tc-a", "test-taker/tt-1", "test-taker/tt-2"})
			})
		})
	}
}
