package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/taosync/taosync/internal/pgtest"
)

// openCentral opens a central database on engine, its writes queued on
// the mutex returned, as central queues them.
func openCentral(t *testing.T, engine string) (*CentralDB, *sync.Mutex) {
	where := pgtest.Where(t, engine)
	if where == "" {
		where = filepath.Join(t.TempDir(), "c.db")
	}
	db, err := Open(t.Context(), where, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	writes := &sync.Mutex{}
	return &CentralDB{DB: db, Writes: writes}, writes
}

// TestGroupWrite: writes that come while another is committed are
// committed together, each in a savepoint: one that fails, by its own
// error or the database's (a unique key), is undone alone, one whose
// context ended before its turn is not run, and the others are all there.
// A write that panics fails its batch, and the writes after it go on.
func TestGroupWrite(t *testing.T) {
	for _, engine := range pgtest.Engines {
		t.Run(engine, func(t *testing.T) { testGroupWrite(t, engine) })
	}
}

func testGroupWrite(t *testing.T, engine string) {
	ctx := t.Context()
	c, writes := openCentral(t, engine)
	db := c.DB
	if err := SetMeta(ctx, db, "taken", "v"); err != nil {
		t.Fatal(err)
	}
	var ran sync.Map
	set := func(ctx context.Context, key string, fail error) error {
		return c.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
			ran.Store(key, true)
			if err := SetMeta(ctx, tx, key, "v"); err != nil {
				return err
			}
			if fail == errTaken {
				_, err := tx.ExecContext(ctx, "INSERT INTO meta (key, value) VALUES ('taken', 'again')")
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
			case 13:
				errs[i] = set(ctx, fmt.Sprint("k", i), errTaken)
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
		case 13:
			if errs[i] == nil || !wasRun || !errors.Is(err, ErrNotFound) {
				t.Errorf("the write of a key taken: %v, run %v, its key: %v; want an error, run, none", errs[i], wasRun, err)
			}
		default:
			if errs[i] != nil || err != nil {
				t.Errorf("write %d: %v, its key: %v", i, errs[i], err)
			}
		}
	}

	err := c.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := SetMeta(ctx, tx, "before the panic", "v"); err != nil {
			return err
		}
		panic("a bug")
	})
	if err == nil {
		t.Fatal("a write that panicked succeeded")
	}
	if err := set(ctx, "after", nil); err != nil {
		t.Fatalf("a write after one that panicked: %v", err)
	}
	if _, err := Meta(ctx, db, "before the panic"); !errors.Is(err, ErrNotFound) {
		t.Errorf("the panicking write's change: %v, want none", err)
	}
}

// errTaken asks TestGroupWrite's write to insert a key that exists.
var errTaken = errors.New("insert a key taken")

// TestGroupWriteHandsTheLead: the request that leads a batch returns once
// its batch is committed, while another request commits the writes queued
// meanwhile.
func TestGroupWriteHandsTheLead(t *testing.T) {
	c, _ := openCentral(t, "sqlite")
	ctx := t.Context()
	blocked := func(in chan<- struct{}, resume <-chan struct{}) func(context.Context, *sql.Tx) error {
		return func(ctx context.Context, tx *sql.Tx) error {
			close(in)
			<-resume
			return nil
		}
	}
	aIn, aGo, bIn, bGo := make(chan struct{}), make(chan struct{}), make(chan struct{}), make(chan struct{})
	aDone, bDone := make(chan error, 1), make(chan error, 1)
	go func() { aDone <- c.write(ctx, blocked(aIn, aGo)) }()
	<-aIn
	go func() { bDone <- c.write(ctx, blocked(bIn, bGo)) }()
	for i := 0; ; i++ {
		c.group.mu.Lock()
		queued := len(c.group.queue)
		c.group.mu.Unlock()
		if queued == 1 {
			break
		}
		if i == 1000 {
			t.Fatal("the second write never queued")
		}
		time.Sleep(time.Millisecond)
	}
	close(aGo)
	<-bIn
	select {
	case err := <-aDone:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		close(bGo)
		t.Fatal("the first write waited for the next batch")
	}
	close(bGo)
	if err := <-bDone; err != nil {
		t.Fatal(err)
	}
}

// TestEntityVersionPast32Bits: the change counter reads, and moves, past
// 2^31 on both engines.
func TestEntityVersionPast32Bits(t *testing.T) {
	for _, engine := range pgtest.Engines {
		t.Run(engine, func(t *testing.T) {
			c, _ := openCentral(t, engine)
			ctx := t.Context()
			if err := SetMeta(ctx, c.DB, "entity_version", "3000000000"); err != nil {
				t.Fatal(err)
			}
			if v, err := entityVersion(ctx, c.DB); err != nil || v != 3000000000 {
				t.Fatalf("entityVersion: %d, %v; want 3000000000", v, err)
			}
			if v, err := nextVersion(ctx, c.DB); err != nil || v != 3000000001 {
				t.Fatalf("nextVersion: %d, %v; want 3000000001", v, err)
			}
		})
	}
}
