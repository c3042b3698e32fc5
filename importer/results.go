package importer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/bundle"
	"github.com/taosync/taosync/exporter"
	"github.com/taosync/taosync/internal/jsonl"
	"github.com/taosync/taosync/internal/results"
	"github.com/taosync/taosync/manifest"
)

// ErrUnknownExecution refuses a receipt naming an execution this client
// never had.
var ErrUnknownExecution = errors.New("receipt for an execution this client does not have")

// ErrBadExecution refuses a result bundle holding an execution whose content
// does not match the hash it claims.
var ErrBadExecution = errors.New("execution does not match its content hash")

// Errors an ExecutionError wraps: the execution is invalid on its own (the
// checks of `results add`, results.Check), or it names what the sending
// client may not report on.
var (
	ErrInvalidExecution = errors.New("invalid execution")
	ErrOutOfScope       = errors.New("execution outside the client's scope")
)

// ExecutionError refuses a result bundle for one of its executions, naming
// it and the field to blame.
type ExecutionError struct {
	Err    error // ErrInvalidExecution or ErrOutOfScope
	ID     string
	Field  string
	Reason string
}

func (e *ExecutionError) Error() string {
	id := e.ID
	// The id of an invalid execution may be anything: shown cut.
	if len(id) > 64 {
		id = strings.ToValidUTF8(id[:64], "") + "..."
	}
	return fmt.Sprintf("execution %q: %s: %s", id, e.Field, e.Reason)
}

func (e *ExecutionError) Unwrap() error { return e.Err }

// ResultTarget is where central stores the results of its clients.
type ResultTarget interface {
	// BeginResults starts storing a bundle of the client's, with the state
	// it carries: new receipt batches are numbered above the one up to
	// which it says the client holds every receipt. A state naming numbers
	// central never made for the client is refused.
	BeginResults(ctx context.Context, client string, state exporter.ClientState) (ResultApply, error)
}

// ResultApply is one result bundle being stored, in one transaction.
type ResultApply interface {
	// Received returns the receipt batch of a bundle already stored.
	Received(ctx context.Context, bundleID string) (batch uint64, ok bool, err error)
	// Prepare is called with each chunk's execution revisions in the
	// bundle reader's workers, concurrently and in any order, and Put gets
	// what it returns: work that needs no order (compressing documents)
	// runs there, beside the statements of the chunks before.
	Prepare(xs []exporter.OutgoingExecution) any
	// Put stores the execution revisions of one chunk, each once, and
	// says how it took each, in order. An execution naming a test
	// centre, test taker or delivery outside the client's scope, or a
	// test taker not eligible for the delivery, fails it with an
	// *ExecutionError wrapping ErrOutOfScope.
	Put(ctx context.Context, xs []exporter.OutgoingExecution, prepared any, bundleID string) (statuses []string, err error)
	// Commit records the bundle and the client's state and returns the
	// receipt batch that answers the bundle.
	Commit(ctx context.Context, b *bundle.Bundle, state exporter.ClientState, h taosync.HistoryEntry) (uint64, error)
	Rollback() error
}

// resultChunk is a chunk's execution revisions, parsed and prepared in the
// bundle reader's workers.
type resultChunk struct {
	xs       []exporter.OutgoingExecution
	prepared any
}

// ResultLine adds to a Line the receipt batch answering a result bundle.
type ResultLine struct {
	Line
	Client string `json:"client,omitempty"`
	Batch  uint64 `json:"receipt_batch,omitempty"`
}

// Results imports every result bundle in dir on central. Each bundle is
// stored in one transaction; a bundle already stored is answered with its
// receipt batch again.
func Results(ctx context.Context, dir string, t ResultTarget, o Options) ([]ResultLine, error) {
	o.Log = cmp.Or(o.Log, slog.Default())
	found, err := Open(dir, o.Trust)
	if err != nil {
		return nil, err
	}
	var lines []ResultLine
	for _, f := range found {
		l := ResultLine{Line: Line{Bundle: f.dir}}
		switch {
		case f.err != nil:
			l.Outcome, l.err = openOutcome(ctx, f, o.Trust.Self, nil)
			l.Reason = f.err.Error()
		case o.Trust.Own != nil && f.b.Signer.ID == o.Trust.Own.ID:
			l.Outcome, l.Reason = NotForUs, "sent from this home"
		case f.b.Manifest.Kind != manifest.KindResults:
			l.Outcome, l.Reason = NotForUs, fmt.Sprintf("a %s bundle", f.b.Manifest.Kind)
		default:
			m := f.b.Manifest
			l.BundleID, l.Kind, l.Seq, l.Bytes, l.Client = m.ID, string(m.Kind), m.Seq, f.b.Bytes, m.Sender.Client
			l.Counts, l.Batch, l.Outcome, l.err = applyResults(ctx, f.b, t, o)
			if err := stopped(f.b, l.err); err != nil {
				return lines, err
			}
			if l.Outcome == Skipped {
				l.Reason = "already received; answered with the same receipts"
			}
		}
		if l.err != nil {
			l.Reason = l.err.Error()
		}
		lines = append(lines, l)
	}
	return lines, nil
}

