package store

import "sync"

// Turns is the queue of one process's writes to central's database on
// SQLite, which has one writer at a time: whoever holds it writes. Lock
// queues behind every caller waiting in LockFirst, which is for the short
// statements of the leases: a lease renewed while a queue of result
// imports waits (two hundred at once take twenty seconds) would otherwise
// wait behind them all, or, outside the queue, on SQLite's own lock, which
// serves no one in order, and expire meanwhile.
type Turns struct {
	mu     sync.Mutex
	cond   sync.Cond
	busy   bool
	urgent int // callers waiting in LockFirst
}

// Lock waits for the turn, after every caller of LockFirst waiting.
func (t *Turns) Lock() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.init()
	for t.busy || t.urgent > 0 {
		t.cond.Wait()
	}
	t.busy = true
}

// LockFirst waits for the turn, before every caller of Lock waiting.
func (t *Turns) LockFirst() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.init()
	t.urgent++
	for t.busy {
		t.cond.Wait()
	}
	t.urgent--
	t.busy = true
}

// Unlock ends the turn.
func (t *Turns) Unlock() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.busy = false
	t.cond.Broadcast()
}

func (t *Turns) init() {
	if t.cond.L == nil {
		t.cond.L = &t.mu
	}
}
