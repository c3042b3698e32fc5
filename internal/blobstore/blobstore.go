// Package blobstore keeps QTI package snapshots as content-addressed chunks
// in a home's store folder: each chunk a file named by the SHA-256 of its
// bytes, so that `sha256sum` checks it, a chunk shared by two snapshots is
// stored once, and a client that holds a chunk is never sent it again.
package blobstore

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/taosync/taosync/internal/safefile"
)

// Store is a folder of chunk files.
type Store struct {
	dir    string
	remote Remote
}

// Remote keeps a store's chunks in a second place that several stores
// share: central's object store, where each of its replicas finds the
// chunks any one of them stored.
type Remote interface {
	// Keep stores a chunk, named by its hash, durably; again is a no-op.
	Keep(hash string, data []byte) error
	// Fetch returns a chunk, checked against its hash (ErrCorrupt).
	Fetch(hash string) ([]byte, error)
}

// SetRemote makes Add keep every chunk in r too, and Get fetch from r a
// chunk the folder lacks or holds damaged, and keep it in the folder.
func (s *Store) SetRemote(r Remote) { s.remote = r }

// Open returns the store in dir, creating the folder if needed.
func Open(dir string) (*Store, error) {
	if err := safefile.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open chunk store: %w", err)
	}
	return &Store{dir: dir}, nil
}

// Chunk names one chunk of a snapshot.
type Chunk struct {
	Hash string `json:"sha256"`
	Size int64  `json:"size"`
}

// Snapshot is a stored file: its hash and size, and its chunks in order.
type Snapshot struct {
	Hash   string  `json:"sha256"`
	Size   int64   `json:"size"`
	Chunks []Chunk `json:"chunks"`
}

// ErrCorrupt reports a chunk or snapshot whose bytes do not match its hash.
var ErrCorrupt = errors.New("stored data does not match its hash")

// path spreads chunks over 256 sub-folders by the hash's first byte.
func (s *Store) path(hash string) string {
	return filepath.Join(s.dir, hash[:2], hash)
}

// Has reports whether the chunk is stored.
func (s *Store) Has(hash string) bool {
	_, err := os.Stat(s.path(hash))
	return err == nil
}

// Stage stores data under hash, which the caller has checked it against,
// in batch b: it is durable once b.Sync returns. A chunk already stored is
// read back and kept if it matches; one that does not (a write cut short
// by a crash before its batch was synced) is replaced. Either way it is
// in b.
func (s *Store) Stage(b *safefile.Batch, hash string, data []byte) error {
	p := s.path(hash)
	_, err := s.getLocal(hash)
	switch {
	case err == nil:
		b.Add(p)
		return nil
	case !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, ErrCorrupt):
		return err
	}
	if err := safefile.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("store chunk %s: %w", hash, err)
	}
	return b.Write(p, data, 0o600)
}

// Get reads a chunk and checks it against its hash; with a remote, a
// chunk missing or damaged in the folder is fetched from it.
func (s *Store) Get(hash string) ([]byte, error) {
	b, err := s.getLocal(hash)
	if s.remote == nil || !(errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrCorrupt)) {
		return b, err
	}
	if b, err = s.remote.Fetch(hash); err != nil {
		return nil, fmt.Errorf("read chunk %s: %w", hash, err)
	}
	p := s.path(hash)
	if err := safefile.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return nil, fmt.Errorf("store chunk %s: %w", hash, err)
	}
	if err := safefile.WriteFile(p, b, 0o600); err != nil {
		return nil, fmt.Errorf("store chunk %s: %w", hash, err)
	}
	return b, nil
}

func (s *Store) getLocal(hash string) ([]byte, error) {
	if len(hash) != 64 {
		return nil, fmt.Errorf("read chunk %q: not a SHA-256", hash)
	}
	b, err := os.ReadFile(s.path(hash))
	if err != nil {
		return nil, fmt.Errorf("read chunk %s: %w", hash, err)
	}
	sum := sha256.Sum256(b)
	if hex.EncodeToString(sum[:]) != hash {
		return nil, fmt.Errorf("read chunk %s: %w", hash, ErrCorrupt)
	}
	return b, nil
}

