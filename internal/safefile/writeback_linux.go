package safefile

import (
	"os"
	"syscall"
)

// startWriteback asks the kernel to start writing f's data to the disk now,
// without waiting for it (SYNC_FILE_RANGE_WRITE over the whole file): the
// disk works while the caller goes on, and the later fsync finds little
// left to do. Otherwise the dirty pages could wait in memory for the
// fsync, which would then wait for all of them at once.
func startWriteback(f *os.File) error {
	const syncFileRangeWrite = 2 // SYNC_FILE_RANGE_WRITE in linux/fs.h
	return syscall.SyncFileRange(int(f.Fd()), 0, 0, syncFileRangeWrite)
}
