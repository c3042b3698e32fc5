package bundle

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"

	"github.com/taosync/taosync/manifest"
	"github.com/taosync/taosync/minisign"
)

// Errors a reader returns, wrapped in an *Error naming the bundle and chunk.
var (
	ErrIncomplete         = errors.New("incomplete bundle: no manifest (an interrupted copy or write; copy it again)")
	ErrUnsupportedVersion = manifest.ErrUnsupportedVersion
	ErrMalformed          = manifest.ErrMalformed
	ErrBadSignature       = manifest.ErrBadSignature
	ErrUnknownSigner      = manifest.ErrUnknownSigner
	ErrWrongRecipient     = errors.New("bundle is for another recipient")
	ErrExpired            = errors.New("bundle has expired")
	ErrMissingChunk       = errors.New("chunk missing")
	ErrChunkSize          = errors.New("chunk has the wrong size (truncated?)")
	ErrChunkHash          = errors.New("chunk hash mismatch")
	ErrDecrypt            = errors.New("chunk does not decrypt")
	ErrNotRegular         = errors.New("not a regular file")
	// ErrUnpublished refuses the hidden folder of a bundle being written
	// or whose write was cut short (Find).
	ErrUnpublished = errors.New("the hidden folder of a bundle never published (a write under way, or cut short): delete it, and export again")
)

// Error locates a failure in a bundle.
type Error struct {
	Bundle string // the bundle folder's name
	Chunk  string // the chunk's hash, if the failure is a chunk's
	Err    error
}

func (e *Error) Error() string {
	if e.Chunk != "" {
		return fmt.Sprintf("bundle %s: chunk %s: %v", e.Bundle, e.Chunk, e.Err)
	}
	return fmt.Sprintf("bundle %s: %v", e.Bundle, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Self says who is reading: the recipient a bundle must name.
type Self struct {
	Role         string // "central" or "client"
	Client       string // the client id, for a client
	AgeRecipient string
}

// Trust is what a reader checks a bundle against.
type Trust struct {
	// Keys are the signing keys trusted here.
	Keys []minisign.PublicKey
	// Own is this home's own signing key: a bundle it signed went out from
	// here, so its recipient is someone else and is not checked.
	Own *minisign.PublicKey
	// Parties names who owns each trusted key (by key id): "central" or a
	// client id. A bundle must claim as its sender the party whose key
	// signed it.
	Parties map[string]string
	Self    Self
	// Now is the time expiry is checked against.
	Now time.Time
}

// Bundle is a bundle whose manifest has been verified.
type Bundle struct {
	Dir      string
	Manifest *manifest.Manifest
	// Hash is the SHA-256 of the manifest file.
	Hash   string
	Signer minisign.PublicKey
	// Bytes is the size of the manifest, signature and chunk files.
	Bytes int64
}

// Name is the bundle folder's name.
func (b *Bundle) Name() string { return filepath.Base(b.Dir) }

// Find lists the bundle folders in dir: dir itself if it holds a manifest,
// else each sub-folder that holds a manifest or looks like an unfinished
// bundle, sorted by name. Other files and folders are ignored. A writer's
// hidden folder, given itself, is refused with ErrUnpublished: it may hold
// a whole bundle that its exporter never recorded.
func Find(dir string) ([]string, error) {
	if Unpublished(filepath.Base(dir)) {
		return nil, fmt.Errorf("%s: %w", dir, ErrUnpublished)
	}
	if _, err := os.Stat(filepath.Join(dir, manifest.FileName)); err == nil {
		return []string{dir}, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("find bundles: %w", err)
	}
	var dirs []string
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		sub := filepath.Join(dir, e.Name())
		if looksLikeBundle(sub) {
			dirs = append(dirs, sub)
		}
	}
	sort.Strings(dirs)
	return dirs, nil
}

func looksLikeBundle(dir string) bool {
	for _, name := range []string{manifest.FileName, manifest.SigName} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return true
		}
	}
	// A bundle whose write was cut before the signature was in place:
	// chunk files only, besides hidden files such as the temporary file of
	// the interrupted signature write.
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	chunks := 0
	for _, e := range entries {
		switch {
		case strings.HasPrefix(e.Name(), "."):
		case len(e.Name()) == 64 && isLowerHex(e.Name()):
			chunks++
		default:
			return false
		}
	}
	return chunks > 0
}

func isLowerHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// Open reads the bundle in dir and checks, in this order, the format
// version, the signature against the trusted keys, the recipient and the
// expiry. It reads no chunk. An expired bundle is returned with
// ErrExpired; on any other error the bundle is nil.
func Open(dir string, t Trust) (*Bundle, error) {
	name := filepath.Base(dir)
	fail := func(err error) (*Bundle, error) { return nil, &Error{Bundle: name, Err: err} }
	raw, err := ReadFile(filepath.Join(dir, manifest.FileName), manifest.MaxManifestBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return fail(ErrIncomplete)
	}
	if err != nil {
		return fail(err)
	}
	// An unknown major version is refused before the signature is even
	// looked for: a future format may sign differently, or elsewhere.
	if err := manifest.CheckVersion(raw); err != nil {
		return fail(err)
	}
	sig, err := ReadFile(filepath.Join(dir, manifest.SigName), 64<<10)
	if errors.Is(err, fs.ErrNotExist) {
		return fail(fmt.Errorf("%w: no %s", ErrBadSignature, manifest.SigName))
	}
	if err != nil {
		return fail(err)
	}
	m, key, err := manifest.Verify(raw, sig, t.Keys)
	if err != nil {
		return fail(err)
	}
	if party, ok := t.Parties[key.IDString()]; ok {
		claim := m.Sender.Role
		if m.Sender.Role == "client" {
			claim = m.Sender.Client
		}
		if claim != party {
			return fail(fmt.Errorf("%w: signed by the key of %s but claims to come from %s", ErrBadSignature, party, claim))
		}
	}
	own := t.Own != nil && key.ID == t.Own.ID
	r := m.Recipient
	if !own && (r.Role != t.Self.Role || r.Client != t.Self.Client || r.AgeRecipient != t.Self.AgeRecipient) {
		who := r.Role
		if r.Client != "" {
			who += " " + r.Client
		}
		return fail(fmt.Errorf("%w: it is for %s (%s)", ErrWrongRecipient, who, r.AgeRecipient))
	}
	b := &Bundle{Dir: dir, Manifest: m, Hash: HashManifest(raw), Signer: key,
		Bytes: int64(len(raw)+len(sig)) + m.StoredBytes()}
	if t.Now.After(m.Expires) {
		// The bundle comes back with the error: a reader may still tell
		// that it applied it before it expired.
		return b, &Error{Bundle: name, Err: fmt.Errorf("%w: it expired at %s", ErrExpired, m.Expires.UTC().Format(time.RFC3339))}
	}
	return b, nil
}

// ReadFile reads a file of a bundle folder, opened with OpenFile, failing
// with ErrMalformed if it is larger than limit.
func ReadFile(path string, limit int64) ([]byte, error) {
	f, err := OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Base(path), err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrMalformed, filepath.Base(path), limit)
	}
	return b, nil
}

// OpenFile opens a file of a bundle folder for reading, if it is a regular
// file. A bundle folder comes from a stick anyone may have written: opening
// a named pipe there would block until something writes into it (for ever),
// a device could be read without end, and a symbolic link could point
// anywhere on this machine. So the file is looked at first without
// following links, opened without blocking and without following a link,
// and checked again once open: a regular file, the same one. Anything else
// fails with ErrNotRegular naming the file; a file not there fails with an
// error matching fs.ErrNotExist.
func OpenFile(path string) (*os.File, error) {
	name := filepath.Base(path)
	st, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is %s", ErrNotRegular, name, fileKind(st.Mode()))
	}
	// O_NONBLOCK: a FIFO put in place of the file between Lstat and open
	// opens at once instead of waiting for a writer; on a regular file it
	// changes nothing.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	again, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !again.Mode().IsRegular() || !os.SameFile(st, again) {
		f.Close()
		return nil, fmt.Errorf("%w: %s was replaced while being opened", ErrNotRegular, name)
	}
	return f, nil
}

