package bundle

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"

	"github.com/taosync/taosync/internal/safefile"
	"github.com/taosync/taosync/manifest"
	"github.com/taosync/taosync/minisign"
)

// MaxRecordChunkBytes closes a records chunk early when its payload reaches
// it, so that a chunk of unusually large records stays bounded in memory.
const MaxRecordChunkBytes = 8 << 20

// MaxKeptBytes bounds the compressed chunks a Writer keeps (Keep): past it
// it keeps none, so that a huge export stays in bounded memory.
const MaxKeptBytes = 64 << 20

// DefaultChunkRecords is the records-per-chunk used when none is set; see
// docs/performance.md for the measurement behind it.
const DefaultChunkRecords = 5000

// Options configure a Writer.
type Options struct {
	// Recipient is whom every chunk is encrypted to.
	Recipient age.Recipient
	// Signer signs the manifest.
	Signer minisign.PrivateKey
	// ChunkRecords is the number of records per records chunk.
	ChunkRecords int
	// Workers compress and encrypt chunks in parallel; 0 means one per CPU.
	Workers int
}

// chunkEncoder compresses the chunks of every bundle the process writes:
// zstd level 3, the zstd tool's default, the speed and ratio an operator
// expects. EncodeAll is safe for concurrent use: each call takes one of as
// many encoders as the process had CPUs (GOMAXPROCS) when it first
// compressed, and a writer's workers beyond that wait for one. One for the
// process, not one a bundle: each encoder allocates an 8 MiB window on its
// first chunk, and a pull of a small bundle spent a tenth of its CPU time
// allocating and clearing those of a new encoder. (NewWriter fails only on
// an option out of its range, and these are constants.)
var chunkEncoder, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithLowerEncoderMem(true))

// Writer streams sections into a new bundle folder. Chunks are compressed,
// encrypted and written by a pool of workers while the caller produces the
// next ones; the order of chunks in the manifest is the order they were
// given in. Nothing is visible to readers until Commit publishes the bundle.
type Writer struct {
	// dir is the hidden folder being written, final the bundle's name.
	dir   string
	final string
	m     *manifest.Manifest
	opts  Options

	jobs chan chunkJob
	wg   sync.WaitGroup
	// chunks are the chunk files written, made durable together by
	// CommitChunks.
	chunks safefile.Batch
	// free recycles payload buffers from the workers back to flush.
	free chan []byte

	mu  sync.Mutex
	err error

	sections [][]*manifest.Chunk
	buf      []byte
	records  int64
	// kept holds, per section Keep was called for, the compressed chunks
	// (filled in by the workers); keptBytes is their total size.
	kept      map[int][]*Compressed
	keptBytes atomic.Int64
	// closed is set once the workers are told to stop.
	closed bool
}

type chunkJob struct {
	payload []byte
	// sum is the payload's SHA-256 if the caller has checked it, else
	// empty.
	sum  string
	slot *manifest.Chunk
	// compressed is set for a chunk given by RecordChunk: payload is
	// already compressed, and holds size bytes of records.
	compressed bool
	size       int64
	// keep, if not nil, receives a copy of the compressed chunk.
	keep *Compressed
}

// Compressed is a records chunk as a Writer compressed it, kept (Keep) to be
// written again, for another recipient, by RecordChunk.
type Compressed struct {
	// Payload is one zstd frame of the chunk's records, a line each.
	Payload []byte
	// ContentHash and ContentSize are the SHA-256 (hex) and size of the
	// records decompressed.
	ContentHash string
	ContentSize int64
	Records     int64
}

// NewID returns a fresh random bundle id.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b[:])
}

// Name is the folder name of the bundle m describes:
// KIND-CLIENT-SEQ-ID8, safe on FAT32 and sorted by sequence within a stream.
func Name(m *manifest.Manifest) string {
	client := m.Recipient.Client
	if m.Sender.Role == "client" {
		client = m.Sender.Client
	}
	return fmt.Sprintf("%s-%s-%06d-%s", m.Kind, fatSafe(client), m.Seq, m.ID[:8])
}

func fatSafe(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	return string(b)
}

