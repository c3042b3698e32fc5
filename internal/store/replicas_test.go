package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/taosync/taosync/internal/pgtest"
	"github.com/taosync/taosync/internal/store"
)

// TestReplicaState: what the replicas of central's server share. A token
// is found until it expires, and expired ones go as new ones are issued,
// a bounded number each time; failed logins count per scope and window; a
// lease is held by one holder until it is let go or expires, renewed only
// by its holder, and its bytes are summed while it lives.
func TestReplicaState(t *testing.T) {
	for _, engine := range pgtest.Engines {
		t.Run(engine, func(t *testing.T) { testReplicaState(t, engine) })
	}
}

func testReplicaState(t *testing.T, engine string) {
	ctx := context.Background()
	c := centralWithClient(t, engine, "s")
	now := time.UnixMilli(time.Now().UnixMilli()) // as stored

	for i := range 100 {
		if err := c.IssueToken(ctx, fmt.Sprintf("old%d", i), "ca", "s", now.Add(-time.Second), now.Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.IssueToken(ctx, "new", "ca", "s", now.Add(time.Minute), now); err != nil {
		t.Fatal(err)
	}
	if client, live, err := c.Token(ctx, "new", now); client != "ca" || !live || err != nil {
		t.Errorf("a live token: %q %v %v", client, live, err)
	}
	if err := c.RotateSecret(ctx, "ca", "s2"); err != nil {
		t.Fatal(err)
	}
	if client, live, err := c.Token(ctx, "new", now); client != "ca" || live || err != nil {
		t.Errorf("a token of a rotated secret: %q %v %v, want not live", client, live, err)
	}
	if _, _, err := c.Token(ctx, "new", now.Add(time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an expired token: %v, want not found", err)
	}
	var left int
	if err := c.DB.QueryRowContext(ctx, "SELECT count(*) FROM tokens").Scan(&left); err != nil || left != 100-64+1 {
		t.Errorf("%d tokens left (%v), want 37: 64 expired ones removed", left, err)
	}

	f := store.LoginFailures{DB: c, Scope: "token", Max: 3, Window: time.Minute}
	other := store.LoginFailures{DB: c, Scope: "operator", Max: 3, Window: time.Minute}
	for range 3 {
		if err := f.Fail(ctx, "192.0.2.1", now); err != nil {
			t.Fatal(err)
		}
	}
	if d, err := f.Blocked(ctx, "192.0.2.1", now.Add(time.Second)); d != 59*time.Second || err != nil {
		t.Errorf("after three failures: blocked %v (%v), want 59s", d, err)
	}
	for _, tc := range []struct {
		what string
		f    store.LoginFailures
		addr string
		at   time.Time
	}{
		{"another address", f, "192.0.2.2", now},
		{"another scope", other, "192.0.2.1", now},
		{"the window over", f, "192.0.2.1", now.Add(61 * time.Second)},
	} {
		if d, err := tc.f.Blocked(ctx, tc.addr, tc.at); d != 0 || err != nil {
			t.Errorf("%s: blocked %v (%v)", tc.what, d, err)
		}
	}
	if err := f.Forgive(ctx, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if d, _ := f.Blocked(ctx, "192.0.2.1", now); d != 0 {
		t.Errorf("after one forgiven: blocked %v", d)
	}
	if err := f.Fail(ctx, "192.0.2.1", now.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if d, _ := f.Blocked(ctx, "192.0.2.1", now.Add(2*time.Minute)); d != 0 {
		t.Errorf("a failure in a new window: blocked %v", d)
	}

	take := func(name, holder string, bytes int64, ttl time.Duration) bool {
		t.Helper()
		ok, err := c.TakeLease(ctx, name, holder, bytes, ttl, now)
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
	if n, bytes, err := c.LeasesHeld(ctx, "bytes/ca/", now); n != 2 || bytes != 120 || err != nil {
		t.Errorf("held: %d leases of %d bytes (%v), want 2 of 120", n, bytes, err)
	}
	if err := c.RenewLease(ctx, "bytes/ca/1", "b", time.Minute, now); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("renewed by another: %v, want lost", err)
	}
	if err := c.RenewLease(ctx, "bytes/ca/1", "a", 2*time.Minute, now); err != nil {
		t.Error(err)
	}
	if n, bytes, _ := c.LeasesHeld(ctx, "bytes/ca/", now.Add(90*time.Second)); n != 1 || bytes != 100 {
		t.Errorf("held later: %d leases of %d bytes, want the one renewed", n, bytes)
	}
	if ok, err := c.TakeLease(ctx, "bytes/ca/2", "b", 7, time.Minute, now.Add(90*time.Second)); !ok || err != nil {
		t.Errorf("an expired lease not taken over: %v %v", ok, err)
	}
	if err := c.ReleaseLease(ctx, "bytes/ca/1", "b"); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := c.LeasesHeld(ctx, "bytes/ca/1", now); n != 1 {
		t.Error("a lease let go by another than its holder")
	}
	if err := c.ReleaseLease(ctx, "bytes/ca/1", "a"); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := c.LeasesHeld(ctx, "bytes/ca/1", now); n != 0 {
		t.Error("a lease its holder let go is still held")
	}
	// A row whose holder died stays until the housekeeping drops it,
	// once expired before the time it is given; a live one stays.
	if n, err := c.DropExpiredLeases(ctx, now); n != 0 || err != nil {
		t.Errorf("dropped %d leases not expired (%v)", n, err)
	}
	if n, err := c.DropExpiredLeases(ctx, now.Add(3*time.Minute)); n != 2 || err != nil {
		t.Errorf("dropped %d expired leases (%v), want 2", n, err)
	}
	if n, _, _ := c.LeasesHeld(ctx, "bytes/", now); n != 0 {
		t.Errorf("%d leases left after the drop", n)
	}
}
