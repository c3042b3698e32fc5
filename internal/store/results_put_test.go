package store_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/internal/load"
	"github.com/taosync/taosync/internal/pgtest"
	"github.com/taosync/taosync/internal/store"
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

// loadCSV loads master data into central: pairs of a type and the CSV
// text of its entities.
func loadCSV(t *testing.T, c *store.CentralDB, pairs ...any) {
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
