package client

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestStreamReader: a bundle's stream read from any offset is the rest of
// the files one after the other, and reports the bytes of the stream.
func TestStreamReader(t *testing.T) {
	dir := t.TempDir()
	var files []streamFile
	var whole string
	for i, content := range []string{"sig", "manifest", "", "chunk-one", "c2"} {
		path := filepath.Join(dir, string(rune('a'+i)))
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, streamFile{path, int64(len(content))})
		whole += content
	}
	for offset := range len(whole) + 1 {
		var reported int64
		r := &streamReader{files: files, skip: int64(offset), n: int64(offset), report: func(n int64) { reported = n }}
		got, err := io.ReadAll(r)
		if err != nil || string(got) != whole[offset:] {
			t.Errorf("from %d: %q, %v; want %q", offset, got, err, whole[offset:])
		}
		if offset < len(whole) && reported != int64(len(whole)) {
			t.Errorf("from %d: reported %d, want %d", offset, reported, len(whole))
		}
		if err := r.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}
	// Closed half-way: the rest reads as the end, and the file is closed.
	r := &streamReader{files: files, report: func(int64) {}}
	if _, err := io.ReadFull(r, make([]byte, 5)); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if n, err := r.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Errorf("after Close: %d, %v", n, err)
	}
	// Closed between two files (none open): nothing more is read either.
	r = &streamReader{files: files, report: func(int64) {}}
	if _, err := io.ReadFull(r, make([]byte, 3)); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if n, err := r.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Errorf("after Close between files: %d, %v", n, err)
	}
}