// Create starts a bundle described by m (every field but the sections) in a
// new folder under parent.
func Create(parent string, m *manifest.Manifest, opts Options) (*Writer, error) {
	if opts.ChunkRecords <= 0 {
		opts.ChunkRecords = DefaultChunkRecords
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.Recipient == nil {
		return nil, errors.New("create bundle: no recipient")
	}
	// Refuse a header that could never be signed now rather than after
	// every chunk is written; Name also needs a well-formed bundle id.
	m.Sections = nil
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("create bundle: %w", err)
	}
	// The chunks go into a hidden folder that becomes the bundle, by a
	// rename, only once the manifest is in it: a write cut short at any
	// point leaves either no bundle or a whole one, never a folder that
	// looks like a bundle and is not. (Readers skip hidden folders.)
	final := filepath.Join(parent, Name(m))
	if _, err := os.Lstat(final); err == nil {
		return nil, fmt.Errorf("create bundle: %s exists", final)
	}
	dir := filepath.Join(parent, "."+Name(m)+partialSuffix)
	if err := safefile.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create bundle: %w", err)
	}
	w := &Writer{dir: dir, final: final, m: m, opts: opts, jobs: make(chan chunkJob, opts.Workers),
		free: make(chan []byte, 2*opts.Workers+2)}
	m.Sections = nil
	for range opts.Workers {
		w.wg.Add(1)
		go w.work()
	}
	return w, nil
}

// ChunkRecords is the number of records per records chunk.
func (w *Writer) ChunkRecords() int { return w.opts.ChunkRecords }

// Dir is the hidden folder being written, until it is published under
// its final name.
func (w *Writer) Dir() string { return w.dir }

func (w *Writer) fail(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
}

func (w *Writer) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *Writer) work() {
	defer w.wg.Done()
	// Each worker keeps its buffers from chunk to chunk: a chunk's
	// compressed and sealed forms are about its size, and allocating them
	// anew for every chunk doubled the writer's allocations.
	var sealed bytes.Buffer
	var compressed []byte
	for j := range w.jobs {
		if w.failed() != nil {
			continue
		}
		if err := w.writeChunk(j, &compressed, &sealed); err != nil {
			w.fail(err)
		}
		// Only records buffers come back: flush reuses them for the next
		// records chunk, and no records chunk follows a blob section's
		// (they would only hold memory, up to a chunk each). A chunk given
		// compressed is its caller's.
		if j.slot.Records == 0 || j.compressed {
			continue
		}
		select {
		case w.free <- j.payload[:0]:
		default:
		}
	}
}

// writeChunk compresses, encrypts and writes one chunk. The file is not
// durable until CommitChunks syncs the batch, and no reader looks at it
// until Publish, after that, gives the folder its name.
func (w *Writer) writeChunk(j chunkJob, buf *[]byte, sealed *bytes.Buffer) error {
	size := j.size
	compressed := j.payload
	if !j.compressed {
		if j.sum == "" {
			sum := sha256.Sum256(j.payload)
			j.sum = hex.EncodeToString(sum[:])
		}
		size = int64(len(j.payload))
		compressed = chunkEncoder.EncodeAll(j.payload, (*buf)[:0])
		*buf = compressed
	}
	if j.keep != nil && w.keptBytes.Add(int64(len(compressed))) <= MaxKeptBytes {
		*j.keep = Compressed{Payload: bytes.Clone(compressed), ContentHash: j.sum, ContentSize: size, Records: j.slot.Records}
	}
	sealed.Reset()
	// age adds a header and 16 bytes for each 64 KiB.
	sealed.Grow(len(compressed) + len(compressed)/4096 + 512)
	aw, err := age.Encrypt(sealed, w.opts.Recipient)
	if err != nil {
		return fmt.Errorf("encrypt chunk: %w", err)
	}
	if _, err := aw.Write(compressed); err != nil {
		return fmt.Errorf("encrypt chunk: %w", err)
	}
	if err := aw.Close(); err != nil {
		return fmt.Errorf("encrypt chunk: %w", err)
	}
	stored := sha256.Sum256(sealed.Bytes())
	name := hex.EncodeToString(stored[:])
	if err := w.chunks.Write(filepath.Join(w.dir, name), sealed.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write chunk: %w", err)
	}
	*j.slot = manifest.Chunk{
		Hash:        name,
		Size:        int64(sealed.Len()),
		ContentHash: j.sum,
		ContentSize: size,
		Records:     j.slot.Records,
	}
	return nil
}

func (w *Writer) begin(name string, kind manifest.SectionKind) error {
	if err := w.flush(); err != nil {
		return err
	}
	w.m.Sections = append(w.m.Sections, manifest.Section{Name: name, Kind: kind})
	w.sections = append(w.sections, nil)
	return nil
}

// BeginRecords starts a records section; Record adds to it.
func (w *Writer) BeginRecords(name string) error { return w.begin(name, manifest.Records) }

// BeginBlob starts a blob section; Blob adds chunks to it.
func (w *Writer) BeginBlob(name string) error { return w.begin(name, manifest.Blob) }

