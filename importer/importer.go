// Package importer verifies bundles and applies them: on a client, data
// bundles from central; each bundle entirely or not at all.
//
// The order of checks is the bundle package's (format version, signature,
// recipient, expiry, then every chunk's size before it is decrypted and its
// payload's size and hash after), followed by the stream's: a bundle already applied is skipped,
// an older one is refused as a rollback, a delta whose base is not the
// current state is refused naming the bundle it needs. A bundle is applied
// in one transaction of the target, which makes the stream checks again, so
// that two imports at once cannot both pass them: a failure or a kill at any
// moment leaves the state before it.
//
// The targets it applies to (taosync.DataTarget, taosync.ResultTarget) and
// the lines it reads (taosync.ParseRecord, ParseExecution, ParseReceipt)
// are the module's root package's words, shared with the exporter.
package importer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"time"

	"filippo.io/age"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/bundle"
	"github.com/taosync/taosync/internal/ioerr"
	"github.com/taosync/taosync/internal/jsonl"
	"github.com/taosync/taosync/manifest"
)

// Errors of the stream checks, wrapped in a *bundle.Error naming the bundle,
// beside taosync.ErrRollback, which the targets return too.
var (
	ErrNeedsBase = errors.New("bundle applies on a state this home does not hold")
	ErrSeqReused = errors.New("sequence number already used by another bundle")
)

// NeedsBaseError says which bundle must be applied first.
type NeedsBaseError struct {
	Need manifest.Ref
	Have taosync.DataState
}

func (e *NeedsBaseError) Error() string {
	have := "nothing"
	if e.Have.Seq > 0 {
		have = fmt.Sprintf("seq %d (bundle %s)", e.Have.Seq, e.Have.Bundle)
	}
	return fmt.Sprintf("%v: it is a delta on seq %d (bundle %s) but this client holds %s; import that bundle first, or ask central for a full export (taosync export data --full)",
		ErrNeedsBase, e.Need.Seq, e.Need.ID, have)
}

func (e *NeedsBaseError) Unwrap() error { return ErrNeedsBase }

// Options configure an import.
type Options struct {
	Trust    bundle.Trust
	Identity age.Identity
	// DryRun decrypts and counts, then rolls back.
	DryRun bool
	// Transport names the road the bundles came by, for the history.
	Transport string
	// Log takes the diagnostics; nil means slog.Default().
	Log *slog.Logger
	// Progress, if set, is told of each phase of each bundle.
	Progress func(bundle, phase string, done, total int64)
}

// Outcome of one bundle.
const (
	Applied    = "applied"
	WouldApply = "would-apply"
	Skipped    = "skipped"
	NotForUs   = "not-for-this-home"
	Refused    = "refused"
)

// Line reports what happened to one bundle.
type Line struct {
	Bundle   string                    `json:"bundle"`
	BundleID string                    `json:"bundle_id,omitempty"`
	Kind     string                    `json:"kind,omitempty"`
	Seq      uint64                    `json:"seq,omitempty"`
	Full     bool                      `json:"full,omitempty"`
	Outcome  string                    `json:"outcome"`
	Reason   string                    `json:"reason,omitempty"`
	Counts   map[string]taosync.Counts `json:"counts,omitempty"`
	Bytes    int64                     `json:"bytes,omitempty"`
	err      error
}

// Err is the refusal or failure, if any.
func (l *Line) Err() error { return l.err }

// Base returns the line itself; ResultLine's Base returns its Line.
func (l Line) Base() Line { return l }

// opened is a bundle found in the folder, verified or not.
type opened struct {
	dir string
	b   *bundle.Bundle
	err error
}

// bundle is the bundle if it opened without error.
func (o opened) bundle() *bundle.Bundle {
	if o.err != nil {
		return nil
	}
	return o.b
}

// Open finds and opens (verifies the manifests of) every bundle in dir, and
// sorts the verified ones by stream and sequence.
func Open(dir string, trust bundle.Trust) ([]opened, error) {
	dirs, err := bundle.Find(dir)
	if err != nil {
		return nil, err
	}
	var out []opened
	for _, d := range dirs {
		b, err := bundle.Open(d, trust)
		out = append(out, opened{dir: d, b: b, err: err})
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].bundle(), out[j].bundle()
		if a == nil || b == nil {
			return a == nil && b != nil
		}
		if a.Manifest.Stream != b.Manifest.Stream {
			return a.Manifest.Stream < b.Manifest.Stream
		}
		return a.Manifest.Seq < b.Manifest.Seq
	})
	return out, nil
}

