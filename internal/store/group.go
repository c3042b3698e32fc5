package store

import (
	"context"
	"database/sql"
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
// come runs the batches, one transaction each, until none is waiting; the
// others wait for their outcome. The transactions queue on c.Writes if set.
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
	if lead {
		for {
			g.mu.Lock()
			batch := g.queue
			g.queue = nil
			g.running = len(batch) > 0
			g.mu.Unlock()
			if len(batch) == 0 {
				break
			}
			c.commitGroup(batch)
		}
	}
	return <-w.done
}

// commitGroup runs a batch of writes in one transaction, each in a
// savepoint, and tells each its outcome.
func (c *CentralDB) commitGroup(batch []*groupWrite) {
	if c.Writes != nil {
		c.Writes.Lock()
		defer c.Writes.Unlock()
	}
	// The transaction is no request's: one that ends early rolls back
	// its own savepoint, not the others' work.
	ctx := context.Background()
	tx, err := c.DB.BeginTx(ctx, nil)
	if err != nil {
		for _, w := range batch {
			w.done <- err
		}
		return
	}
	var kept []*groupWrite
	for _, w := range batch {
		if err := savepoint(ctx, tx, w); err != nil {
			w.done <- err
			continue
		}
		kept = append(kept, w)
	}
	err = tx.Commit()
	if err != nil {
		err = fmt.Errorf("commit: %w", err)
	}
	for _, w := range kept {
		w.done <- err
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
