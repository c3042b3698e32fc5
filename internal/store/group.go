package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// group commits the short writes of concurrent requests together: each
// request's work runs in a savepoint of one transaction, and one commit
// makes them all durable. Pulls that arrive at once each make three short
// writes (the state a client reports, the number its export reserves, the
// bundle it records); one at a time, each waits for a commit's fsync, and
// those fsyncs, not the CPU, would bound the pulls a second.
type group struct {
	mu      sync.Mutex
	queue   []*groupWrite
	running bool
}

// groupWrite is one request's work and where its outcome goes.
type groupWrite struct {
	ctx  context.Context
	fn   func(context.Context, *sql.Tx) error
	done chan error
}

// write runs fn in a write transaction, with the writes of other requests
// made meanwhile: fn's changes are committed if it returns nil (and the
// commit succeeds), and undone alone if it fails. The first request to
// come commits the writes queued, as one batch, then hands the lead to a
// write queued meanwhile, whose request commits the next batch: no request
// waits for more than the batch before its own. The transactions queue on
// c.Writes if set.
//
// fn gets ctx without its cancellation, and must run its statements with
// it: SQLite, interrupted in a statement that writes, rolls back the whole
// transaction, the other requests' work with it. A request whose ctx has
// ended before its turn is not run.
func (c *CentralDB) write(ctx context.Context, fn func(context.Context, *sql.Tx) error) error {
	w := &groupWrite{ctx: ctx, fn: fn, done: make(chan error, 1)}
	g := &c.group
	g.mu.Lock()
	g.queue = append(g.queue, w)
	lead := !g.running
	g.running = true
	g.mu.Unlock()
	if !lead {
		if err := <-w.done; err != errLead {
			return err
		}
	}
	c.commitNext()
	return <-w.done
}

// errLead, sent to a write waiting for its outcome, gives it the lead:
// its request commits the next batch.
var errLead = errors.New("lead the next batch")

// commitNext commits the writes queued as one batch, then hands the lead
// to the first write queued meanwhile, if any, even if the batch panicked.
func (c *CentralDB) commitNext() {
	g := &c.group
	g.mu.Lock()
	batch := g.queue
	g.queue = nil
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		if len(g.queue) == 0 {
			g.running = false
		} else {
			g.queue[0].done <- errLead
		}
		g.mu.Unlock()
	}()
	c.commitGroup(batch)
}

// commitGroup runs a batch of writes in one transaction, each in a
// savepoint, and tells each its outcome. A write that panics fails the
// batch: the transaction is rolled back, and every write of it told so.
func (c *CentralDB) commitGroup(batch []*groupWrite) {
	if c.Writes != nil {
		c.Writes.Lock()
		defer c.Writes.Unlock()
	}
	errs := make([]error, len(batch))
	var tx *sql.Tx
	defer func() {
		if r := recover(); r != nil {
			if tx != nil {
				tx.Rollback()
			}
			for i := range errs {
				errs[i] = fmt.Errorf("a write of the batch panicked, and the batch was undone: %v", r)
			}
		}
		for i, w := range batch {
			w.done <- errs[i]
		}
	}()
	// The transaction is no request's: one that ends early rolls back
	// its own savepoint, not the others' work.
	ctx := context.Background()
	tx, err := c.DB.BeginTx(ctx, nil)
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
		return
	}
	var kept []int
	for i, w := range batch {
		if errs[i] = savepoint(ctx, tx, w); errs[i] == nil {
			kept = append(kept, i)
		}
	}
	if err := tx.Commit(); err != nil {
		for _, i := range kept {
			errs[i] = fmt.Errorf("commit: %w", err)
		}
	}
}

// savepoint runs w in a savepoint of tx: released if it succeeds, rolled
// back to if it fails. A savepoint that cannot be rolled back to fails
// the transaction, and so every write of the batch.
func savepoint(ctx context.Context, tx *sql.Tx, w *groupWrite) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "SAVEPOINT w"); err != nil {
		return err
	}
	ferr := w.fn(context.WithoutCancel(w.ctx), tx)
	if ferr != nil {
		if _, err := tx.ExecContext(ctx, "ROLLBACK TO w"); err != nil {
			tx.Rollback()
			return fmt.Errorf("%w (and undoing it: %v)", ferr, err)
		}
	}
	if _, err := tx.ExecContext(ctx, "RELEASE w"); err != nil && ferr == nil {
		return err
	}
	return ferr
}
