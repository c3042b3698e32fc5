package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
)

// TestGroupWrite: writes that come while another is committed are
// committed together, each in a savepoint: one that fails is undone alone,
// one whose context ended before its turn is not run, and the others are
// all there.
func TestGroupWrite(t *testing.T) {
	ctx := t.Context()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "c.db"), true)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	writes := &sync.Mutex{}
	c := &CentralDB{DB: db, Writes: writes}
	var ran sync.Map
	set := func(ctx context.Context, key string, fail error) error {
		return c.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
			ran.Store(key, true)
			if err := SetMeta(ctx, tx, key, "v"); err != nil {
				return err
			}
			return fail
		})
	}
	// The writes queue while the lock is held, and go as one or two
	// batches once it is let go.
	writes.Lock()
	const n = 20
	bad := errors.New("this write fails")
	ended, cancel := context.WithCancel(ctx)
	cancel()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			switch i {
			case 7:
				errs[i] = set(ctx, fmt.Sprint("k", i), bad)
			case 11:
				errs[i] = set(ended, fmt.Sprint("k", i), nil)
			default:
				errs[i] = set(ctx, fmt.Sprint("k", i), nil)
			}
		})
	}
	writes.Unlock()
	wg.Wait()
	for i := range n {
		key := fmt.Sprint("k", i)
		_, err := Meta(ctx, db, key)
		_, wasRun := ran.Load(key)
		switch i {
		case 7:
			if !errors.Is(errs[i], bad) || !errors.Is(err, ErrNotFound) {
				t.Errorf("the failing write: %v, and its key: %v; want %v and none", errs[i], err, bad)
			}
		case 11:
			if !errors.Is(errs[i], context.Canceled) || wasRun || !errors.Is(err, ErrNotFound) {
				t.Errorf("the write whose context ended: %v, run %v, its key: %v; want %v, not run, none", errs[i], wasRun, err, context.Canceled)
			}
		default:
			if errs[i] != nil || err != nil {
				t.Errorf("write %d: %v, its key: %v", i, errs[i], err)
			}
		}
	}
}