// fileKind names the type of a file that is not a regular one.
func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m.IsDir():
		return "a folder"
	}
	return "a special file"
}

func (b *Bundle) chunkErr(c manifest.Chunk, err error) error {
	return &Error{Bundle: b.Name(), Chunk: c.Hash, Err: err}
}

// readStored reads one chunk file and checks its size. Its hash is not
// taken: see open.
func (b *Bundle) readStored(c manifest.Chunk, bufs bufferPool) ([]byte, error) {
	f, err := OpenFile(filepath.Join(b.Dir, c.Hash))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, b.chunkErr(c, ErrMissingChunk)
	}
	if err != nil {
		return nil, b.chunkErr(c, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, b.chunkErr(c, err)
	}
	if st.Size() != c.Size {
		return nil, b.chunkErr(c, fmt.Errorf("%w: %d bytes, manifest says %d", ErrChunkSize, st.Size(), c.Size))
	}
	buf := bufs.get(int(c.Size))
	if _, err := io.ReadFull(f, buf); err != nil {
		bufs.put(buf)
		return nil, b.chunkErr(c, fmt.Errorf("%w: %v", ErrChunkSize, err))
	}
	return buf, nil
}

// Check verifies that every chunk is present with the size and hash the
// manifest gives, without decrypting anything.
func (b *Bundle) Check(ctx context.Context) error {
	for _, s := range b.Manifest.Sections {
		for _, c := range s.Chunks {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := b.checkStored(c); err != nil {
				return err
			}
		}
	}
	return nil
}

