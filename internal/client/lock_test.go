package client_test

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/taosync/taosync/internal/client"
	"github.com/taosync/taosync/internal/home"
)

// holderEnv names the home a child process of this test locks and holds.
const holderEnv = "TAOSYNC_TEST_HOLD_SYNC_LOCK"

// TestMain lets the test binary stand for a sync that holds the lock: it
// takes it, says so, and waits to be killed.
func TestMain(m *testing.M) {
	if dir := os.Getenv(holderEnv); dir != "" {
		c, err := client.Open(context.Background(), dir, slog.New(slog.DiscardHandler))
		if err != nil {
			panic(err)
		}
		if _, err := c.LockSync(); err != nil {
			panic(err)
		}
		os.Stdout.WriteString("locked\n")
		select {}
	}
	os.Exit(m.Run())
}

// TestSyncLock: one sync at a time on a home; a second is refused at once
// with ErrSyncRunning, while the first runs in this process or in another.
// A sync killed halfway (SIGKILL) leaves no lock behind.
func TestSyncLock(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "client")
	h, err := home.Init(t.Context(), dir, home.Client)
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	c, err := client.Open(t.Context(), dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	unlock, err := c.LockSync()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.LockSync(); !errors.Is(err, client.ErrSyncRunning) {
		t.Fatalf("second lock in the same process: %v, want ErrSyncRunning", err)
	}
	unlock()
	unlock, err = c.LockSync()
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	unlock()

	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), holderEnv+"="+dir)
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Process.Kill()
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "locked\n" {
		t.Fatalf("child: %q, %v", line, err)
	}
	if _, err := c.LockSync(); !errors.Is(err, client.ErrSyncRunning) {
		t.Fatalf("lock held by another process: %v, want ErrSyncRunning", err)
	}
	child.Process.Kill()
	child.Wait()
	unlock, err = c.LockSync()
	if err != nil {
		t.Fatalf("lock after the holder was killed: %v", err)
	}
	unlock()
}
