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
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/taosync/taosync/internal/safefile"
)

// Store is a folder of chunk files.
type Store struct {
	dir string
}

// Open returns the store in dir, creating the folder if needed.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
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

// Put stores data under its hash, which must match. Storing a chunk that is
// already there does nothing.
func (s *Store) Put(hash string, data []byte) error {
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != hash {
		return fmt.Errorf("store chunk %s: %w", hash, ErrCorrupt)
	}
	if s.Has(hash) {
		return nil
	}
	p := s.path(hash)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("store chunk %s: %w", hash, err)
	}
	return safefile.WriteFile(p, data, 0o600)
}

// Get reads a chunk and checks it against its hash.
func (s *Store) Get(hash string) ([]byte, error) {
	if len(hash) != 64 {
		return nil, fmt.Errorf("read chunk %q: not a SHA-256", hash)
	}
	b, err := os.ReadFile(s.path(hash))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read chunk %s: %w", hash, err)
	}
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
	err := Split(r, func(c []byte) error {
		whole.Write(c)
		sum := sha256.Sum256(c)
		h := hex.EncodeToString(sum[:])
		if err := s.Put(h, c); err != nil {
			return err
		}
		snap.Chunks = append(snap.Chunks, Chunk{Hash: h, Size: int64(len(c))})
		snap.Size += int64(len(c))
		return nil
	})
	if err != nil {
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
	whole := sha256.New()
	var n int64
	for _, c := range snap.Chunks {
		b, err := s.Get(c.Hash)
		if err != nil {
			return err
		}
		whole.Write(b)
		n += int64(len(b))
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	if n != snap.Size || hex.EncodeToString(whole.Sum(nil)) != snap.Hash {
		return fmt.Errorf("package %s: %w", snap.Hash, ErrCorrupt)
	}
	return nil
}

// Verify checks that every chunk of snap is stored and that together they
// make the snapshot's hash.
func (s *Store) Verify(snap *Snapshot) error {
	return s.WriteTo(io.Discard, snap)
}
