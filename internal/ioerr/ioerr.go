// Package ioerr tells a failure of this machine to store what it was given
// (a full disk, a disk that fails, an fsync that fails, in taosync's files,
// in SQLite or in central's PostgreSQL) from a fault of the input. An import that meets one stops
// without refusing the bundle: nothing is wrong with the bundle, and the
// same import applies it once the disk is fixed or has room again.
package ioerr

import (
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/mattn/go-sqlite3"
)

// localErrnos are the errors of a file system that could not store data.
var localErrnos = []syscall.Errno{syscall.ENOSPC, syscall.EDQUOT, syscall.EIO, syscall.EROFS}

// Local reports whether err is this machine failing to store data: a full
// disk or quota, an I/O error (as a failed fsync reports), a read-only
// file system, or SQLite's "database or disk is full" and "disk I/O error",
// or PostgreSQL's disk_full and io_error.
func Local(err error) bool {
	if err == nil {
		return false
	}
	for _, e := range localErrnos {
		if errors.Is(err, e) {
			return true
		}
	}
	var se sqlite3.Error
	if errors.As(err, &se) {
		return se.Code == sqlite3.ErrFull || se.Code == sqlite3.ErrIoErr
	}
	return pgCode(err, "53100", "58030")
}

// pgCode reports whether err is a PostgreSQL error of one of the codes
// (https://www.postgresql.org/docs/current/errcodes-appendix.html).
func pgCode(err error, codes ...string) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	for _, c := range codes {
		if pe.Code == c || (strings.HasSuffix(c, "*") && strings.HasPrefix(pe.Code, c[:len(c)-1])) {
			return true
		}
	}
	return false
}

// Unavailable reports whether err is central's PostgreSQL server out of
// reach: a connection refused or lost, the server shutting down or
// starting up. It heals by itself once the server is back (a restart, a
// failover): the same request may pass a moment later.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	// Class 08: connection exceptions; 57P01 to 57P03: the server shut
	// down, crashed, or is starting; 53300: it has as many connections as
	// it takes; 53200: it is out of memory, or its lock table is full,
	// until other transactions end.
	if pgCode(err, "08*", "57P01", "57P02", "57P03", "53300", "53200") {
		return true
	}
	var ce *pgconn.ConnectError
	var ne *net.OpError
	return errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE)
}

// Busy reports whether err is SQLite's database busy or locked by another
// writer past the wait for it, or PostgreSQL's lock wait past lock_timeout,
// a serialisation failure or a deadlock: the same work may pass a moment
// later.
func Busy(err error) bool {
	var se sqlite3.Error
	if errors.As(err, &se) {
		return se.Code == sqlite3.ErrBusy || se.Code == sqlite3.ErrLocked
	}
	return pgCode(err, "55P03", "40001", "40P01")
}
