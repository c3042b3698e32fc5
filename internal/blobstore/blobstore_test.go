package blobstore

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/taosync/taosync/internal/safefile"
)

func random(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func split(t testing.TB, data []byte) [][]byte {
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
	s, snap, data := stored(t, 3, 5<<20)
	sum := sha256.Sum256(data)
	if snap.Hash != hex.EncodeToString(sum[:]) || snap.Size != int64(len(data)) || len(snap.Chunks) < 2 {
		t.Fatalf("snapshot %s, %d bytes, %d chunks", snap.Hash, snap.Size, len(snap.Chunks))
	}
	var out bytes.Buffer
	if err := s.WriteTo(&out, snap); err != nil || !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("WriteTo: %v, equal %v", err, bytes.Equal(out.Bytes(), data))
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

// TestStageReplacesAChunkCutShort: a chunk file left empty, cut short or
// garbled under its name (a crash before its batch was synced) is replaced
// when the chunk is stored again, not taken as stored.
func TestStageReplacesAChunkCutShort(t *testing.T) {
	s, snap, data := stored(t, 5, 5<<20)
	chunks := split(t, data)
	damage := []func([]byte) []byte{
		func([]byte) []byte { return nil },
		func(b []byte) []byte { return b[:len(b)/2] },
		func(b []byte) []byte { b = bytes.Clone(b); b[len(b)-1] ^= 1; return b },
	}
	for i, d := range damage {
		if err := os.WriteFile(s.path(snap.Chunks[i].Hash), d(chunks[i]), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Verify(snap); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Verify of the damaged store: %v", err)
	}
	var b safefile.Batch
	for i, c := range chunks {
		if err := s.Stage(&b, snap.Chunks[i].Hash, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(snap); err != nil {
		t.Errorf("Verify after storing the chunks again: %v", err)
	}
}

// TestChecker: a snapshot is checked from the chunks handed to the checker
// in its order, and only the chunks held from before or handed out of
// order are read back from the store.
func TestChecker(t *testing.T) {
	_, snap, data := stored(t, 9, 6<<20)
	chunks := split(t, data)
	if len(chunks) < 4 {
		t.Fatalf("%d chunks, want at least 4", len(chunks))
	}
	for _, tc := range []struct {
		name string
		// handed are the chunks handed to the checker, in this order,
		// and coming those it is told will be (handed when nil); held
		// are the only chunks in the store.
		handed, coming []int
		held           []int
		bad            func(*Snapshot) // alters the snapshot to check
		err            error
	}{
		{name: "all handed in order", handed: []int{0, 1, 2, 3}},
		{name: "the first held", handed: []int{1, 2, 3}, held: []int{0}},
		{name: "a middle one held", handed: []int{0, 2, 3}, held: []int{1}},
		{name: "out of order", handed: []int{0, 2, 1, 3}, held: []int{2}},
		{name: "a held one missing", handed: []int{0, 2, 3}, err: os.ErrNotExist},
		{name: "a coming one never handed", handed: []int{0, 1, 3}, coming: []int{0, 1, 2, 3}, err: os.ErrNotExist},
		{name: "the whole does not match", handed: []int{0, 1, 2, 3},
			bad: func(sn *Snapshot) { sn.Hash = hex.EncodeToString(make([]byte, 32)) }, err: ErrCorrupt},
		{name: "a size that does not match", handed: []int{0, 1, 2, 3},
			bad: func(sn *Snapshot) { sn.Size++ }, err: ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store, err := Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			var b safefile.Batch
			for _, i := range tc.held {
				if err := store.Stage(&b, snap.Chunks[i].Hash, chunks[i]); err != nil {
					t.Fatal(err)
				}
			}
			whole := bytes.Join(chunks[:4], nil)
			sum := sha256.Sum256(whole)
			sn := &Snapshot{Hash: hex.EncodeToString(sum[:]), Size: int64(len(whole)), Chunks: snap.Chunks[:4]}
			if tc.bad != nil {
				tc.bad(sn)
			}
			if tc.coming == nil {
				tc.coming = tc.handed
			}
			var coming []string
			for _, i := range tc.coming {
				coming = append(coming, sn.Chunks[i].Hash)
			}
			c := store.NewChecker(coming)
			c.Add(sn)
			for _, i := range tc.handed {
				c.Stored(sn.Chunks[i].Hash, chunks[i])
			}
			got, err := c.Check()
			if tc.err == nil && err != nil || tc.err != nil && !errors.Is(err, tc.err) {
				t.Fatalf("Check: %v, want %v", err, tc.err)
			}
			if err != nil && got != sn {
				t.Errorf("Check names snapshot %v, want the one checked", got)
			}
		})
	}
}

// stored is a new store holding n random bytes made from seed, their
// snapshot, and the bytes.
func stored(t testing.TB, seed uint64, n int) (*Store, *Snapshot, []byte) {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := random(seed, n)
	snap, err := s.Add(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return s, snap, data
}

// TestReader reads a snapshot at offsets in, across and past its chunks,
// forward and back, and fails on a chunk file missing or cut short.
func TestReader(t *testing.T) {
	s, snap, data := stored(t, 4, 5<<20)
	r := s.Reader(snap)
	defer r.Close()
	first := snap.Chunks[0].Size
	for _, c := range []struct{ off, n int64 }{
		{0, 10}, {first - 3, 7}, {int64(len(data)) - 5, 5}, {1, first + snap.Chunks[1].Size}, {0, int64(len(data))}, {first, 1},
	} {
		p := make([]byte, c.n)
		if n, err := r.ReadAt(p, c.off); err != nil || n != len(p) || !bytes.Equal(p, data[c.off:c.off+c.n]) {
			t.Errorf("ReadAt(%d bytes, %d) = %d, %v; equal %v", c.n, c.off, n, err, bytes.Equal(p, data[c.off:c.off+c.n]))
		}
	}
	p := make([]byte, 10)
	if n, err := r.ReadAt(p, int64(len(data))-4); n != 4 || err != io.EOF || !bytes.Equal(p[:4], data[len(data)-4:]) {
		t.Errorf("ReadAt past the end = %d, %v", n, err)
	}
	if _, err := r.ReadAt(p, -1); err == nil {
		t.Error("ReadAt a negative offset succeeded")
	}
	path := s.path(snap.Chunks[1].Hash)
	if err := os.Truncate(path, 100); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reader(snap).ReadAt(p, first+95); !errors.Is(err, ErrCorrupt) {
		t.Errorf("ReadAt across the end of a short chunk: %v", err)
	}
	os.Remove(path)
	if _, err := s.Reader(snap).ReadAt(p, first+1); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadAt a missing chunk: %v", err)
	}
}

// BenchmarkChecker checks a 64 MiB snapshot from its chunks handed in
// order, as an import does with the package pieces it has just stored: the
// package's hashing pass of an import. MB/s is the snapshot's bytes.
func BenchmarkChecker(b *testing.B) {
	s, snap, data := stored(b, 5, 64<<20)
	chunks := split(b, data)
	var coming []string
	for _, c := range snap.Chunks {
		coming = append(coming, c.Hash)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		c := s.NewChecker(coming)
		c.Add(snap)
		for i, chunk := range chunks {
			c.Stored(snap.Chunks[i].Hash, chunk)
		}
		if _, err := c.Check(); err != nil {
			b.Fatal(err)
		}
	}
}

// mapRemote is a Remote in memory.
type mapRemote map[string][]byte

func (m mapRemote) Keep(hash string, data []byte) error {
	m[hash] = bytes.Clone(data)
	return nil
}

func (m mapRemote) Fetch(hash string) ([]byte, error) {
	b, ok := m[hash]
	if !ok {
		return nil, fs.ErrNotExist
	}
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != hash {
		return nil, ErrCorrupt
	}
	return b, nil
}

// TestRemote: Add keeps every chunk in the remote; another store on the
// same remote gets a chunk it lacks, or holds damaged, from it and keeps
// it; a chunk neither holds whole is an error.
func TestRemote(t *testing.T) {
	remote := mapRemote{}
	a, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a.SetRemote(remote)
	data := make([]byte, 3<<20)
	rand.NewChaCha8([32]byte{7}).Read(data)
	snap, err := a.Add(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(remote) != len(snap.Chunks) || len(snap.Chunks) < 2 {
		t.Fatalf("remote holds %d chunks of %d", len(remote), len(snap.Chunks))
	}
	b, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b.SetRemote(remote)
	if err := b.Verify(snap); err != nil {
		t.Fatalf("read through the remote: %v", err)
	}
	if len(b.Missing(snap)) != 0 {
		t.Fatal("the chunks fetched were not kept")
	}
	c := snap.Chunks[0].Hash
	if err := os.WriteFile(b.path(c), []byte("damaged"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(c); err != nil {
		t.Fatalf("a damaged chunk is fetched again: %v", err)
	}
	if _, err := b.getLocal(c); err != nil {
		t.Fatalf("and kept: %v", err)
	}
	os.Remove(b.path(c))
	remote[c] = []byte("damaged")
	if _, err := b.Get(c); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("damaged in both: %v, want ErrCorrupt", err)
	}
}
