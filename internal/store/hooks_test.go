package store

import "github.com/taosync/taosync"

// MaxPrepared is how many statements a result import keeps prepared.
const MaxPrepared = maxPrepared

// PreparedStatements is how many statements the result import a keeps
// prepared.
func PreparedStatements(a taosync.ResultApply) int { return len(a.(*resultApply).stmts) }

// HoldReads takes every read slot of d, so that BeginRead waits, until
// release is called.
func HoldReads(d *DB) (release func()) {
	for range cap(d.readers) {
		d.readers <- struct{}{}
	}
	return func() {
		for range cap(d.readers) {
			<-d.readers
		}
	}
}
