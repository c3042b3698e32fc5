package safefile

import (
	"errors"
	"io"
	"os"
	"syscall"
	"unsafe"
)

// directAlign is the alignment O_DIRECT asks of a write's memory, offset
// and length: 4096 satisfies disks of 512 and of 4096-byte blocks.
const directAlign = 4096

// writeBulk writes data, a file's whole content, into f, just created.
// Its aligned part goes past the page cache (O_DIRECT) when data lies at an
// aligned address, as the runtime places large buffers: a batch's files
// are fsynced, not read back, and copying them through the page cache cost
// the writer as much CPU as the rest of an export. The rest is written as
// usual. A file system that refuses O_DIRECT gets an ordinary write.
func writeBulk(f *os.File, data []byte) error {
	n := len(data) &^ (directAlign - 1)
	if n == 0 || uintptr(unsafe.Pointer(&data[0]))%directAlign != 0 {
		_, err := f.Write(data)
		return err
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var flags int
	var ferr error
	setFlags := func(fl int) {
		err := rc.Control(func(fd uintptr) {
			if _, _, e := syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_SETFL, uintptr(fl)); e != 0 {
				ferr = e
			}
		})
		if ferr == nil {
			ferr = err
		}
	}
	err = rc.Control(func(fd uintptr) {
		r, _, e := syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_GETFL, 0)
		flags = int(r)
		if e != 0 {
			ferr = e
		}
	})
	if err == nil && ferr == nil {
		setFlags(flags | syscall.O_DIRECT)
	}
	if err != nil || ferr != nil {
		_, err := f.Write(data)
		return err
	}
	_, werr := f.Write(data[:n])
	setFlags(flags)
	if ferr != nil {
		return ferr
	}
	if errors.Is(werr, syscall.EINVAL) {
		// The device asks for more alignment: start again, as usual.
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		if err := f.Truncate(0); err != nil {
			return err
		}
		n = 0
	} else if werr != nil {
		return werr
	}
	_, err = f.Write(data[n:])
	return err
}