// Data imports every data and receipt bundle in dir into the target, in
// sequence order.
// It returns one line per bundle found; the error is set only when the
// import could not run at all.
func Data(ctx context.Context, dir string, t taosync.DataTarget, o Options) ([]Line, error) {
	o.Log = cmp.Or(o.Log, slog.Default())
	found, err := Open(dir, o.Trust)
	if err != nil {
		return nil, err
	}
	var lines []Line
	for _, f := range found {
		l := Line{Bundle: f.dir}
		if f.err != nil {
			l.Outcome, l.err = openOutcome(ctx, f, o.Trust.Self, t)
			l.Reason = f.err.Error()
			if f.b != nil {
				l.BundleID, l.Kind, l.Seq = f.b.Manifest.ID, string(f.b.Manifest.Kind), f.b.Manifest.Seq
			}
			lines = append(lines, l)
			continue
		}
		m := f.b.Manifest
		l.BundleID, l.Kind, l.Seq, l.Full, l.Bytes = m.ID, string(m.Kind), m.Seq, m.Kind == manifest.KindData && m.Full(), f.b.Bytes
		if o.Trust.Own != nil && f.b.Signer.ID == o.Trust.Own.ID {
			l.Outcome, l.Reason = NotForUs, "sent from this home"
			lines = append(lines, l)
			continue
		}

		if m.Kind == manifest.KindResults {
			l.Outcome, l.Reason = NotForUs, "a results bundle, for central"
			lines = append(lines, l)
			continue
		}
		start := time.Now()
		l.Counts, l.Outcome, l.err = applyData(ctx, f.b, t, o)
		if err := stopped(f.b, l.err); err != nil {
			return lines, err
		}
		if l.err != nil {
			l.Reason = l.err.Error()
		}
		if l.Outcome == Skipped {
			l.Reason = "already applied"
		}
		o.Log.Debug("data bundle", "bundle", f.b.Name(), "outcome", l.Outcome, "took", time.Since(start))
		lines = append(lines, l)
	}
	return lines, nil
}

// stopped returns the error that stops an import when err, met while
// applying b, is this machine failing, not a fault of the bundle: a disk
// failing (ioerr.Local: full, or failing to write or read), the database
// busy with another writer past the wait for it (ioerr.Busy), or out of
// reach (ioerr.Unavailable: a PostgreSQL server restarting, a failover). b is not
// refused, its transaction is rolled back, and the same import applies it
// once the fault is cleared.
func stopped(b *bundle.Bundle, err error) error {
	switch {
	case ioerr.Local(err):
		return fmt.Errorf("bundle %s not applied: a disk failed, not the bundle: %w", b.Name(), err)
	case ioerr.Busy(err):
		return fmt.Errorf("bundle %s not applied: the database was busy with another writer, not the bundle's fault: %w", b.Name(), err)
	case ioerr.Unavailable(err):
		return fmt.Errorf("bundle %s not applied: the database was out of reach, not the bundle's fault: %w", b.Name(), err)
	}
	return nil
}

// openOutcome says what a bundle that did not open is: not for this home,
// incomplete (a copy or write cut short: skipped, as if it were not there),
// expired after it was applied here (skipped), or refused.
func openOutcome(ctx context.Context, f opened, self bundle.Self, t interface {
	Applied(context.Context, string) (bool, error)
}) (string, error) {
	switch {
	case errors.Is(f.err, bundle.ErrWrongRecipient), errors.Is(f.err, bundle.ErrUnknownSigner) && !addressedTo(f.dir, self):
		return NotForUs, f.err
	case errors.Is(f.err, bundle.ErrIncomplete):
		return Skipped, nil
	case errors.Is(f.err, bundle.ErrExpired) && f.b != nil && t != nil:
		applied, err := t.Applied(ctx, f.b.Manifest.ID)
		if err != nil {
			return Refused, err
		}
		if applied {
			return Skipped, nil
		}
	}
	return Refused, f.err
}

// addressedTo reports whether the (unverified) manifest in dir names self
// as its recipient. It only decides how to report a bundle signed by a key
// not trusted here: one addressed elsewhere (another client's results on a
// shared stick) is not for this home, one addressed here is refused.
func addressedTo(dir string, self bundle.Self) bool {
	raw, err := bundle.ReadFile(filepath.Join(dir, manifest.FileName), manifest.MaxManifestBytes)
	if err != nil {
		return true
	}
	m, err := manifest.Parse(raw)
	if err != nil {
		return true
	}
	return m.Recipient.Role == self.Role && m.Recipient.Client == self.Client
}

