package ioerr

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/mattn/go-sqlite3"
)

func TestLocal(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("bad chunk"), false},
		{fs.ErrNotExist, false},
		{&os.PathError{Op: "open", Path: "/x", Err: syscall.EACCES}, false},
		{fmt.Errorf("store chunk: %w", &os.PathError{Op: "write", Path: "/x", Err: syscall.ENOSPC}), true},
		{&os.PathError{Op: "write", Path: "/x", Err: syscall.EDQUOT}, true},
		{&os.PathError{Op: "sync", Path: "/x", Err: syscall.EIO}, true},
		{&os.LinkError{Op: "rename", Old: "/a", New: "/b", Err: syscall.EROFS}, true},
		{fmt.Errorf("commit: %w", sqlite3.Error{Code: sqlite3.ErrFull}), true},
		{sqlite3.Error{Code: sqlite3.ErrIoErr, ExtendedCode: sqlite3.ErrIoErrFsync}, true},
		{sqlite3.Error{Code: sqlite3.ErrConstraint}, false},
		{sqlite3.Error{Code: sqlite3.ErrCorrupt}, false},
		{fmt.Errorf("commit: %w", &pgconn.PgError{Code: "53100"}), true},
		{&pgconn.PgError{Code: "58030"}, true},
		{&pgconn.PgError{Code: "23505"}, false},
	} {
		if got := Local(c.err); got != c.want {
			t.Errorf("Local(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestBusy(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("bad chunk"), false},
		{fmt.Errorf("begin: %w", sqlite3.Error{Code: sqlite3.ErrBusy}), true},
		{sqlite3.Error{Code: sqlite3.ErrLocked}, true},
		{sqlite3.Error{Code: sqlite3.ErrFull}, false},
		{fmt.Errorf("begin: %w", &pgconn.PgError{Code: "55P03"}), true},
		{&pgconn.PgError{Code: "40P01"}, true},
		{&pgconn.PgError{Code: "53100"}, false},
	} {
		if got := Busy(c.err); got != c.want {
			t.Errorf("Busy(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestUnavailable(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("bad chunk"), false},
		{&pgconn.PgError{Code: "57P01"}, true}, // admin_shutdown: a restart
		{fmt.Errorf("lock the executions: %w", &pgconn.PgError{Code: "53200"}), true}, // out of shared memory: a full lock table
		{fmt.Errorf("read: %w", &pgconn.PgError{Code: "08006"}), true},
		{&pgconn.PgError{Code: "23505"}, false},
		{&pgconn.PgError{Code: "55P03"}, false}, // busy, not gone
		{fmt.Errorf("query: %w", pgconn.ErrConnClosed), true},
		{&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		{sqlite3.Error{Code: sqlite3.ErrBusy}, false},
		{&os.PathError{Op: "write", Path: "/x", Err: syscall.ENOSPC}, false},
	} {
		if got := Unavailable(c.err); got != c.want {
			t.Errorf("Unavailable(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
