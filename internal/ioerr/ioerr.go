// Package ioerr tells a failure of this machine to store what it was given
// (a full disk, a disk that fails, an fsync that fails, in taosync's files
// or in SQLite) from a fault of the input. An import that meets one stops
// without refusing the bundle: nothing is wrong with the bundle, and the
// same import applies it once the disk is fixed or has room again.
package ioerr

import (
	"errors"
	"syscall"

	"github.com/mattn/go-sqlite3"
)

// localErrnos are the errors of a file system that could not store data.
var localErrnos = []syscall.Errno{syscall.ENOSPC, syscall.EDQUOT, syscall.EIO, syscall.EROFS}

// Local reports whether err is this machine failing to store data: a full
// disk or quota, an I/O error (as a failed fsync reports), a read-only
// file system, or SQLite's "database or disk is full" and "disk I/O error".
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
	return false
}

// Busy reports whether err is SQLite's database busy or locked by another
// writer past the wait for it: the same work may pass a moment later.
func Busy(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && (se.Code == sqlite3.ErrBusy || se.Code == sqlite3.ErrLocked)
}
