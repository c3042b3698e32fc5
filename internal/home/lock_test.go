package home_test

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/taosync/taosync/internal/home"
)

// holderEnv names the home a child process of this test locks and holds.
const holderEnv = "TAOSYNC_TEST_HOLD_HOME_LOCK"

// TestMain lets the test binary stand for a command that holds the lock:
// it takes it, says so, and waits to be killed.
func TestMain(m *testing.M) {
	if dir := os.Getenv(holderEnv); dir != "" {
		h, err := home.Open(context.Background(), dir)
		if err != nil {
			panic(err)
		}
		if _, err := h.Lock(context.Background(), "sync", 0, nil); err != nil {
			panic(err)
		}
		os.Stdout.WriteString("locked\n")
		select {}
	}
	os.Exit(m.Run())
}

// TestLock: one writer at a time on a home. A second one waits, told once
// who holds the lock, and takes it when the first lets go; with no time
// left it fails with ErrBusy naming the holder, in this process or from
// another. A holder killed (SIGKILL) leaves no lock behind.
func TestLock(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "client")
	h, err := home.Init(t.Context(), dir, home.RoleClient)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()

	unlock, err := h.Lock(t.Context(), "import", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	me := "taosync import (pid " + strconv.Itoa(os.Getpid()) + ")"
	_, err = h.Lock(t.Context(), "sync", 0, func(string) { t.Error("told to wait with no time to wait") })
	if !errors.Is(err, home.ErrBusy) || !strings.Contains(err.Error(), me) {
		t.Fatalf("second lock in the same process: %v, want ErrBusy naming %s", err, me)
	}
	// The waiter is told who holds the lock, once, and gets it once the
	// holder lets go.
	var told []string
	unlock2, err := h.Lock(t.Context(), "sync", time.Minute, func(holder string) {
		told = append(told, holder)
		unlock()
	})
	if err != nil || len(told) != 1 || told[0] != me {
		t.Fatalf("waiting lock: %v, told %q, want the lock after being told of %s", err, told, me)
	}
	unlock2()
	// A waiter gives up when its context ends.
	unlock, err = h.Lock(t.Context(), "import", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	if _, err := h.Lock(ctx, "sync", time.Hour, func(string) { cancel() }); !errors.Is(err, context.Canceled) {
		t.Fatalf("lock with the context cancelled: %v", err)
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
	want := "taosync sync (pid " + strconv.Itoa(child.Process.Pid) + ")"
	if _, err := h.Lock(t.Context(), "import", 0, nil); !errors.Is(err, home.ErrBusy) || !strings.Contains(err.Error(), want) {
		t.Fatalf("lock held by another process: %v, want ErrBusy naming %s", err, want)
	}
	child.Process.Kill()
	child.Wait()
	unlock, err = h.Lock(t.Context(), "import", 0, nil)
	if err != nil {
		t.Fatalf("lock after the holder was killed: %v", err)
	}
	unlock()
}
