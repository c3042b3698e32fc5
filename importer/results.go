package importer

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/bundle"
	"github.com/taosync/taosync/internal/errmsg"
	"github.com/taosync/taosync/internal/jsonl"
	"github.com/taosync/taosync/internal/results"
	"github.com/taosync/taosync/manifest"
)

// ErrBadExecution refuses a result bundle holding an execution whose content
// does not match the hash it claims.
var ErrBadExecution = errors.New("execution does not match its content hash")

// resultChunk is a chunk's execution revisions, parsed and prepared in the
// bundle reader's workers.
type resultChunk struct {
	xs       []taosync.OutgoingExecution
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
func Results(ctx context.Context, dir string, t taosync.ResultTarget, o Options) ([]ResultLine, error) {
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

// ParseClientState reads the client state a result bundle carries, and
// checks it.
func ParseClientState(raw []byte) (taosync.ClientState, error) {
	var s taosync.ClientState
	if err := json.Unmarshal(raw, &s); err != nil {
		// The message may quote what the client sent, of any size.
		return s, errors.New(errmsg.Short(err.Error()))
	}
	return s, s.Check()
}

func applyResults(ctx context.Context, b *bundle.Bundle, t taosync.ResultTarget, o Options) (map[string]taosync.Counts, uint64, string, error) {
	m := b.Manifest
	var state taosync.ClientState
	if len(m.State) > 0 {
		var err error
		if state, err = ParseClientState(m.State); err != nil {
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
		var xs []taosync.OutgoingExecution
		err := jsonl.EachLine(p.Data, func(line []byte) error {
			x, hash, ok := taosync.ParseExecution(line)
			if !ok {
				return &bundle.Error{Bundle: b.Name(), Chunk: p.Chunk.Hash, Err: fmt.Errorf("%w: bad execution record", bundle.ErrMalformed)}
			}
			if hash != x.ContentHash {
				return &bundle.Error{Bundle: b.Name(), Chunk: p.Chunk.Hash, Err: fmt.Errorf("%w: %s", ErrBadExecution, x.ID)}
			}
			// Checked as `results add` checked it on the client: a bundle
			// signed by a client is no proof that it went through that.
			if invalid := results.Check(x.Execution); invalid != nil {
				return &bundle.Error{Bundle: b.Name(), Err: &taosync.ExecutionError{Err: taosync.ErrInvalidExecution, ID: x.ID, Field: invalid.Field, Reason: invalid.Reason}}
			}
			xs = append(xs, x)
			return nil
		})
		if err != nil {
			return nil, err
		}
		return resultChunk{xs, ap.Prepare(xs)}, nil
	}
	err = b.ReadDecoded(ctx, o.Identity, []string{taosync.ResultsSection}, decode, func(p bundle.Payload) error {
		c := p.Decoded.(resultChunk)
		statuses, err := ap.Put(ctx, c.xs, c.prepared, m.ID)
		if _, ok := errors.AsType[*taosync.ExecutionError](err); ok {
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
	counts := map[string]taosync.Counts{taosync.ResultsSection: n}
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