// checkStream decides whether a data bundle applies on state s.
func checkStream(b *bundle.Bundle, s taosync.DataState, applied bool) (skip bool, err error) {
	m := b.Manifest
	fail := func(err error) (bool, error) { return false, &bundle.Error{Bundle: b.Name(), Err: err} }
	switch {
	case applied:
		return true, nil
	case m.Seq == s.Seq:
		return fail(fmt.Errorf("%w: seq %d is bundle %s here, this is bundle %s; ask central for a full export (taosync export data --full)",
			ErrSeqReused, m.Seq, s.Bundle, m.ID))
	case m.Seq < s.Seq:
		return fail(fmt.Errorf("%w: seq %d is older than the seq %d this client holds", taosync.ErrRollback, m.Seq, s.Seq))
	case m.Base != nil && (m.Base.Seq != s.Seq || m.Base.ID != s.Bundle):
		return fail(&NeedsBaseError{Need: *m.Base, Have: s})
	}
	return false, nil
}

// decodeRecords returns the decode step of a data bundle's Read: it parses
// the records of each chunk of a type's section into a []record, in the
// reader's workers rather than on the goroutine that applies them. Other
// payloads (receipts, package chunks) are left to the callback.
func decodeRecords(b *bundle.Bundle) func(bundle.Payload) (any, error) {
	return func(p bundle.Payload) (any, error) {
		if p.Section.Kind != manifest.Records || p.Section.Name == taosync.ReceiptsSection {
			return nil, nil
		}
		// At least a byte a record: a manifest cannot make this allocate
		// more than the payload's size in records.
		recs := make([]taosync.Record, 0, min(p.Chunk.Records, int64(len(p.Data))))
		err := jsonl.EachLine(p.Data, func(line []byte) error {
			r, ok := taosync.ParseRecord(line)
			if !ok {
				return &bundle.Error{Bundle: b.Name(), Chunk: p.Chunk.Hash, Err: fmt.Errorf("%w: bad record in section %s", bundle.ErrMalformed, p.Section.Name)}
			}
			recs = append(recs, r)
			return nil
		})
		return recs, err
	}
}

// streamOutcome runs the stream checks of a data or receipt bundle against
// s: it says Skipped for a bundle already applied, Refused with the error
// for one that does not apply, and "" for one to apply.
func streamOutcome(ctx context.Context, b *bundle.Bundle, s taosync.StreamState) (string, error) {
	state, err := s.DataState(ctx)
	if err != nil {
		return Refused, err
	}
	applied, err := s.Applied(ctx, b.Manifest.ID)
	if err != nil {
		return Refused, err
	}
	skip := applied
	if b.Manifest.Kind == manifest.KindData {
		skip, err = checkStream(b, state, applied)
	}
	switch {
	case err != nil:
		return Refused, err
	case skip:
		return Skipped, nil
	}
	return "", nil
}

