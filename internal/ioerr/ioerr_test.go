package ioerr

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"testing"

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
	} {
		if got := Busy(c.err); got != c.want {
			t.Errorf("Busy(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
