package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/bundle"
	"github.com/taosync/taosync/internal/load"
	"github.com/taosync/taosync/internal/pgtest"
	"github.com/taosync/taosync/internal/store"
	"github.com/taosync/taosync/manifest"
)

// TestPutChunk: the executions of a chunk get the statuses they would get
// one after another, on both engines (PostgreSQL stores the new ones of a
// chunk at once): an id twice in a chunk is a duplicate or a conflict of
// the first; and the first execution out of scope, in order, is the one
// refused, whichever else is.
func TestPutChunk(t *testing.T) {
	for _, engine := range pgtest.Engines {
		t.Run(engine, func(t *testing.T) { testPutChunk(t, engine) })
	}
}

func testPutChunk(t *testing.T, engine string) {
	ctx := context.Background()
	c := centralWithClient(t, engine, "hash")
	loadCSV(t, c,
		taosync.TestCenter, "id,label,org_id\na1,Aarau,A\nb1,Bern,B\n",
		taosync.TestTaker, "id,login\nt1,t1\nt2,t2\nt3,t3\n",
		taosync.Delivery, "id,label\nd1,Maths\n",
		taosync.Eligibility, "id,test_center,delivery,test_takers\ne1,a1,d1,t1|t2\ne2,b1,d1,t3\n")
	x := func(id string, rev int64, taker, center, result string) taosync.OutgoingExecution {
		e := taosync.Execution{ID: id, Delivery: "d1", TestTaker: taker, TestCenter: center, Status: "finished",
			StartedAt: "2026-06-01T09:00:00Z", FinishedAt: "2026-06-01T10:00:00Z", ResultXML: "<r>" + result + "</r>"}
		return taosync.OutgoingExecution{Execution: e, Revision: rev, ContentHash: e.ContentHash()}
	}
	const (
		rec  = taosync.ReceiptReceived
		dup  = taosync.ReceiptDuplicate
		conf = taosync.ReceiptConflict
	)
	a, err := c.BeginResults(ctx, "ca", taosync.ClientState{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Rollback()
	for i, chunk := range []struct {
		xs   []taosync.OutgoingExecution
		want []string
	}{
		{[]taosync.OutgoingExecution{x("x1", 1, "t1", "a1", "A"), x("x2", 1, "t2", "a1", "A"), x("x1", 1, "t1", "a1", "A"),
			x("x3", 1, "t1", "a1", "A"), x("x3", 1, "t1", "a1", "B"), x("x4", 1, "t2", "a1", "A"), x("x4", 2, "t2", "a1", "B")},
			[]string{rec, rec, dup, rec, conf, rec, rec}},
		{[]taosync.OutgoingExecution{x("x2", 1, "t2", "a1", "A"), x("x5", 1, "t1", "a1", "A"), x("x4", 3, "t2", "a1", "C")},
			[]string{dup, rec, rec}},
	} {
		got, err := a.Put(ctx, chunk.xs, a.Prepare(chunk.xs), "bundle-1")
		if err != nil || !slices.Equal(got, chunk.want) {
			t.Errorf("chunk %d: %v, %v; want %v", i+1, got, err, chunk.want)
		}
	}
	a.Rollback()

	// Out of scope: a centre of another organisation, then a test taker
	// not eligible: the first is refused.
	a, err = c.BeginResults(ctx, "ca", taosync.ClientState{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Rollback()
	xs := []taosync.OutgoingExecution{x("y1", 1, "t1", "a1", "A"), x("y2", 1, "t1", "b1", "A"), x("y3", 1, "t3", "a1", "A")}
	_, err = a.Put(ctx, xs, a.Prepare(xs), "bundle-2")
	var xerr *taosync.ExecutionError
	if !errors.As(err, &xerr) || !errors.Is(err, taosync.ErrOutOfScope) || xerr.ID != "y2" || xerr.Field != "test_center" {
		t.Errorf("a chunk with y2 and y3 out of scope: %v, want y2 refused for its test_center", err)
	}
}

// TestPreparedBounded: an import keeps at most store.MaxPrepared statements
// prepared, however many sizes of insert its chunks need (on SQLite each
// size is a statement of its own), and stores every execution.
func TestPreparedBounded(t *testing.T) {
	for _, engine := range pgtest.Engines {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			_, a := oneTakerImport(t, engine)
			n := 0
			for size := 1; size <= 3*store.MaxPrepared; size++ {
				var xs []taosync.OutgoingExecution
				for range size {
					n++
					xs = append(xs, oneTakerExecution(fmt.Sprintf("x%d", n)))
				}
				got, err := a.Put(ctx, xs, a.Prepare(xs), "bundle-1")
				if err != nil || len(got) != size || slices.ContainsFunc(got, func(s string) bool { return s != taosync.ReceiptReceived }) {
					t.Fatalf("chunk of %d: %v, %v", size, got, err)
				}
				if p := store.PreparedStatements(a); p > store.MaxPrepared {
					t.Fatalf("after a chunk of %d: %d statements prepared, more than %d", size, p, store.MaxPrepared)
				}
			}
		})
	}
}

// oneTakerImport is a result import of client ca on a central whose
// organisation has one test centre, test taker, delivery and eligibility
// (a1, t1, d1, e1); it is rolled back at the end of the test unless
// committed.
func oneTakerImport(t *testing.T, engine string) (*store.CentralDB, taosync.ResultApply) {
	t.Helper()
	c := centralWithClient(t, engine, "hash")
	loadCSV(t, c,
		taosync.TestCenter, "id,label,org_id\na1,Aarau,A\n",
		taosync.TestTaker, "id,login\nt1,t1\n",
		taosync.Delivery, "id,label\nd1,Maths\n",
		taosync.Eligibility, "id,test_center,delivery,test_takers\ne1,a1,d1,t1\n")
	a, err := c.BeginResults(t.Context(), "ca", taosync.ClientState{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Rollback() })
	return c, a
}

// oneTakerExecution is a finished execution of id in oneTakerImport's scope.
func oneTakerExecution(id string) taosync.OutgoingExecution {
	e := taosync.Execution{ID: id, Delivery: "d1", TestTaker: "t1", TestCenter: "a1",
		Status: "finished", StartedAt: "2026-06-01T09:00:00Z", FinishedAt: "2026-06-01T10:00:00Z", ResultXML: "<r/>"}
	return taosync.OutgoingExecution{Execution: e, Revision: 1, ContentHash: e.ContentHash()}
}

// loadCSV loads master data into central: pairs of a type and the CSV
// text of its entities.
func loadCSV(t testing.TB, c *store.CentralDB, pairs ...any) {
	t.Helper()
	for i := 0; i+1 < len(pairs); i += 2 {
		typ, csv := pairs[i].(taosync.Type), pairs[i+1].(string)
		r, err := load.NewReader(strings.NewReader(csv), string(typ)+".csv", load.CSV, typ)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Load(t.Context(), string(typ)+".csv", typ, r, false); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPutLargeChunk: chunks larger than a statement's batch get the
// statuses one after another would give them, on both engines: new ids,
// an id twice in the chunk, the same content again (a duplicate), other
// content of the same revision (a conflict) and a later revision; and a
// chunk whose 300th execution is out of scope, for each reason, is refused
// for that execution, as one by one (that nothing of such an import is
// stored, the importer's TestOutOfScopeDeepInChunk shows).
func TestPutLargeChunk(t *testing.T) {
	for _, engine := range pgtest.Engines {
		t.Run(engine, func(t *testing.T) { testPutLargeChunk(t, engine) })
	}
}

func testPutLargeChunk(t *testing.T, engine string) {
	ctx := context.Background()
	c := centralWithClient(t, engine, "hash")
	const n = 600 // more than one batch of rows on SQLite
	var takers, ids strings.Builder
	takers.WriteString("id,login\ntb,tb\n")
	for i := range n {
		fmt.Fprintf(&takers, "t%d,t%d\n", i, i)
		if i > 0 {
			ids.WriteString("|")
		}
		fmt.Fprintf(&ids, "t%d", i)
	}
	loadCSV(t, c,
		taosync.TestCenter, "id,label,org_id\na1,Aarau,A\nb1,Bern,B\n",
		taosync.TestTaker, takers.String(),
		taosync.Delivery, "id,label\nd1,Maths\nd2,Physics\n",
		taosync.Eligibility, "id,test_center,delivery,test_takers\ne1,a1,d1,"+ids.String()+"\ne2,a1,d2,t0\ne3,b1,d1,tb\n")
	x := func(id string, rev int64, taker, center, delivery, result string) taosync.OutgoingExecution {
		e := taosync.Execution{ID: id, Delivery: delivery, TestTaker: taker, TestCenter: center, Status: "finished",
			StartedAt: "2026-06-01T09:00:00Z", FinishedAt: "2026-06-01T10:00:00Z", ResultXML: "<r>" + result + "</r>"}
		return taosync.OutgoingExecution{Execution: e, Revision: rev, ContentHash: e.ContentHash()}
	}
	const (
		rec  = taosync.ReceiptReceived
		dup  = taosync.ReceiptDuplicate
		conf = taosync.ReceiptConflict
	)
	var first, second []taosync.OutgoingExecution
	var want1, want2 []string
	for i := range n {
		id, taker := fmt.Sprintf("x%d", i), fmt.Sprintf("t%d", i)
		first, want1 = append(first, x(id, 1, taker, "a1", "d1", "A")), append(want1, rec)
		switch i % 4 {
		case 0:
			second, want2 = append(second, x(id, 1, taker, "a1", "d1", "A")), append(want2, dup)
		case 1:
			second, want2 = append(second, x(id, 1, taker, "a1", "d1", "B")), append(want2, conf)
		case 2:
			second, want2 = append(second, x(id, 2, taker, "a1", "d1", "B")), append(want2, rec)
		case 3:
			second, want2 = append(second, x("y"+id, 1, taker, "a1", "d1", "A")), append(want2, rec)
		}
	}
	// An id twice in the first chunk, its first after the first batch on
	// SQLite: the same content, then other content of the same revision.
	first, want1 = append(first, first[550], x("x551", 1, "t551", "a1", "d1", "B")), append(want1, dup, conf)
	// An id new in the second chunk, twice.
	second, want2 = append(second, second[3]), append(want2, dup)

	a, err := c.BeginResults(ctx, "ca", taosync.ClientState{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Rollback()
	for i, chunk := range [][]taosync.OutgoingExecution{first, second} {
		want := [][]string{want1, want2}[i]
		got, err := a.Put(ctx, chunk, a.Prepare(chunk), "bundle-1")
		if err != nil {
			t.Fatalf("chunk %d: %v", i+1, err)
		}
		for j := range want {
			if j >= len(got) || got[j] != want[j] {
				t.Fatalf("chunk %d: execution %d (%s): %v, want %s", i+1, j, chunk[j].ID, got[min(j, len(got)-1):], want[j])
			}
		}
		if len(got) != len(want) {
			t.Fatalf("chunk %d: %d statuses, want %d", i+1, len(got), len(want))
		}
	}
	a.Rollback()

	for _, tc := range []struct {
		name      string
		bad       taosync.OutgoingExecution
		field     string
		wantError string
	}{
		{"unknown test taker", x("z", 1, "tz", "a1", "d1", "A"), "test_taker", `execution "z": test_taker: unknown test-taker "tz"`},
		{"another organisation's test centre", x("z", 1, "t1", "b1", "d1", "A"), "test_center",
			`execution "z": test_center: test-center "b1" is not in the scope of client ca (organisation A)`},
		{"another organisation's test taker", x("z", 1, "tb", "a1", "d1", "A"), "test_taker",
			`execution "z": test_taker: test-taker "tb" is not in the scope of client ca (organisation A)`},
		{"not eligible", x("z", 1, "t1", "a1", "d2", "A"), "test_taker",
			`execution "z": test_taker: test-taker "t1" is not eligible for delivery "d2" in organisation A`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := c.BeginResults(ctx, "ca", taosync.ClientState{})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Rollback()
			chunk := slices.Clone(first[:n])
			chunk[299] = tc.bad
			chunk[400] = x("later", 1, "tz", "b1", "d2", "A") // out of scope too, after it
			_, err = a.Put(ctx, chunk, a.Prepare(chunk), "bundle-2")
			var xerr *taosync.ExecutionError
			if !errors.As(err, &xerr) || !errors.Is(err, taosync.ErrOutOfScope) || xerr.Field != tc.field || err.Error() != tc.wantError {
				t.Fatalf("the 300th execution out of scope: %v, want %s", err, tc.wantError)
			}
		})
	}
}

// TestPutManyExecutions: one bundle of 20,000 executions is stored in one
// transaction on both engines. On PostgreSQL its import locks each id
// until it commits: as one advisory lock an id, they filled the server's
// lock table (sized for 64 locks a connection by default), which failed
// the import with "out of shared memory" at about 12,500 executions here
// (checked), and at a few thousand for imports at once.
func TestPutManyExecutions(t *testing.T) {
	for _, engine := range pgtest.Engines {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			c, a := oneTakerImport(t, engine)
			const chunks, size = 40, 500
			for i := range chunks {
				xs := make([]taosync.OutgoingExecution, size)
				for j := range xs {
					xs[j] = oneTakerExecution(fmt.Sprintf("x%d-%d", i, j))
				}
				if _, err := a.Put(ctx, xs, a.Prepare(xs), "bundle-1"); err != nil {
					t.Fatalf("chunk %d of %d executions: %v", i+1, size, err)
				}
			}
			b := &bundle.Bundle{Manifest: &manifest.Manifest{ID: strings.Repeat("a", 32), Seq: 1}, Hash: strings.Repeat("0", 64)}
			if _, err := a.Commit(ctx, b, taosync.ClientState{}, taosync.HistoryEntry{Direction: "in", Peer: "ca", Kind: "results"}); err != nil {
				t.Fatal(err)
			}
			if xs, err := c.Executions(ctx); err != nil || len(xs) != chunks*size {
				t.Errorf("%d executions stored (%v), want %d", len(xs), err, chunks*size)
			}
		})
	}
}

// BenchmarkPutChunk measures a result import's storing of a chunk of 1,000
// new executions, each of its own test taker (so each scope is checked),
// on both engines: Put only, the documents compressed beforehand.
func BenchmarkPutChunk(b *testing.B) {
	for _, engine := range pgtest.Engines {
		b.Run(engine, func(b *testing.B) {
			ctx := context.Background()
			c := centralWithClient(b, engine, "hash")
			const n = 1000
			var takers, ids strings.Builder
			takers.WriteString("id,login\n")
			var xs []taosync.OutgoingExecution
			for i := range n {
				fmt.Fprintf(&takers, "t%d,t%d\n", i, i)
				if i > 0 {
					ids.WriteString("|")
				}
				fmt.Fprintf(&ids, "t%d", i)
				e := taosync.Execution{ID: fmt.Sprintf("x%d", i), Delivery: "d1", TestTaker: fmt.Sprintf("t%d", i), TestCenter: "a1",
					Status: "finished", StartedAt: "2026-06-01T09:00:00Z", FinishedAt: "2026-06-01T10:00:00Z",
					ResultXML: fmt.Sprintf("<r>%d</r>", i)}
				xs = append(xs, taosync.OutgoingExecution{Execution: e, Revision: 1, ContentHash: e.ContentHash()})
			}
			loadCSV(b, c,
				taosync.TestCenter, "id,label,org_id\na1,Aarau,A\n",
				taosync.TestTaker, takers.String(),
				taosync.Delivery, "id,label\nd1,Maths\n",
				taosync.Eligibility, "id,test_center,delivery,test_takers\ne1,a1,d1,"+ids.String()+"\n")
			for b.Loop() {
				b.StopTimer()
				a, err := c.BeginResults(ctx, "ca", taosync.ClientState{})
				if err != nil {
					b.Fatal(err)
				}
				prepared := a.Prepare(xs)
				b.StartTimer()
				statuses, err := a.Put(ctx, xs, prepared, "bundle-1")
				b.StopTimer()
				if err != nil || len(statuses) != n || statuses[n-1] != taosync.ReceiptReceived {
					b.Fatalf("put: %d statuses, %v", len(statuses), err)
				}
				a.Rollback()
				b.StartTimer()
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "executions/s")
		})
	}
}
