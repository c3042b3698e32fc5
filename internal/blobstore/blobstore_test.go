package blobstore

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"os"
	"testing"
)

func random(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func split(t *testing.T, data []byte) [][]byte {
	t.Helper()
	var out [][]byte
	if err := Split(bytes.NewReader(data), func(c []byte) error {
		out = append(out, bytes.Clone(c))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSplitBounds(t *testing.T) {
	for _, n := range []int{0, 1, MinChunk, MinChunk + 1, 3 * AvgChunk, 9*MaxChunk + 17} {
		data := random(uint64(n), n)
		chunks := split(t, data)
		if got := bytes.Join(chunks, nil); !bytes.Equal(got, data) {
			t.Fatalf("%d bytes: the chunks do not put the data back together", n)
		}
		for i, c := range chunks {
			if len(c) > MaxChunk || (len(c) < MinChunk && i != len(chunks)-1) {
				t.Errorf("%d bytes: chunk %d of %d is %d bytes", n, i, len(chunks), len(c))
			}
		}
	}
	// A run of zeros never matches the pattern: chunks are cut at the
	// maximum.
	for _, c := range split(t, make([]byte, 3*MaxChunk)) {
		if len(c) != MaxChunk {
			t.Errorf("a zero chunk of %d bytes, want %d", len(c), MaxChunk)
		}
	}
}

// TestSplitSharesAfterAnInsertion: a few bytes inserted early move only the
// cut points near them, which is what makes a re-published package cheap.
func TestSplitSharesAfterAnInsertion(t *testing.T) {
	data := random(7, 24<<20)
	edited := append(append(bytes.Clone(data[:5<<20]), []byte("a changed item")...), data[5<<20:]...)
	before := map[string]bool{}
	for _, c := range split(t, data) {
		before[string(c)] = true
	}
	after := split(t, edited)
	changed := 0
	for _, c := range after {
		if !before[string(c)] {
			changed++
		}
	}
	if changed == 0 || changed > 2 {
		t.Errorf("%d of %d chunks changed after one insertion, want 1 or 2", changed, len(after))
	}
}

func TestStoreRoundTripAndCorruption(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := random(3, 5<<20)
	snap, err := s.Add(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if snap.Hash != hex.EncodeToString(sum[:]) || snap.Size != int64(len(data)) || len(snap.Chunks) < 2 {
		t.Fatalf("snapshot %s, %d bytes, %d chunks", snap.Hash, snap.Size, len(snap.Chunks))
	}
	var out bytes.Buffer
	if err := s.WriteTo(&out, snap); err != nil || !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("WriteTo: %v, equal %v", err, bytes.Equal(out.Bytes(), data))
	}
	if err := s.Put(snap.Chunks[0].Hash, []byte("other bytes")); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Put of bytes that do not match the hash: %v", err)
	}
	// A chunk damaged on disk is found, and nothing is written past it.
	path := s.path(snap.Chunks[1].Hash)
	b, _ := os.ReadFile(path)
	b[0] ^= 1
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(snap); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Verify of a damaged store: %v", err)
	}
	if missing := s.Missing(snap); len(missing) != 0 {
		t.Errorf("Missing lists %d chunks, all are there", len(missing))
	}
	os.Remove(path)
	if missing := s.Missing(snap); len(missing) != 1 || missing[0].Hash != snap.Chunks[1].Hash {
		t.Errorf("Missing after removing one chunk: %v", missing)
	}
}