// Add splits r into content-defined chunks, stores them, and returns the
// snapshot describing them.
func (s *Store) Add(r io.Reader) (*Snapshot, error) {
	whole := sha256.New()
	snap := &Snapshot{}
	var b safefile.Batch
	err := Split(r, func(c []byte) error {
		whole.Write(c)
		sum := sha256.Sum256(c)
		h := hex.EncodeToString(sum[:])
		if err := s.Stage(&b, h, c); err != nil {
			return err
		}
		if s.remote != nil {
			if err := s.remote.Keep(h, c); err != nil {
				return fmt.Errorf("store chunk %s: %w", h, err)
			}
		}
		snap.Chunks = append(snap.Chunks, Chunk{Hash: h, Size: int64(len(c))})
		snap.Size += int64(len(c))
		return nil
	})
	if err == nil {
		// The caller records the snapshot once Add returns.
		err = b.Sync()
	}
	if err != nil {
		b.Discard()
		return nil, err
	}
	snap.Hash = hex.EncodeToString(whole.Sum(nil))
	return snap, nil
}

// Missing lists the chunks of snap that are not stored.
func (s *Store) Missing(snap *Snapshot) []Chunk {
	var out []Chunk
	for _, c := range snap.Chunks {
		if !s.Has(c.Hash) {
			out = append(out, c)
		}
	}
	return out
}

// WriteTo writes the snapshot's bytes to w, checking every chunk and the
// whole against their hashes; on a mismatch it fails with ErrCorrupt.
func (s *Store) WriteTo(w io.Writer, snap *Snapshot) error {
	sum := s.newSum(snap, w)
	if err := sum.readRest(); err != nil {
		return err
	}
	return sum.check()
}

// Verify checks that every chunk of snap is stored and that together they
// make the snapshot's hash.
func (s *Store) Verify(snap *Snapshot) error {
	return s.WriteTo(io.Discard, snap)
}

// Reader reads a stored snapshot at any offset, as an io.ReaderAt, from
// its chunk files. It does not hash what it reads, as a reader that jumps
// about would hash a chunk again at each visit: Verify the snapshot first.
// It keeps the last chunk file it read open (readers of a ZIP archive
// mostly read forward) until Close. It is not safe for concurrent use.
type Reader struct {
	s    *Store
	snap *Snapshot
	ends []int64  // where each chunk ends in the snapshot
	cur  int      // the chunk f holds, or -1
	f    *os.File // the open chunk file
}

// Reader returns a reader of snap's bytes.
func (s *Store) Reader(snap *Snapshot) *Reader {
	r := &Reader{s: s, snap: snap, ends: make([]int64, len(snap.Chunks)), cur: -1}
	var end int64
	for i, c := range snap.Chunks {
		end += c.Size
		r.ends[i] = end
	}
	return r
}

// ReadAt reads len(p) bytes at off, as io.ReaderAt says. A chunk file
// that is missing or shorter than the snapshot says fails the read.
func (r *Reader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("package %s: read at negative offset %d", r.snap.Hash, off)
	}
	n := 0
	for n < len(p) {
		i, _ := slices.BinarySearch(r.ends, off+1) // the first chunk ending after off
		if i == len(r.ends) {
			return n, io.EOF
		}
		c := r.snap.Chunks[i]
		if i != r.cur {
			r.Close()
			f, err := os.Open(r.s.path(c.Hash))
			if err != nil {
				return n, fmt.Errorf("read chunk %s: %w", c.Hash, err)
			}
			r.f, r.cur = f, i
		}
		start := r.ends[i] - c.Size
		k, err := r.f.ReadAt(p[n:min(len(p), n+int(r.ends[i]-off))], off-start)
		n += k
		off += int64(k)
		if err == io.EOF {
			return n, fmt.Errorf("read chunk %s: shorter than %d bytes: %w", c.Hash, c.Size, ErrCorrupt)
		}
		if err != nil {
			return n, fmt.Errorf("read chunk %s: %w", c.Hash, err)
		}
	}
	return n, nil
}

