package home

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"
)

// LockFile is the file a command holds locked while it writes to the home.
const LockFile = StoreDir + "/home.lock"

// ErrBusy: another command kept the home's writer lock for longer than the
// wait.
var ErrBusy = errors.New("home is busy")

// lockPoll is how often a waiting command tries the lock again.
const lockPoll = 50 * time.Millisecond

// Lock takes the home's writer lock for the command named what (such as
// "import"), so that one command at a time writes to the home: two imports
// or syncs at once could otherwise download into the same part files,
// number two result bundles alike, or race each other's stream checks. The
// lock is the kernel's (flock): it goes with the process, however the
// process ends, so a command that was killed never leaves the home locked.
//
// If another command holds the lock, Lock calls waiting once with what that
// command wrote into the lock file (its name and process id), and tries
// again until wait has passed; it then fails with ErrBusy. unlock releases
// the lock.
func (h *Home) Lock(ctx context.Context, what string, wait time.Duration, waiting func(holder string)) (unlock func(), err error) {
	path := h.Path(LockFile)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock the home: %w", err)
	}
	deadline := time.Now().Add(wait)
	for told := false; ; {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock the home %s: %w", path, err)
		}
		if !time.Now().Before(deadline) {
			f.Close()
			return nil, fmt.Errorf("%w: %s is writing to %s; waited %s", ErrBusy, holder(path), h.Dir, wait)
		}
		if !told && waiting != nil {
			waiting(holder(path))
			told = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(min(lockPoll, time.Until(deadline))):
		}
	}
	// Say who holds the lock, for the commands that wait for it. The note
	// is only informative: the lock is the flock, not the file's content.
	if err := f.Truncate(0); err == nil {
		fmt.Fprintf(f, "taosync %s (pid %d)\n", what, os.Getpid())
	}
	return func() { f.Close() }, nil
}

// holder reads the note of the command holding the lock.
func holder(path string) string {
	b, err := os.ReadFile(path)
	if s := string(bytes.TrimSpace(b)); err == nil && s != "" && len(s) < 200 && !strings.ContainsAny(s, "\n\r") {
		return s
	}
	return "another taosync command"
}
