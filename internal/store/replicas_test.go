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
// a bounded number each time; failed logins count per scope and window
// (the leases: TestLeases).
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
}
