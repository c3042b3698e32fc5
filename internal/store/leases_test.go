package store

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/taosync/taosync/internal/pgtest"
)

// TestLeases: one holder at a time; the holder renews; another takes a
// lease only once it expired or was released, and is told who holds it.
func TestLeases(t *testing.T) {
	for _, engine := range pgtest.Engines {
		t.Run(engine, func(t *testing.T) {
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
			take := func(holder string, ttl time.Duration, want bool, wantHolder string) {
				t.Helper()
				l, ok, err := db.TakeLease(ctx, "gc", holder, ttl)
				if err != nil || ok != want || l.Holder != wantHolder {
					t.Fatalf("%s takes: %+v %v %v, want %v held by %s", holder, l, ok, err, want, wantHolder)
				}
			}
			take("a", time.Hour, true, "a")
			take("b", time.Hour, false, "a")
			take("a", time.Hour, true, "a") // renewed
			if err := db.ReleaseLease(ctx, "gc", "b"); err != nil {
				t.Fatal(err)
			}
			take("b", time.Hour, false, "a") // b cannot release a's lease
			if err := db.ReleaseLease(ctx, "gc", "a"); err != nil {
				t.Fatal(err)
			}
			if _, err := db.GetLease(ctx, "gc"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("released lease: %v", err)
			}
			take("b", -time.Second, true, "b") // taken, already expired
			take("a", time.Hour, true, "a")    // so a takes it
			if _, ok, err := db.TakeLease(ctx, "other", "b", time.Hour); !ok || err != nil {
				t.Fatalf("another lease: %v %v", ok, err)
			}
		})
	}
}
