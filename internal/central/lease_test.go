package central_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/taosync/taosync/internal/central"
	"github.com/taosync/taosync/internal/store"
	"github.com/taosync/taosync/internal/testfixture"
)

// TestLease: a lease held is renewed in the background for as long as it
// is held, many times its length, and nobody else takes it meanwhile; its
// context ends, with the lease lost as its cause, once another holder took
// it for a minute (here: the row rewritten, as an expiry unnoticed would
// let another do), or once its database stops answering for its length;
// a lease lost and then released leaves the new holder's alone; one
// waited for is taken once let go.
func TestLease(t *testing.T) { testfixture.OnEngines(t, testLease) }

const shortTTL = 500 * time.Millisecond

// within waits for ctx to end, for at most ten seconds.
func within(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: the lease's context did not end", what)
	}
	if cause := context.Cause(ctx); !errors.Is(cause, store.ErrLeaseLost) {
		t.Fatalf("%s: the context ended for %v, want the lease lost", what, cause)
	}
}

func testLease(t *testing.T, engine string) {
	f := testfixture.NewOn(t, engine)
	ctx := f.Ctx
	l, ok, err := f.C.TakeLease(ctx, "pull/ca", "a", 0, shortTTL)
	if !ok || err != nil {
		t.Fatalf("take a free lease: %v %v", ok, err)
	}
	// Three lengths of the lease: expired unless renewed.
	for range 6 {
		time.Sleep(shortTTL / 2)
		if ok, err := f.C.Store.TakeLease(ctx, "pull/ca", "b", 0, time.Minute); ok || err != nil {
			t.Fatalf("a lease held taken by another: %v %v", ok, err)
		}
	}
	if err := l.Context().Err(); err != nil {
		t.Fatalf("the context of a lease held ended: %v", err)
	}
	if _, err := f.C.Store.DB.ExecContext(ctx, "UPDATE leases SET holder = 'b', expires = expires + 60000 WHERE name = 'pull/ca'"); err != nil {
		t.Fatal(err)
	}
	within(t, l.Context(), "taken by another")
	l.Release()
	if held, err := f.C.Store.GetLease(ctx, "pull/ca"); held.Holder != "b" || err != nil {
		t.Fatalf("after the lease lost was released: %+v %v, want b's", held, err)
	}

	// A lease waited for is taken once let go; released, its context
	// ends without it being lost.
	got := make(chan *central.Lease, 1)
	go func() {
		l, err := f.C.WaitLease(ctx, "pull/ca", "c", shortTTL)
		if err != nil {
			t.Error(err)
		}
		got <- l
	}()
	time.Sleep(100 * time.Millisecond)
	select {
	case <-got:
		t.Fatal("a lease held taken by a wait")
	default:
	}
	if err := f.C.Store.ReleaseLease(ctx, "pull/ca", "b"); err != nil {
		t.Fatal(err)
	}
	var waited *central.Lease
	select {
	case waited = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("a lease let go not taken by the wait")
	}
	if waited == nil {
		t.FailNow()
	}
	waited.Release()
	if err := context.Cause(waited.Context()); !errors.Is(err, context.Canceled) {
		t.Fatalf("the context of a lease released: %v", err)
	}
	if _, err := f.C.Store.GetLease(ctx, "pull/ca"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a lease released is still there: %v", err)
	}

	// A replica whose database stops answering: its lease is lost once
	// its length passed without a renewal.
	other, err := central.Open(ctx, f.C.Home.Dir, f.Log)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	l, ok, err = other.TakeLease(ctx, "pull/ca", "d", 0, shortTTL)
	if !ok || err != nil {
		t.Fatalf("take a free lease: %v %v", ok, err)
	}
	other.Store.DB.Close()
	within(t, l.Context(), "its database closed")
	l.Release()
}