// FileSum is the SHA-256 of the file at path, in hex, as a bundle's files
// are named and listed by it: read as a stream, whatever its size.
func FileSum(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// checkStored hashes a chunk file as a stream, so that checking a large
// bundle needs no more memory than a small one.
func (b *Bundle) checkStored(c manifest.Chunk) error {
	f, err := OpenFile(filepath.Join(b.Dir, c.Hash))
	if errors.Is(err, fs.ErrNotExist) {
		return b.chunkErr(c, ErrMissingChunk)
	}
	if err != nil {
		return b.chunkErr(c, err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(f, c.Size+1))
	if err != nil {
		return b.chunkErr(c, err)
	}
	if n != c.Size {
		return b.chunkErr(c, fmt.Errorf("%w: %d bytes, manifest says %d", ErrChunkSize, n, c.Size))
	}
	if hex.EncodeToString(h.Sum(nil)) != c.Hash {
		return b.chunkErr(c, ErrChunkHash)
	}
	return nil
}

// Payload is one decrypted chunk handed to a Read callback.
type Payload struct {
	Section *manifest.Section
	Chunk   manifest.Chunk
	// Data is the chunk's payload; it is valid only during the callback.
	Data []byte
	// Decoded is what ReadDecoded's decode made of Data (nil in Read); what
	// it holds of Data is valid only during the callback too.
	Decoded any
}

// Read decrypts the chunks of the named sections (all when names is empty)
// and calls fn with each payload, in manifest order. Each chunk's size is
// checked before it is decrypted, and its content's size and hash after: a
// payload is handed to fn only if it is the one the signed manifest names.
// A chunk that fails is reported as Check would report it when its file is
// not the one the manifest names (ErrChunkHash), else by what failed.
// Chunks are read, decrypted and decompressed by one worker per CPU ahead of
// fn, so that fn (typically a database writer) never waits on the crypto.
func (b *Bundle) Read(ctx context.Context, id age.Identity, names []string, fn func(Payload) error) error {
	return b.ReadDecoded(ctx, id, names, nil, fn)
}

// ReadDecoded is Read with one more step in the workers: decode (if not
// nil) is called with each payload once it is checked and decrypted, by the
// worker that decrypted it (concurrently, in any order), and fn finds its
// result in Payload.Decoded. Work that needs no order (parsing a chunk's
// records, writing a package chunk to a file) is done there, on the other
// CPUs while fn writes. An error from decode is returned as a chunk's error
// is: in manifest order, with nothing after it passed to fn.
func (b *Bundle) ReadDecoded(ctx context.Context, id age.Identity, names []string, decode func(Payload) (any, error), fn func(Payload) error) error {
	want := func(name string) bool {
		if len(names) == 0 {
			return true
		}
		for _, n := range names {
			if n == name {
				return true
			}
		}
		return false
	}
	workers := runtime.GOMAXPROCS(0)
	// The decoder's memory is bounded: a chunk can never claim more than
	// the format's maximum payload. The frame's checksum (XXH64 of the
	// payload) is not verified: the payload's SHA-256 is, just after, and
	// proves all that it would.
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(workers),
		zstd.WithDecoderMaxMemory(manifest.MaxChunkPayload), zstd.WithDecoderLowmem(true), zstd.IgnoreChecksum(true))
	if err != nil {
		return err
	}
	defer dec.Close()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		p   Payload
		err error
	}
	type job struct {
		p   Payload
		out chan result
	}
	jobs := make(chan job)
	order := make(chan chan result, 2*workers)
	// At most, each result queued holds a buffer, each worker three, and
	// fn one.
	bufs := make(bufferPool, 2*workers+3*workers+1)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				data, err := b.open(j.p.Chunk, oneRecipient{id}, dec, bufs)
				j.p.Data = data
				if err == nil && decode != nil {
					j.p.Decoded, err = decode(j.p)
				}
				j.out <- result{j.p, err}
			}
		}()
	}
	go func() {
		defer close(order)
		defer close(jobs)
		for i := range b.Manifest.Sections {
			s := &b.Manifest.Sections[i]
			if !want(s.Name) {
				continue
			}
			for _, c := range s.Chunks {
				out := make(chan result, 1)
				select {
				case order <- out:
				case <-ctx.Done():
					return
				}
				select {
				case jobs <- job{Payload{Section: s, Chunk: c}, out}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	defer wg.Wait()
	for out := range order {
		var r result
		select {
		case r = <-out:
		case <-ctx.Done():
			return ctx.Err()
		}
		if r.err != nil {
			cancel()
			return r.err
		}
		if err := fn(r.p); err != nil {
			cancel()
			return err
		}
		bufs.put(r.p.Data)
	}
	return ctx.Err()
}

// open reads, decrypts, decompresses and checks one chunk.
//
// The chunk file is not hashed on the way: the payload's SHA-256, which
// the signed manifest gives, is checked instead, and it proves what the
// file's would for what is read (decryption and decompression are
// functions of the file's bytes). A file whose payload differs fails in
// age's authentication or in that check, and only then is its hash taken,
// so that it is reported as a changed file (ErrChunkHash), as Check
// reports it. A file sealed again to this recipient around the same
// payload is therefore read, where Check refuses it: what is handed on is
// exactly the payload the signature vouches for. What the file's hash would add is that no byte the manifest does not
// name reaches age and zstd, which are made for untrusted input: the
// decoder's memory is bounded, and the identity tries one X25519 stanza
// at most (oneRecipient).
func (b *Bundle) open(c manifest.Chunk, id age.Identity, dec *zstd.Decoder, bufs bufferPool) ([]byte, error) {
	data, err := b.unseal(c, id, dec, bufs)
	if errors.Is(err, ErrDecrypt) || errors.Is(err, ErrChunkHash) {
		if serr := b.checkStored(c); serr != nil {
			return nil, serr
		}
	}
	return data, err
}

// unseal reads, decrypts, decompresses and checks one chunk against the
// content size and hash of the manifest.
func (b *Bundle) unseal(c manifest.Chunk, id age.Identity, dec *zstd.Decoder, bufs bufferPool) ([]byte, error) {
	stored, err := b.readStored(c, bufs)
	if err != nil {
		return nil, err
	}
	compressed, err := decrypt(stored, id, bufs)
	bufs.put(stored)
	if err != nil {
		return nil, b.chunkErr(c, fmt.Errorf("%w: %v", ErrDecrypt, err))
	}
	data, err := dec.DecodeAll(compressed, bufs.get(int(c.ContentSize))[:0])
	bufs.put(compressed)
	if err != nil {
		return nil, b.chunkErr(c, fmt.Errorf("%w: decompress: %v", ErrDecrypt, err))
	}
	sum := sha256.Sum256(data)
	if int64(len(data)) != c.ContentSize || hex.EncodeToString(sum[:]) != c.ContentHash {
		bufs.put(data)
		return nil, b.chunkErr(c, fmt.Errorf("%w: content does not match the manifest", ErrChunkHash))
	}
	return data, nil
}

// oneRecipient is the identity a chunk is opened with. A chunk is
// encrypted to exactly one X25519 recipient; age tries an identity on
// every X25519 stanza of a header, one key agreement each, so a chunk file
// made of thousands of them would cost seconds before it is refused.
// Stanzas of other types cost nothing and are left to age.
type oneRecipient struct{ age.Identity }

// errStanzas refuses a header with more than one X25519 stanza.
var errStanzas = errors.New("more than one X25519 recipient stanza")

func (o oneRecipient) Unwrap(stanzas []*age.Stanza) ([]byte, error) {
	n := 0
	for _, s := range stanzas {
		if s.Type == "X25519" {
			n++
		}
	}
	if n > 1 {
		return nil, errStanzas
	}
	return o.Identity.Unwrap(stanzas)
}

// decrypt opens an age file held in memory with id and returns its whole
// plaintext; a failure anywhere in the header or the payload is an error.
func decrypt(stored []byte, id age.Identity, bufs bufferPool) ([]byte, error) {
	r, err := age.Decrypt(bytes.NewReader(stored), id)
	if err != nil {
		return nil, err
	}
	// The plaintext is always shorter than the file, so one buffer holds
	// it (io.ReadAll would grow and copy its way up to twice that).
	buf := bytes.NewBuffer(bufs.get(len(stored) + bytes.MinRead)[:0])
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// bufferPool recycles the buffers a chunk is read, decrypted and
// decompressed into, from chunk to chunk, during one Read: three fresh
// buffers of a chunk's size for each chunk were zeroed by the allocator and
// handed back to the system by the scavenger, an eighth of an import's CPU
// time. A channel, not a sync.Pool: a sync.Pool drops its buffers at each
// garbage collection, so that how many were allocated, and the peak
// memory, varied from run to run and grew with the bundle; the channel
// keeps as many as are ever in use at once, no more. A nil pool recycles
// nothing.
type bufferPool chan []byte

// minBuffer is the smallest buffer allocated: a package chunk's largest
// payload (blobstore.MaxChunk, 4 MiB) with room for its age overhead, so
// that any recycled buffer fits any package chunk.
const minBuffer = 4<<20 + 64<<10

// get returns a buffer of n bytes, not zeroed.
func (p bufferPool) get(n int) []byte {
	select {
	case b := <-p:
		if cap(b) >= n {
			return b[:n]
		}
	default:
	}
	return make([]byte, n, max(n, minBuffer))
}

// put recycles b, which the caller no longer uses.
func (p bufferPool) put(b []byte) {
	select {
	case p <- b[:0]:
	default:
	}
}
