package safefile

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"unsafe"
)

// TestBatch: a batch's files are whole under their names with no temporary
// file left beside them, and Sync reports a file it cannot sync.
func TestBatch(t *testing.T) {
	dir := t.TempDir()
	var b Batch
	want := map[string][]byte{}
	for i, name := range []string{"a/1", "a/2", "b/3"} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		want[p] = bytes.Repeat([]byte{byte(i)}, 1<<20+i)
		if err := b.Write(p, want[p], 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// Replacing a file in the batch is atomic too.
	p := filepath.Join(dir, "a/1")
	want[p] = []byte("new")
	if err := b.Write(p, want[p], 0o600); err != nil {
		t.Fatal(err)
	}
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		got, err := os.ReadFile(p)
		if w, ok := want[p]; !ok || err != nil || !bytes.Equal(got, w) {
			t.Errorf("%s: %d bytes, %v; in the batch: %v", p, len(got), err, ok)
		}
		if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v", p, st.Mode(), err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Sync(); err != nil {
		t.Errorf("Sync of an empty batch: %v", err)
	}
	b.Add(filepath.Join(dir, "gone"))
	if err := b.Sync(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Sync of a missing file: %v", err)
	}
}

// TestBatchBulkWrites: a batch writes every size of content whole, at an
// aligned address (past the page cache, where the file system allows) or
// not, in the test's temporary folder and on tmpfs (which kernels before
// 6.6 refuse O_DIRECT on).
func TestBatchBulkWrites(t *testing.T) {
	dirs := []string{t.TempDir()}
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		shm, err := os.MkdirTemp("/dev/shm", "safefile-test-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(shm) })
		dirs = append(dirs, shm)
	} else {
		t.Log("no /dev/shm: tmpfs is not tried")
	}
	for _, dir := range dirs {
		var b Batch
		want := map[string][]byte{}
		for _, size := range []int{0, 1, 4095, 4096, 4097, 1 << 20, 1<<20 + 123} {
			for _, shift := range []int{0, 1} {
				buf := make([]byte, size+2*4096)
				off := int(uintptr(unsafe.Pointer(&buf[0])) % 4096)
				data := buf[(4096-off)%4096+shift:][:size]
				for i := range data {
					data[i] = byte(i*7 + size + shift)
				}
				p := filepath.Join(dir, fmt.Sprintf("%d-%d", size, shift))
				want[p] = data
				if err := b.Write(p, data, 0o600); err != nil {
					t.Fatalf("%s: %v", p, err)
				}
			}
		}
		if err := b.Sync(); err != nil {
			t.Fatal(err)
		}
		for p, w := range want {
			if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, w) {
				t.Errorf("%s: %d bytes read back (%v), want %d", p, len(got), err, len(w))
			}
		}
	}
}
