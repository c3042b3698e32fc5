package bundle_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/taosync/taosync/bundle"
)

// TestFileSum: a file's SHA-256 is that of its bytes, however many reads
// it takes; a file that is not there is an error.
func TestFileSum(t *testing.T) {
	data := make([]byte, 3<<20+7) // more than io.Copy's buffer, many times over
	for i := range data {
		data[i] = byte(i * 31)
	}
	p := filepath.Join(t.TempDir(), "chunk")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(data)
	if got, err := bundle.FileSum(p); err != nil || got != hex.EncodeToString(want[:]) {
		t.Errorf("FileSum: %s, %v; want %x", got, err, want)
	}
	if _, err := bundle.FileSum(p + ".missing"); !os.IsNotExist(err) {
		t.Errorf("FileSum of a missing file: %v, want not exist", err)
	}
}