// Record appends one record (a JSON object without newlines) to the current
// records section; deleted counts it as a deletion.
func (w *Writer) Record(line []byte, deleted bool) error {
	s := w.current(manifest.Records)
	if s < 0 {
		return errors.New("bundle: record outside a records section")
	}
	if len(line) >= MaxRecordChunkBytes || bytes.IndexByte(line, '\n') >= 0 {
		return fmt.Errorf("bundle: record of %d bytes is too large or holds a newline", len(line))
	}
	if len(w.buf)+len(line) >= MaxRecordChunkBytes {
		if err := w.flush(); err != nil {
			return err
		}
	}
	w.buf = append(append(w.buf, line...), '\n')
	w.records++
	w.m.Sections[s].Records++
	if deleted {
		w.m.Sections[s].Deleted++
	}
	if w.records >= int64(w.opts.ChunkRecords) {
		return w.flush()
	}
	return nil
}

// Keep makes the Writer keep a copy of every records chunk of the current
// section, which must have none yet, as it compresses it, for Kept, unless
// they come to more than MaxKeptBytes in all.
func (w *Writer) Keep() error {
	s := w.current(manifest.Records)
	if s < 0 || w.records > 0 || len(w.sections[s]) > 0 {
		return errors.New("bundle: keep outside an empty records section")
	}
	if w.kept == nil {
		w.kept = map[int][]*Compressed{}
	}
	w.kept[s] = []*Compressed{}
	return nil
}

// Kept returns the chunks kept of the records section named section, in
// order, once CommitChunks has written them. ok is false if Keep was not
// called for it, if the section holds deletions or a chunk given by
// RecordChunk, or if the chunks kept came to more than MaxKeptBytes.
func (w *Writer) Kept(section string) (chunks []Compressed, ok bool) {
	if !w.closed || w.keptBytes.Load() > MaxKeptBytes {
		return nil, false
	}
	for s, sec := range w.m.Sections {
		kept, found := w.kept[s]
		if sec.Name != section {
			continue
		}
		if !found || sec.Deleted > 0 {
			return nil, false
		}
		chunks = make([]Compressed, len(kept))
		for i, c := range kept {
			chunks[i] = *c
		}
		return chunks, true
	}
	return nil, false
}

// RecordChunk adds a records chunk compressed before (Kept) to the current
// records section, after the records added so far. The Writer does not
// change c.Payload.
func (w *Writer) RecordChunk(c Compressed) error {
	s := w.current(manifest.Records)
	if s < 0 {
		return errors.New("bundle: record chunk outside a records section")
	}
	if c.Records <= 0 || c.ContentSize > MaxRecordChunkBytes || int64(len(c.Payload)) > manifest.MaxChunkPayload || len(c.ContentHash) != sha256.Size*2 {
		return fmt.Errorf("bundle: compressed records chunk of %d records, %d bytes is not one a writer makes", c.Records, c.ContentSize)
	}
	if err := w.flush(); err != nil {
		return err
	}
	w.m.Sections[s].Records += c.Records
	return w.enqueue(chunkJob{payload: c.Payload, sum: c.ContentHash, compressed: true, size: c.ContentSize}, c.Records)
}

// Blob adds payload as one chunk of the current blob section. The Writer
// takes ownership of payload.
func (w *Writer) Blob(payload []byte) error { return w.blob(payload, "") }

// BlobChecked is Blob for a payload whose hex SHA-256 the caller has just
// checked (a chunk read from the blob store, which is named by it): the
// writer takes it as the chunk's content hash instead of hashing the
// payload again. A wrong sum would only make every reader refuse the
// chunk.
func (w *Writer) BlobChecked(payload []byte, sum string) error { return w.blob(payload, sum) }

func (w *Writer) blob(payload []byte, sum string) error {
	if w.current(manifest.Blob) < 0 {
		return errors.New("bundle: blob outside a blob section")
	}
	if len(payload) > manifest.MaxChunkPayload {
		return fmt.Errorf("bundle: blob chunk of %d bytes exceeds %d", len(payload), manifest.MaxChunkPayload)
	}
	return w.enqueue(chunkJob{payload: payload, sum: sum}, 0)
}

func (w *Writer) current(kind manifest.SectionKind) int {
	s := len(w.m.Sections) - 1
	if s < 0 || w.m.Sections[s].Kind != kind {
		return -1
	}
	return s
}

// flush submits the records gathered so far as one chunk.
func (w *Writer) flush() error {
	if w.records == 0 {
		return w.failed()
	}
	payload := w.buf
	select {
	case w.buf = <-w.free:
	default:
		w.buf = make([]byte, 0, cap(payload))
	}
	n := w.records
	w.records = 0
	return w.enqueue(chunkJob{payload: payload}, n)
}

