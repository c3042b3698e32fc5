package bundle_test

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/taosync/taosync/bundle"
)

// TestOpenFile: only a regular file of a bundle folder is opened; a named
// pipe, a symbolic link (even to a regular file), a folder and a socket
// are refused with ErrNotRegular, naming the file and what it is, without
// blocking.
func TestOpenFile(t *testing.T) {
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }
	if err := os.WriteFile(path("regular"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(path("fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(path("regular"), path("link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path("folder"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A socket's path is short: make it in its own short-named folder.
	sockDir, err := os.MkdirTemp("", "s")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(sockDir)
	l, err := net.Listen("unix", filepath.Join(sockDir, "sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	for _, tc := range []struct {
		path string
		want string // the error, "" for none
	}{
		{path("regular"), ""},
		{path("fifo"), "not a regular file: fifo is a named pipe (FIFO)"},
		{path("link"), "not a regular file: link is a symbolic link"},
		{path("folder"), "not a regular file: folder is a folder"},
		{filepath.Join(sockDir, "sock"), "not a regular file: sock is a socket"},
	} {
		f, err := bundle.OpenFile(tc.path)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.path, err)
				continue
			}
			f.Close()
			continue
		}
		if err == nil {
			f.Close()
		}
		if !errors.Is(err, bundle.ErrNotRegular) || err.Error() != tc.want {
			t.Errorf("%s: %v, want %q", tc.path, err, tc.want)
		}
	}
	if _, err := bundle.OpenFile(path("missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing file: %v, want fs.ErrNotExist", err)
	}
}
