// Package faultfs injects file system faults into taosync's durable writes,
// for tests: a full disk (ENOSPC), an I/O error (EIO) or a failed fsync, at
// the Nth operation of a run that the fault can hit. A test first counts
// the operations of a clean run (an Injector with N 0), then fails each of
// them in turn (N 1, 2, ...), a bounded loop over every durable write
// point. Pebble's vfs/errorfs is the model.
//
// The faults go in through safefile.SetInjector, which every durable write
// of taosync asks (bundle writer, blob store, the client's downloads,
// safefile itself); SQLite writes its own files, and a full disk is
// emulated there with a page limit (FullDatabase).
package faultfs

import (
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/taosync/taosync/internal/safefile"
	"github.com/taosync/taosync/internal/store"
)

// A Fault is a fault to inject: which operations it can hit and the error
// they then fail with.
type Fault struct {
	Name string
	Err  error
	// Ops are the operations it can hit; all when empty.
	Ops []safefile.Op
}

// The kinds of fault the tests inject.
var (
	// DiskFull fails a create, write, fsync or rename as a full disk does.
	DiskFull = Fault{Name: "ENOSPC", Err: syscall.ENOSPC}
	// IOError fails any operation as a failing disk does.
	IOError = Fault{Name: "EIO", Err: syscall.EIO}
	// SyncError fails an fsync, of a file or a folder, with EIO.
	SyncError = Fault{Name: "fsync", Err: syscall.EIO, Ops: []safefile.Op{safefile.OpSync}}
)

// Kinds are the three kinds, for a test's table.
var Kinds = []Fault{DiskFull, IOError, SyncError}

// matches reports whether the kind can hit op.
func (k Fault) matches(op safefile.Op) bool {
	if len(k.Ops) == 0 {
		return true
	}
	for _, o := range k.Ops {
		if o == op {
			return true
		}
	}
	return false
}

// Injector counts the operations a kind can hit (on paths under Under, if
// set), and fails the Nth of them once.
type Injector struct {
	Kind Fault
	// Under, if set, limits the operations to those on paths in that
	// folder: one home of several in a process.
	Under string
	// N is the operation to fail, from 1; 0 fails none (counts only).
	N int

	mu     sync.Mutex
	seen   int
	failed string
}

// MaybeError implements safefile.Injector.
func (in *Injector) MaybeError(op safefile.Op, path string) error {
	if !in.Kind.matches(op) {
		return nil
	}
	if in.Under != "" && !strings.HasPrefix(path, in.Under+string(filepath.Separator)) {
		return nil
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.seen++
	if in.seen != in.N {
		return nil
	}
	in.failed = op.String() + " " + path
	return in.Kind.Err
}

// Seen is how many matching operations were asked about.
func (in *Injector) Seen() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.seen
}

// Failed is the operation failed ("write /path"), or "" if none was.
func (in *Injector) Failed() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.failed
}

// Install makes every durable write ask in until the test ends, or until
// the returned function is called.
func Install(t testing.TB, in *Injector) (clear func()) {
	return untilCleared(t, safefile.SetInjector(in))
}

// untilCleared returns a function that calls restore, once, also called
// when the test ends.
func untilCleared(t testing.TB, restore func()) (clear func()) {
	var once sync.Once
	clear = func() { once.Do(restore) }
	t.Cleanup(clear)
	return clear
}

// FullDatabase keeps every home database opened until the returned
// function is called from growing, so that SQLite fails a write that needs
// a new page with "database or disk is full" (SQLITE_FULL), as it does on
// a full disk. (SQLite writes its own files, past safefile.)
func FullDatabase(t testing.TB) (clear func()) {
	// max_page_count cannot go below the database's size: 1 is its size.
	return untilCleared(t, store.SetConnectPragma("PRAGMA max_page_count = 1"))
}