func applyResults(ctx context.Context, b *bundle.Bundle, t ResultTarget, o Options) (map[string]taosync.Counts, uint64, string, error) {
	m := b.Manifest
	var state exporter.ClientState
	if len(m.State) > 0 {
		var err error
		if state, err = exporter.ParseClientState(m.State); err != nil {
			return nil, 0, Refused, &bundle.Error{Bundle: b.Name(), Err: fmt.Errorf("%w: state: %v", bundle.ErrMalformed, err)}
		}
	}
	// A readiness report out of its bounds is not kept; the results it
	// came with still are: they matter more than what the centre said of
	// itself.
	if state.Report != nil {
		if err := state.Report.Check(); err != nil {
			o.Log.Warn("readiness report not kept", "bundle", b.Name(), "client", m.Sender.Client, "err", err)
			state.Report = nil
		}
	}
	start := time.Now()
	ap, err := t.BeginResults(ctx, m.Sender.Client, state)
	if err != nil {
		return nil, 0, Refused, &bundle.Error{Bundle: b.Name(), Err: err}
	}
	defer ap.Rollback()
	if batch, ok, err := ap.Received(ctx, m.ID); err != nil || ok {
		return nil, batch, Skipped, err
	}
	var n taosync.Counts
	var conflicts int64
	// The lines of a chunk are parsed, checked and prepared in Read's
	// workers, while the executions of the chunks before are stored.
	decode := func(p bundle.Payload) (any, error) {
		var xs []exporter.OutgoingExecution
		err := jsonl.EachLine(p.Data, func(line []byte) error {
			x, hash, ok := parseExecution(line)
			if !ok {
				return &bundle.Error{Bundle: b.Name(), Chunk: p.Chunk.Hash, Err: fmt.Errorf("%w: bad execution record", bundle.ErrMalformed)}
			}
			if hash != x.ContentHash {
				return &bundle.Error{Bundle: b.Name(), Chunk: p.Chunk.Hash, Err: fmt.Errorf("%w: %s", ErrBadExecution, x.ID)}
			}
			// Checked as `results add` checked it on the client: a bundle
			// signed by a client is no proof that it went through that.
			if invalid := results.Check(x.Execution); invalid != nil {
				return &bundle.Error{Bundle: b.Name(), Err: &ExecutionError{Err: ErrInvalidExecution, ID: x.ID, Field: invalid.Field, Reason: invalid.Reason}}
			}
			xs = append(xs, x)
			return nil
		})
		if err != nil {
			return nil, err
		}
		return resultChunk{xs, ap.Prepare(xs)}, nil
	}
	err = b.ReadDecoded(ctx, o.Identity, []string{exporter.ResultsSection}, decode, func(p bundle.Payload) error {
		c := p.Decoded.(resultChunk)
		statuses, err := ap.Put(ctx, c.xs, c.prepared, m.ID)
		if _, ok := errors.AsType[*ExecutionError](err); ok {
			err = &bundle.Error{Bundle: b.Name(), Err: err}
		}
		for _, status := range statuses {
			switch status {
			case taosync.ReceiptReceived:
				n.Created++
			case taosync.ReceiptConflict:
				conflicts++
			}
		}
		return err
	})
	if err != nil {
		return nil, 0, Refused, err
	}
	counts := map[string]taosync.Counts{exporter.ResultsSection: n}
	if conflicts > 0 {
		counts["conflicts"] = taosync.Counts{Created: conflicts}
	}
	if o.DryRun {
		return counts, 0, WouldApply, nil
	}
	h := taosync.HistoryEntry{
		Direction: "in", Transport: o.Transport, Peer: m.Sender.Client, BundleID: m.ID, Bundle: b.Name(),
		Kind: string(m.Kind), Stream: m.Stream, Seq: m.Seq, Counts: counts, Bytes: b.Bytes,
		DurationMS: time.Since(start).Milliseconds(), Outcome: taosync.OutcomeOK,
	}
	batch, err := ap.Commit(ctx, b, state, h)
	if err != nil {
		return nil, 0, Refused, err
	}
	return counts, batch, Applied, nil
}