// Close closes the chunk file the reader holds open.
func (r *Reader) Close() error {
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f, r.cur = nil, -1
	return err
}

// snapSum hashes a snapshot's bytes in order, as they come.
type snapSum struct {
	s    *Store
	snap *Snapshot
	w    io.Writer
	h    hash.Hash
	n    int64
	// next is the index of the chunk it needs next.
	next int
	// err is the first failure to read a chunk back.
	err error
}

func (s *Store) newSum(snap *Snapshot, w io.Writer) *snapSum {
	return &snapSum{s: s, snap: snap, w: w, h: sha256.New()}
}

func (m *snapSum) add(b []byte) error {
	m.h.Write(b)
	m.n += int64(len(b))
	m.next++
	_, err := m.w.Write(b)
	return err
}

// readOne reads the next chunk back from the store, checked against its
// hash.
func (m *snapSum) readOne() error {
	b, err := m.s.Get(m.snap.Chunks[m.next].Hash)
	if err != nil {
		return err
	}
	return m.add(b)
}

func (m *snapSum) readRest() error {
	for m.next < len(m.snap.Chunks) {
		if err := m.readOne(); err != nil {
			return err
		}
	}
	return nil
}

func (m *snapSum) check() error {
	if m.n != m.snap.Size || hex.EncodeToString(m.h.Sum(nil)) != m.snap.Hash {
		return fmt.Errorf("package %s: %w", m.snap.Hash, ErrCorrupt)
	}
	return nil
}

// Checker checks snapshots while their chunks are being stored, without
// reading back the chunks it is handed: each snapshot is hashed as its
// chunks come, in its order, and only the chunks it is not handed (held
// from before), or handed out of its order, are read back from the store.
type Checker struct {
	s *Store
	// coming are the chunks that will be handed to Stored, and given
	// those that were.
	coming map[string]bool
	given  map[string]bool
	sums   map[string]*snapSum
	// order keeps the snapshots in the order they were added, so that
	// errors do not depend on map order.
	order []*snapSum
}

// NewChecker starts checking snapshots whose chunks named coming (content
// hashes) will be handed to Stored.
func (s *Store) NewChecker(coming []string) *Checker {
	c := &Checker{s: s, coming: map[string]bool{}, given: map[string]bool{}, sums: map[string]*snapSum{}}
	for _, h := range coming {
		c.coming[h] = true
	}
	return c
}

// Add makes the checker check snap; adding the same snapshot twice checks
// it once.
func (c *Checker) Add(snap *Snapshot) {
	if _, ok := c.sums[snap.Hash]; ok {
		return
	}
	m := c.s.newSum(snap, io.Discard)
	c.sums[snap.Hash] = m
	c.order = append(c.order, m)
	c.catchUp(m)
}

// Stored hands the checker a chunk that is stored under hash, which the
// caller has checked data against in this process.
func (c *Checker) Stored(hash string, data []byte) {
	for _, m := range c.order {
		if m.err == nil && m.next < len(m.snap.Chunks) && m.snap.Chunks[m.next].Hash == hash {
			// data was checked against hash by the caller: hashing it
			// into the snapshot is the same as reading it back, which
			// would check it against hash again. (io.Discard never
			// fails.)
			m.add(data)
		}
	}
	c.given[hash] = true
	for _, m := range c.order {
		c.catchUp(m)
	}
}

// catchUp reads back the chunks m needs next that will not be handed to
// Stored: those held from before, and those handed already. A failure is
// kept for Check, which names the snapshot.
func (c *Checker) catchUp(m *snapSum) {
	for m.err == nil && m.next < len(m.snap.Chunks) {
		h := m.snap.Chunks[m.next].Hash
		if c.coming[h] && !c.given[h] {
			return
		}
		m.err = m.readOne()
	}
}

// Check reads back what each snapshot still lacks and checks its hash;
// the first snapshot that fails is returned with the error.
func (c *Checker) Check() (*Snapshot, error) {
	for _, m := range c.order {
		err := m.err
		if err == nil {
			err = m.readRest()
		}
		if err == nil {
			err = m.check()
		}
		if err != nil {
			return m.snap, err
		}
	}
	return nil, nil
}
