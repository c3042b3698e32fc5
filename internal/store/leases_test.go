package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/taosync/taosync/internal/pgtest"
	"github.com/taosync/taosync/internal/store"
)

// TestLeases: a lease is held by one holder until it is let go or expires,
// renewed only by its holder, and its bytes are summed while it lives; the
// rows of leases long expired are dropped.
func TestLeases(t *testing.T) {
	for _, engine := range pgtest.Engines {
		t.Run(engine, func(t *testing.T) { testLeases(t, engine) })
	}
}

func testLeases(t *testing.T, engine string) {
	ctx := context.Background()
	c := centralWithClient(t, engine, "s")
	take := func(name, holder string, bytes int64, ttl time.Duration) bool {
		t.Helper()
		ok, err := c.TakeLease(ctx, name, holder, bytes, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !take("bytes/ca/1", "a", 100, time.Minute) || !take("bytes/ca/2", "a", 20, time.Minute) || !take("bytes/cb/1", "a", 5, time.Minute) {
		t.Fatal("free leases not taken")
	}
	if take("bytes/ca/1", "b", 7, time.Minute) {
		t.Error("a lease held taken by another")
	}
	if n, bytes, err := c.LeasesHeld(ctx, "bytes/ca/"); n != 2 || bytes != 120 || err != nil {
		t.Errorf("held: %d leases of %d bytes (%v), want 2 of 120", n, bytes, err)
	}
	if err := c.RenewLease(ctx, "bytes/ca/1", "b", time.Minute); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("renewed by another: %v, want lost", err)
	}
	// Renewed to a second ago: expired, by the database's clock.
	if err := c.RenewLease(ctx, "bytes/ca/2", "a", -time.Second); err != nil {
		t.Error(err)
	}
	if n, bytes, _ := c.LeasesHeld(ctx, "bytes/ca/"); n != 1 || bytes != 100 {
		t.Errorf("held after one expired: %d leases of %d bytes, want the other", n, bytes)
	}
	if !take("bytes/ca/2", "b", 7, time.Minute) {
		t.Error("an expired lease not taken over")
	}
	if err := c.RenewLease(ctx, "bytes/ca/2", "a", time.Minute); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("renewed by its holder once taken over: %v, want lost", err)
	}
	if err := c.ReleaseLease(ctx, "bytes/ca/1", "b"); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := c.LeasesHeld(ctx, "bytes/ca/1"); n != 1 {
		t.Error("a lease let go by another than its holder")
	}
	if err := c.ReleaseLease(ctx, "bytes/ca/1", "a"); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := c.LeasesHeld(ctx, "bytes/ca/1"); n != 0 {
		t.Error("a lease its holder let go is still held")
	}
	// A row whose holder died stays until the housekeeping drops it, once
	// expired longer than the age it is given; a live one stays.
	if !take("dead/1", "a", 0, -2*time.Hour) || !take("dead/2", "a", 0, -time.Minute) {
		t.Fatal("leases not taken")
	}
	if n, err := c.DropExpiredLeases(ctx, time.Hour); n != 1 || err != nil {
		t.Errorf("dropped %d leases (%v), want the one expired two hours ago", n, err)
	}
	if _, err := c.GetLease(ctx, "dead/2"); err != nil {
		t.Errorf("a lease expired a minute ago: %v", err)
	}
	if n, err := c.DropExpiredLeases(ctx, 0); n != 1 || err != nil {
		t.Errorf("dropped %d leases (%v), want the one expired", n, err)
	}
	if n, _, _ := c.LeasesHeld(ctx, "bytes/"); n != 2 {
		t.Errorf("%d leases live after the drops, want 2", n)
	}
}

// TestLeasesOnTheDatabasesClock: the leases are judged by the database's
// clock, not by the process's: with the database's clock an hour ahead, a
// lease whose expiry the process's clock would say is half an hour away
// is free, and one taken expires an hour and its length from the process's
// now; with it an hour behind, a lease the process would say expired half
// an hour ago is held.
func TestLeasesOnTheDatabasesClock(t *testing.T) {
	for _, engine := range pgtest.Engines {
		t.Run(engine, func(t *testing.T) { testLeasesClock(t, engine) })
	}
}

func testLeasesClock(t *testing.T, engine string) {
	ctx := context.Background()
	c := centralWithClient(t, engine, "s")
	// As a replica whose clock is the process's would have written them.
	for name, expires := range map[string]time.Time{
		"ahead":  time.Now().Add(30 * time.Minute),
		"behind": time.Now().Add(-30 * time.Minute),
	} {
		if _, err := c.DB.ExecContext(ctx, "INSERT INTO leases (name, holder, expires, bytes) VALUES (?, 'a', ?, 1)", name, expires.UnixMilli()); err != nil {
			t.Fatal(err)
		}
	}

	restore := store.SkewClock(time.Hour)
	if n, _, err := c.LeasesHeld(ctx, "ahead"); n != 0 || err != nil {
		t.Errorf("a lease expired by the database's clock is held: %d %v", n, err)
	}
	if ok, err := c.TakeLease(ctx, "ahead", "b", 0, time.Minute); !ok || err != nil {
		t.Errorf("a lease expired by the database's clock not taken: %v %v", ok, err)
	}
	l, err := c.GetLease(ctx, "ahead")
	if want := time.Now().Add(time.Hour + time.Minute); err != nil || l.Holder != "b" || l.Expires.Sub(want).Abs() > 10*time.Second {
		t.Errorf("the lease taken: %+v %v, want b's until about %s", l, err, want)
	}
	restore()

	defer store.SkewClock(-time.Hour)()
	if n, bytes, err := c.LeasesHeld(ctx, "behind"); n != 1 || bytes != 1 || err != nil {
		t.Errorf("a lease held by the database's clock: %d leases of %d bytes (%v), want it held", n, bytes, err)
	}
	if ok, err := c.TakeLease(ctx, "behind", "b", 0, time.Minute); ok || err != nil {
		t.Errorf("a lease held by the database's clock taken by another: %v %v", ok, err)
	}
	if n, err := c.DropExpiredLeases(ctx, 0); n != 0 || err != nil {
		t.Errorf("dropped %d leases held by the database's clock (%v)", n, err)
	}
}
