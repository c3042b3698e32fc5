package pgtest

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestMissingPostgreSQL: without initdb and pg_ctl on PATH or in Debian's
// folders, Start says so, and the hint names the package to install.
func TestMissingPostgreSQL(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	old := debianBins
	debianBins = filepath.Join(t.TempDir(), "*", "bin")
	defer func() { debianBins = old }()
	_, err := Start(t.Context())
	if err == nil || !strings.Contains(err.Error(), "initdb and pg_ctl not found") {
		t.Errorf("Start without PostgreSQL: %v", err)
	}
	if !strings.Contains(Hint, "apt-get install postgresql") || strings.Contains(Hint, "\n") {
		t.Errorf("hint %q", Hint)
	}
}

// TestCluster: a cluster starts, makes databases, copies one, names its
// server process, goes down and up again, and is removed when stopped.
func TestCluster(t *testing.T) {
	c, err := Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	url, err := c.CreateDB(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	copied, err := c.CopyDB(t.Context(), url)
	if err != nil || copied == url || !strings.HasPrefix(copied, "postgres://postgres@127.0.0.1:") {
		t.Errorf("copy of %s: %s, %v", url, copied, err)
	}
	pid, err := c.PID()
	if err != nil || syscall.Kill(pid, 0) != nil {
		t.Errorf("the server's process %d (%v) does not run", pid, err)
	}
	if err := c.Down(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := c.Up(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateDB(t.Context()); err != nil {
		t.Errorf("after Down and Up: %v", err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if matches, _ := filepath.Glob(c.dir); len(matches) != 0 {
		t.Errorf("%s left behind", c.dir)
	}
}

// TestStaleCluster: a cluster whose test process died is stopped and
// removed by the next Start; one whose process lives is left alone.
func TestStaleCluster(t *testing.T) {
	dead, err := Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Stop()
	// A process that has ended: this test's child, waited for.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dead.dir, ownerFile), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	live, err := Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer live.Stop()
	if _, err := os.Stat(dead.dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the dead process's cluster %s is still there (%v)", dead.dir, err)
	}
	if _, err := dead.CreateDB(t.Context()); err == nil {
		t.Error("the dead process's cluster still answers")
	}
	if _, err := live.CreateDB(t.Context()); err != nil {
		t.Errorf("the new cluster: %v", err)
	}
}
