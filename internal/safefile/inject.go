package safefile

import (
	"io"
	"os"
)

// Op is a kind of operation a durable write makes on the file system.
type Op uint8

// The operations an Injector is asked about.
const (
	// OpCreate creates a file or a folder.
	OpCreate Op = iota + 1
	// OpWrite writes into a file.
	OpWrite
	// OpSync fsyncs a file or a folder.
	OpSync
	// OpRename renames a file or a folder.
	OpRename
)

func (o Op) String() string {
	switch o {
	case OpCreate:
		return "create"
	case OpWrite:
		return "write"
	case OpSync:
		return "sync"
	case OpRename:
		return "rename"
	}
	return "op?"
}

// An Injector decides whether an operation fails: it is asked before the
// operation runs, and the error it returns (a syscall.Errno, as the kernel
// would give) is returned instead, the operation not done. Pebble's
// vfs/errorfs is the model. Only tests set one (internal/faultfs).
type Injector interface {
	MaybeError(op Op, path string) error
}

// injector is the Injector of the running tests, nil otherwise: every
// durable write of taosync asks it through fault, at the cost of a nil
// check.
var injector Injector

// SetInjector makes every durable write ask in whether it fails, until
// the returned function is called. Tests that set one do not run in
// parallel with others that write files.
func SetInjector(in Injector) (restore func()) {
	old := injector
	injector = in
	return func() { injector = old }
}

// fault asks the injector whether op on path fails, and returns the error
// as the os package would.
func fault(op Op, path string) error {
	if injector == nil {
		return nil
	}
	if err := injector.MaybeError(op, path); err != nil {
		return &os.PathError{Op: op.String(), Path: path, Err: err}
	}
	return nil
}

// Mkdir creates a folder, as os.Mkdir.
func Mkdir(path string, perm os.FileMode) error {
	if err := fault(OpCreate, path); err != nil {
		return err
	}
	return os.Mkdir(path, perm)
}

// MkdirAll creates a folder and its parents, as os.MkdirAll.
func MkdirAll(path string, perm os.FileMode) error {
	if err := fault(OpCreate, path); err != nil {
		return err
	}
	return os.MkdirAll(path, perm)
}

// OpenFile opens a file, as os.OpenFile; flag O_CREATE makes it an
// OpCreate.
func OpenFile(path string, flag int, perm os.FileMode) (*os.File, error) {
	if flag&os.O_CREATE != 0 {
		if err := fault(OpCreate, path); err != nil {
			return nil, err
		}
	}
	return os.OpenFile(path, flag, perm)
}

// Rename renames a file or a folder, as os.Rename.
func Rename(from, to string) error {
	if injector != nil {
		if err := injector.MaybeError(OpRename, to); err != nil {
			return &os.LinkError{Op: OpRename.String(), Old: from, New: to, Err: err}
		}
	}
	return os.Rename(from, to)
}

// Sync fsyncs f.
func Sync(f *os.File) error { return syncAs(f, f.Name()) }

// Writer is f for the writes of a durable write of path: f itself, unless
// an injector is set (so that io.Copy keeps the file's own fast paths).
func Writer(f *os.File, path string) io.Writer {
	if injector == nil {
		return f
	}
	return faultWriter{f, path}
}

type faultWriter struct {
	w    io.Writer
	path string
}

func (w faultWriter) Write(p []byte) (int, error) {
	if err := fault(OpWrite, w.path); err != nil {
		return 0, err
	}
	return w.w.Write(p)
}
