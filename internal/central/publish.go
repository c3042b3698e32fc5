package central

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/taosync/taosync/internal/home"
	"github.com/taosync/taosync/internal/qti"
	"github.com/taosync/taosync/internal/store"
)

// PackageError refuses a content package: it cannot be read, or it does
// not pass validation.
type PackageError struct {
	Path string
	Err  error
}

func (e *PackageError) Error() string {
	return fmt.Sprintf("package %s refused: %v", filepath.Base(e.Path), e.Err)
}

func (e *PackageError) Unwrap() error { return e.Err }

// Publish validates the QTI content package in the file at path and
// publishes it as the delivery's test: its chunks stored, the delivery's
// package field set. A package refused is a *PackageError; a delivery not
// loaded, store.ErrUnknownDelivery.
func (c *Central) Publish(ctx context.Context, delivery, path string) (store.Published, *qti.Package, error) {
	// Validate and store the same bytes: a private copy first, so that the
	// file cannot change between the check and the snapshot.
	tmp, err := os.CreateTemp(c.Home.Path(home.StoreDir), ".publish-*.zip")
	if err != nil {
		return store.Published{}, nil, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	size, err := copyPackage(tmp, path)
	if err != nil {
		return store.Published{}, nil, err
	}
	pkg, err := qti.Validate(tmp, size, qti.DefaultLimits)
	if err != nil {
		return store.Published{}, nil, &PackageError{path, err}
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return store.Published{}, nil, err
	}
	snap, err := c.Store.Chunks.Add(tmp)
	if err != nil {
		return store.Published{}, nil, err
	}
	res, err := c.Store.Publish(ctx, delivery, store.PackageRef{Snapshot: *snap, Test: pkg.Test})
	return res, pkg, err
}

// copyPackage copies the package at path into tmp, refusing one over the
// size limit before reading it, and returns its size.
func copyPackage(tmp *os.File, path string) (int64, error) {
	in, err := os.Open(path)
	if err != nil {
		return 0, &PackageError{path, err}
	}
	defer in.Close()
	if st, err := in.Stat(); err != nil {
		return 0, &PackageError{path, err}
	} else if st.Size() > qti.DefaultLimits.MaxArchiveBytes {
		return 0, &PackageError{path, fmt.Errorf("%w: %s is %d bytes, the limit is %d", qti.ErrTooLarge, path, st.Size(), qti.DefaultLimits.MaxArchiveBytes)}
	}
	if _, err := io.Copy(tmp, in); err != nil {
		return 0, fmt.Errorf("copy %s: %w", path, err)
	}
	return tmp.Seek(0, io.SeekEnd)
}