// enqueue gives j to the workers as the next chunk of the current section.
func (w *Writer) enqueue(j chunkJob, records int64) error {
	if err := w.failed(); err != nil {
		return err
	}
	s := len(w.sections) - 1
	j.slot = &manifest.Chunk{Records: records}
	w.sections[s] = append(w.sections[s], j.slot)
	if kept, ok := w.kept[s]; ok {
		if j.compressed {
			// Not all of the section's chunks would be kept.
			delete(w.kept, s)
		} else {
			j.keep = &Compressed{}
			w.kept[s] = append(kept, j.keep)
		}
	}
	w.jobs <- j
	return nil
}

// Empty reports whether nothing was added to any section yet.
func (w *Writer) Empty() bool {
	if w.records > 0 {
		return false
	}
	for _, s := range w.sections {
		if len(s) > 0 {
			return false
		}
	}
	return true
}

// partialSuffix ends the name of the hidden folder a bundle is written in.
const partialSuffix = ".partial"

// Unpublished reports whether name is that of the hidden folder a writer
// writes a bundle in (.NAME.partial), until Publish gives it the bundle's
// name: a write under way, or one cut short.
func Unpublished(name string) bool {
	return strings.HasPrefix(name, ".") && strings.HasSuffix(name, partialSuffix)
}

// Written is a bundle whose chunks, manifest and signature are written and
// durable, in a hidden folder until Publish.
type Written struct {
	// Dir is the bundle folder, once published.
	Dir      string
	tmp      string
	Manifest *manifest.Manifest
	// Hash is the SHA-256 of the manifest file, which names the bundle on
	// its stream (the next bundle's Prev).
	Hash string
	// size is the bundle's bytes: manifest, signature and chunks.
	size int64
}

// Commit writes the whole bundle: CommitChunks, then Publish.
func (w *Writer) Commit() (*Written, error) {
	res, err := w.CommitChunks()
	if err != nil {
		return nil, err
	}
	if err := res.Publish(); err != nil {
		res.Remove()
		return nil, err
	}
	return res, nil
}

// CommitChunks waits for every chunk to be written, signs the manifest,
// writes it and its signature into the bundle's hidden folder, and makes
// them all and the folder durable, but does not publish the bundle: a
// caller that must record the bundle elsewhere first (in a database
// transaction) calls Publish once it has, and Remove if it could not.
// The manifest may be durable before the chunks it lists: the folder is
// hidden until Publish, which renames it only once all of them are.
func (w *Writer) CommitChunks() (*Written, error) {
	err := w.flush()
	w.stop()
	if err == nil {
		err = w.failed()
	}
	if err != nil {
		w.remove()
		return nil, err
	}
	for i, slots := range w.sections {
		w.m.Sections[i].Chunks = make([]manifest.Chunk, len(slots))
		for j, c := range slots {
			w.m.Sections[i].Chunks[j] = *c
		}
	}
	raw, sig, err := manifest.Sign(w.m, w.opts.Signer)
	if err == nil {
		err = w.chunks.Write(filepath.Join(w.dir, manifest.SigName), sig, 0o644)
	}
	if err == nil {
		err = w.chunks.Write(filepath.Join(w.dir, manifest.FileName), raw, 0o644)
	}
	if err == nil {
		err = w.chunks.Sync()
	}
	if err != nil {
		w.remove()
		return nil, err
	}
	return &Written{Dir: w.final, tmp: w.dir, Manifest: w.m, Hash: HashManifest(raw), size: int64(len(raw)+len(sig)) + w.m.StoredBytes()}, nil
}

// Bytes is the size of the whole bundle: manifest, signature and chunks.
func (r *Written) Bytes() int64 { return r.size }

// Publish renames the hidden folder, whose files CommitChunks made
// durable, to the bundle's name and fsyncs the parent folder: the rename
// is the commit point of the bundle.
func (r *Written) Publish() error {
	if err := safefile.Rename(r.tmp, r.Dir); err != nil {
		return fmt.Errorf("publish bundle: %w", err)
	}
	return safefile.SyncDir(filepath.Dir(r.Dir))
}

// Remove deletes the bundle, published or not.
func (r *Written) Remove() {
	os.RemoveAll(r.tmp)
	os.RemoveAll(r.Dir)
}

// Abort stops the workers and removes the unfinished bundle folder.
// After CommitChunks it only removes the folder.
func (w *Writer) Abort() {
	w.fail(errors.New("bundle: aborted"))
	w.stop()
	w.remove()
}

// stop closes the job queue and waits for the workers.
func (w *Writer) stop() {
	if w.closed {
		return
	}
	w.closed = true
	close(w.jobs)
	w.wg.Wait()
}

func (w *Writer) remove() {
	w.chunks.Discard()
	os.RemoveAll(w.dir)
}

// HashManifest returns the hex SHA-256 of manifest bytes.
func HashManifest(raw []byte) string {
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}