func applyData(ctx context.Context, b *bundle.Bundle, t taosync.DataTarget, o Options) (map[string]taosync.Counts, string, error) {
	// Checked first without the write lock, so that a stick of bundles
	// already applied takes none; checked again in the transaction.
	if outcome, err := streamOutcome(ctx, b, t); outcome != "" {
		return nil, outcome, err
	}
	for _, s := range b.Manifest.Sections {
		if s.Kind == manifest.Records && s.Name != taosync.ReceiptsSection {
			if _, err := taosync.ParseType(s.Name); err != nil {
				return nil, Refused, &bundle.Error{Bundle: b.Name(), Err: fmt.Errorf("%w: section %q", bundle.ErrMalformed, s.Name)}
			}
		}
	}
	start := time.Now()
	var records, total, blobBytes, blobTotal int64
	var packageChunks []string
	for _, s := range b.Manifest.Sections {
		total += s.Records
		if s.Kind == manifest.Blob {
			for _, c := range s.Chunks {
				blobTotal += c.ContentSize
				packageChunks = append(packageChunks, c.ContentHash)
			}
		}
	}
	ap, err := t.BeginApply(ctx, b.Manifest.Kind == manifest.KindData && b.Manifest.Full(), packageChunks)
	if err != nil {
		return nil, Refused, err
	}
	defer ap.Rollback()
	if outcome, err := streamOutcome(ctx, b, ap); outcome != "" {
		return nil, outcome, err
	}
	counts := map[string]taosync.Counts{}
	progress := func(phase string, done, total int64) {
		if o.Progress != nil {
			o.Progress(b.Name(), phase, done, total)
		}
	}
	// The workers that decrypt the chunks parse the records and store the
	// package chunks, in parallel, off this goroutine; Read has checked
	// p.Data against p.Chunk.ContentHash before.
	parse := decodeRecords(b)
	decode := func(p bundle.Payload) (any, error) {
		if p.Section.Kind != manifest.Blob {
			return parse(p)
		}
		if o.DryRun {
			return nil, nil
		}
		return nil, ap.StoreChunk(p.Chunk.ContentHash, p.Data)
	}
	err = b.ReadDecoded(ctx, o.Identity, nil, decode, func(p bundle.Payload) error {
		if p.Section.Kind == manifest.Blob {
			blobBytes += p.Chunk.ContentSize
			progress("package bytes", blobBytes, blobTotal)
			if o.DryRun {
				return nil
			}
			return ap.ChunkStored(ctx, p.Chunk.ContentHash, p.Data)
		}
		if p.Section.Name == taosync.ReceiptsSection {
			return applyReceipts(ctx, b, p, ap, counts, o.Log)
		}
		typ := taosync.Type(p.Section.Name)
		n := counts[p.Section.Name]
		for _, r := range p.Decoded.([]taosync.Record) {
			if r.Change == taosync.Deleted {
				gone, err := ap.Delete(ctx, typ, r.ID)
				if err != nil {
					return err
				}
				if gone {
					n.Deleted++
				}
				continue
			}
			switch ch, err := ap.Upsert(ctx, typ, r.ID, r.Version, r.Data); {
			case err != nil:
				return err
			case ch == taosync.Created:
				n.Created++
			case ch == taosync.Updated:
				n.Updated++
			}
		}
		counts[p.Section.Name] = n
		records += p.Chunk.Records
		progress("records", records, total)
		return nil
	})
	if err != nil {
		return nil, Refused, err
	}
	if b.Manifest.Kind == manifest.KindData && b.Manifest.Full() {
		for _, s := range b.Manifest.Sections {
			if s.Kind != manifest.Records || s.Name == taosync.ReceiptsSection {
				continue
			}
			n, err := ap.Sweep(ctx, taosync.Type(s.Name))
			if err != nil {
				return nil, Refused, err
			}
			c := counts[s.Name]
			c.Deleted += n
			counts[s.Name] = c
		}
	}
	if o.DryRun {
		return counts, WouldApply, nil
	}
	progress("checking packages", 0, 1)
	if err := ap.CheckPackages(ctx); err != nil {
		return nil, Refused, &bundle.Error{Bundle: b.Name(), Err: err}
	}
	m := b.Manifest
	h := taosync.HistoryEntry{
		Direction: "in", Transport: o.Transport, Peer: "central", BundleID: m.ID, Bundle: b.Name(),
		Kind: string(m.Kind), Stream: m.Stream, Seq: m.Seq, Full: m.Kind == manifest.KindData && m.Full(), Counts: counts,
		Bytes: b.Bytes, DurationMS: time.Since(start).Milliseconds(), Outcome: taosync.OutcomeOK,
	}
	if err := ap.Commit(ctx, b, h); err != nil {
		return nil, Refused, err
	}
	return counts, Applied, nil
}

// applyReceipts applies the receipts of one chunk, counting the executions
// and the result bundles of no execution they acknowledge. A receipt bundle naming an execution this client never
// had is refused; in a data bundle, such receipts are counted and skipped,
// so that a client restored from an old backup still gets its data.
func applyReceipts(ctx context.Context, b *bundle.Bundle, p bundle.Payload, ap taosync.DataApply, counts map[string]taosync.Counts, log *slog.Logger) error {
	n := counts[taosync.ReceiptsSection]
	unknown := 0
	err := jsonl.EachLine(p.Data, func(line []byte) error {
		r, ok := taosync.ParseReceipt(line)
		if !ok {
			return &bundle.Error{Bundle: b.Name(), Chunk: p.Chunk.Hash, Err: fmt.Errorf("%w: bad receipt", bundle.ErrMalformed)}
		}
		acked, err := ap.Receipt(ctx, r)
		switch {
		case errors.Is(err, taosync.ErrUnknownExecution) && b.Manifest.Kind == manifest.KindData:
			unknown++
			return nil
		case err != nil:
			return &bundle.Error{Bundle: b.Name(), Err: err}
		case acked:
			n.Updated++
		}
		return nil
	})
	if unknown > 0 {
		log.Warn("receipts for executions this client does not have were skipped", "bundle", b.Name(), "count", unknown)
	}
	counts[taosync.ReceiptsSection] = n
	return err
}
