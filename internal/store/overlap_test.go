package store_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/bundle"
	"github.com/taosync/taosync/internal/home"
	"github.com/taosync/taosync/internal/pgtest"
	"github.com/taosync/taosync/internal/store"
	"github.com/taosync/taosync/manifest"
)

// TestResultImportsOverlap: on PostgreSQL the result imports of two
// clients proceed at once. One is held inside its transaction, its
// executions stored and not committed, while the other begins, stores and
// commits; then the first commits. An execution id both send waits for
// the first, and is then a conflict, as one import after the other makes
// it: exactly once holds.
func TestResultImportsOverlap(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	h, err := home.InitAt(ctx, filepath.Join(t.TempDir(), "central"), home.RoleCentral, pgtest.Where(t, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	c := &store.CentralDB{DB: h.DB}
	loadCSV(t, c,
		taosync.TestCenter, "id,label,org_id\ntc1,Aarau,A\n",
		taosync.TestTaker, "id,login\nt1,t1\nt2,t2\n",
		taosync.Delivery, "id,label\nd1,Maths\n",
		taosync.Eligibility, "id,test_center,delivery,test_takers\ne1,tc1,d1,t1|t2\n")
	for _, id := range []string{"ca", "cb"} {
		k, err := home.Init(ctx, filepath.Join(t.TempDir(), id), home.RoleClient)
		if err != nil {
			t.Fatal(err)
		}
		keys, err := k.PublicKeys()
		k.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.AddClient(ctx, store.RegisteredClient{ID: id, Org: "A", AgeRecipient: keys.Age, SignKey: keys.Sign.String(), KeyID: keys.Sign.IDString()}, "hash"); err != nil {
			t.Fatal(err)
		}
	}
	x := func(id, taker, hash string) taosync.OutgoingExecution {
		return taosync.OutgoingExecution{Execution: taosync.Execution{ID: id, Delivery: "d1", TestTaker: taker, TestCenter: "tc1",
			Status: "finished", ResultXML: "<r/>"}, Revision: 1, ContentHash: hash}
	}
	// put begins a client's import and stores xs, in its transaction.
	put := func(client string, xs ...taosync.OutgoingExecution) (taosync.ResultApply, []string) {
		t.Helper()
		a, err := c.BeginResults(ctx, client, taosync.ClientState{})
		if err != nil {
			t.Fatalf("begin %s's import: %v", client, err)
		}
		statuses, err := a.Put(ctx, xs, a.Prepare(xs), "bundle-"+client)
		if err != nil {
			t.Fatalf("store %s's results: %v", client, err)
		}
		return a, statuses
	}
	commit := func(client string, a taosync.ResultApply) {
		t.Helper()
		b := &bundle.Bundle{Manifest: &manifest.Manifest{ID: strings.Repeat(client[1:], 32), Seq: 1}, Hash: strings.Repeat("0", 64)}
		if _, err := a.Commit(ctx, b, taosync.ClientState{}, taosync.HistoryEntry{Direction: "in", Peer: client, Kind: "results"}); err != nil {
			t.Fatalf("commit %s's import: %v", client, err)
		}
	}

	held, _ := put("ca", x("a-1", "t1", "h1"), x("shared", "t2", "h2"))
	// cb's import of other executions begins, stores and commits while
	// ca's is held: on one lock for all writers it would wait forever.
	other, statuses := put("cb", x("b-1", "t1", "h3"))
	commit("cb", other)
	if len(statuses) != 1 || statuses[0] != taosync.ReceiptReceived {
		t.Errorf("cb's execution: %v, want received", statuses)
	}
	// cb's execution of an id ca holds waits for ca's commit.
	type answer struct {
		statuses []string
		a        taosync.ResultApply
	}
	done := make(chan answer, 1)
	go func() {
		a, err := c.BeginResults(ctx, "cb", taosync.ClientState{})
		if err != nil {
			done <- answer{}
			return
		}
		xs := []taosync.OutgoingExecution{x("shared", "t2", "h4")}
		statuses, err := a.Put(ctx, xs, a.Prepare(xs), "bundle-cb2")
		if err != nil {
			a.Rollback()
			done <- answer{}
			return
		}
		done <- answer{statuses, a}
	}()
	// ca commits once cb's import waits for its lock, or has finished
	// without waiting (and then found no conflict).
	var got answer
	for finished := false; !finished; {
		select {
		case got = <-done:
			finished = true
		case <-time.After(10 * time.Millisecond):
			var waiting int
			if err := h.DB.QueryRowContext(ctx, "SELECT count(*) FROM pg_locks WHERE NOT granted").Scan(&waiting); err != nil {
				t.Fatal(err)
			}
			if waiting > 0 {
				commit("ca", held)
				held = nil
				got = <-done
				finished = true
			}
		}
	}
	if held != nil {
		commit("ca", held)
	}
	if got.a == nil {
		t.Fatal("cb's second import failed")
	}
	got.a.Rollback()
	if len(got.statuses) != 1 || got.statuses[0] != taosync.ReceiptConflict {
		t.Errorf("cb's execution of an id ca sent at once: %v, want conflict (as one after the other)", got.statuses)
	}
	held2 := map[string]string{}
	xs, err := c.Executions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range xs {
		held2[e.ID+"/"+e.Client] = e.State
	}
	want := map[string]string{"a-1/ca": store.Received, "shared/ca": store.Received, "b-1/cb": store.Received}
	if len(held2) != len(want) {
		t.Errorf("central holds %v, want %v", held2, want)
	}
	for k, v := range want {
		if held2[k] != v {
			t.Errorf("execution %s: %q, want %q", k, held2[k], v)
		}
	}
}
