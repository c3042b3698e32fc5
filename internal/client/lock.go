package client

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/taosync/taosync/internal/home"
)

// SyncLockFile is the file a sync holds locked while it runs.
const SyncLockFile = home.StoreDir + "/sync.lock"

// ErrSyncRunning: another sync holds the home's lock.
var ErrSyncRunning = errors.New("another sync is running on this home")

// LockSync takes the home's sync lock, so that two syncs (a scheduled one
// and one started by hand, say) do not download into the same part files
// or send the same bundles at once. The lock is the kernel's (flock): it
// goes with the process, however the process ends, so a sync that was
// killed never leaves the home locked. unlock releases it.
func (c *Client) LockSync() (unlock func(), err error) {
	path := c.Home.Path(SyncLockFile)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sync lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, ErrSyncRunning
		}
		return nil, fmt.Errorf("sync lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}
