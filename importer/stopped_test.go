package importer

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/mattn/go-sqlite3"

	"github.com/taosync/taosync/bundle"
)

// TestStopped: this machine failing while a bundle is applied (a disk, or
// the database busy with another writer past its wait) stops the import,
// naming the bundle and the cause, instead of refusing the bundle; a fault
// of the bundle does not.
func TestStopped(t *testing.T) {
	b := &bundle.Bundle{Dir: "/media/stick/results-ca-000001-0a1b2c3d"}
	for _, tc := range []struct {
		err  error
		want string // "" for a refusal of the bundle
	}{
		{&os.PathError{Op: "write", Path: "/x", Err: syscall.ENOSPC}, "a disk failed, not the bundle"},
		{fmt.Errorf("commit: %w", sqlite3.Error{Code: sqlite3.ErrFull}), "a disk failed, not the bundle"},
		{fmt.Errorf("begin: %w", sqlite3.Error{Code: sqlite3.ErrBusy}), "the database was busy with another writer"},
		{sqlite3.Error{Code: sqlite3.ErrLocked}, "the database was busy with another writer"},
		{errors.New("bad receipt"), ""},
		{sqlite3.Error{Code: sqlite3.ErrConstraint}, ""},
	} {
		err := stopped(b, tc.err)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v: stopped the import (%v), want a refusal", tc.err, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), "bundle results-ca-000001-0a1b2c3d not applied: "+tc.want)):
			t.Errorf("%v: %v, want the import stopped: %s", tc.err, err, tc.want)
		}
	}
}
