package exporter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"filippo.io/age"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/bundle"
	"github.com/taosync/taosync/internal/errmsg"
	"github.com/taosync/taosync/manifest"
	"github.com/taosync/taosync/minisign"
)

// OutgoingExecution is an execution as a result bundle carries it: the
// execution, its revision on the client and its content hash.
type OutgoingExecution struct {
	taosync.Execution
	Revision    int64  `json:"revision"`
	ContentHash string `json:"content_hash"`
}

// ClientState is what a client tells central of itself in every result
// bundle: the data bundles it has applied (central's acknowledgement of its
// data), the receipts it holds, and facts about the box.
type ClientState struct {
	DataSeq    uint64 `json:"data_seq"`
	DataBundle string `json:"data_bundle"`
	// ReceiptSeq is the receipt batch up to which it holds every receipt.
	ReceiptSeq uint64    `json:"receipt_seq"`
	Version    string    `json:"taosync_version"`
	FreeDisk   int64     `json:"free_disk_bytes"`
	Clock      time.Time `json:"clock"`
	// Report is the client's readiness report (taosync 1.x centrals
	// before it ignore it).
	Report *taosync.Readiness `json:"report,omitempty"`
}

// Limits of a client state's fields. A version is a release name, not an
// essay; free disk is -1 when the client could not read it.
const maxVersionBytes = 64

// ParseClientState reads the client state a result bundle carries, and
// checks it.
func ParseClientState(raw []byte) (ClientState, error) {
	var s ClientState
	if err := json.Unmarshal(raw, &s); err != nil {
		// The message may quote what the client sent, of any size.
		return s, errors.New(errmsg.Short(err.Error()))
	}
	return s, s.Check()
}

// Check refuses a client state whose fields are out of shape: central
// stores it as the client's last word about itself.
func (s ClientState) Check() error {
	switch {
	case s.DataBundle != "" && !manifest.ValidID(s.DataBundle):
		return fmt.Errorf("data_bundle %.40q is not a bundle id", s.DataBundle)
	case (s.DataSeq == 0) != (s.DataBundle == ""):
		return fmt.Errorf("data_seq %d and data_bundle %q: a client holds both or neither", s.DataSeq, s.DataBundle)
	case len(s.Version) > maxVersionBytes || !printable(s.Version):
		return fmt.Errorf("taosync_version %.40q is not a version", s.Version)
	case s.FreeDisk < -1:
		return fmt.Errorf("free_disk_bytes %d is negative", s.FreeDisk)
	}
	return nil
}

// printable reports whether s is printable ASCII.
func printable(s string) bool {
	for _, c := range []byte(s) {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// ResultExport is one result export in progress on a client: the
// executions to send are already marked packaged.
type ResultExport interface {
	// Seq is the bundle's place on the client's result stream.
	Seq() uint64
	// Count is the number of executions packaged.
	Count() int64
	// Prev is the manifest hash of the previous result bundle.
	Prev(ctx context.Context) (string, error)
	Each(ctx context.Context, fn func(OutgoingExecution) error) error
	// Commit marks them sent, calls publish, and makes that durable only if
	// publish succeeds.
	Commit(ctx context.Context, hash string, h taosync.HistoryEntry, publish func() error) error
}

// ErrNothingToSend: no execution is waiting to be sent.
var ErrNothingToSend = errors.New("no results to send")

// ResultsSection names the records section of a result bundle.
const ResultsSection = "executions"

// ResultOptions configure a result export.
type ResultOptions struct {
	Client       string
	ChunkRecords int
	Expiry       time.Duration
	Signer       minisign.PrivateKey
	AgeRecipient string // the client's own
	// Central is whom the bundle is for.
	Central manifest.Party
	State   ClientState
	Now     time.Time
	// Transport names the road, for the history ("folder" if empty).
	Transport string
	// ReportOnly writes the bundle even with no execution: it still
	// carries the client's state and readiness report.
	ReportOnly bool
}

// Results writes the packaged executions of ex into one result bundle in
// out, encrypted to central and signed by the client.
func Results(ctx context.Context, ex ResultExport, out, bundleID string, o ResultOptions) (*bundle.Result, error) {
	recipient, err := age.ParseX25519Recipient(o.Central.AgeRecipient)
	if err != nil {
		return nil, fmt.Errorf("central's age recipient: %w", err)
	}
	state, err := json.Marshal(o.State)
	if err != nil {
		return nil, err
	}
	prev, err := ex.Prev(ctx)
	if err != nil {
		return nil, err
	}
	sender := manifest.Party{Role: "client", Client: o.Client, KeyID: o.Signer.Public().IDString(), AgeRecipient: o.AgeRecipient}
	m := header(manifest.KindResults, sender, o.Central, "results/"+o.Client, ex.Seq(), o.Now, o.Expiry)
	m.ID, m.Prev, m.State = bundleID, prev, state
	w, err := bundle.Create(out, m, bundle.Options{Recipient: recipient, Signer: o.Signer, ChunkRecords: o.ChunkRecords})
	if err != nil {
		return nil, err
	}
	if err := w.BeginRecords(ResultsSection); err != nil {
		w.Abort()
		return nil, err
	}
	var n int64
	err = ex.Each(ctx, func(x OutgoingExecution) error {
		line, err := json.Marshal(x)
		if err != nil {
			return err
		}
		n++
		return w.Record(line, false)
	})
	if err != nil {
		w.Abort()
		return nil, fmt.Errorf("export results: %w", err)
	}
	if n == 0 && !o.ReportOnly {
		// Everything packaged changed since (a new revision, queued
		// again): no bundle, rather than one that carries nothing.
		w.Abort()
		return nil, ErrNothingToSend
	}
	res, err := w.CommitChunks()
	if err != nil {
		w.Abort()
		return nil, err
	}
	transport := o.Transport
	if transport == "" {
		transport = "folder"
	}
	h := taosync.HistoryEntry{
		Direction: "out", Transport: transport, Peer: "central", BundleID: m.ID, Bundle: bundle.Name(m),
		Kind: string(m.Kind), Stream: m.Stream, Seq: m.Seq,
		Counts: map[string]taosync.Counts{ResultsSection: {Created: n}},
		Bytes:  res.Bytes(), Outcome: taosync.OutcomeOK,
	}
	if err := ex.Commit(ctx, res.Hash, h, res.Publish); err != nil {
		res.Remove()
		return nil, err
	}
	return res, nil
}

// ReceiptsSection names the records section of receipts, in receipt
// bundles and in data bundles.
const ReceiptsSection = "receipts"

// ReceiptSource gives central's receipts for a client.
type ReceiptSource interface {
	Recipient(ctx context.Context, client string) (Recipient, error)
	// Receipts calls fn with the receipts of batches from..to, in order.
	Receipts(ctx context.Context, client string, from, to uint64, fn func(taosync.Receipt) error) error
}

// ReceiptOptions configure a receipt bundle.
type ReceiptOptions struct {
	Client       string
	Batch        uint64
	Expiry       time.Duration
	Signer       minisign.PrivateKey
	AgeRecipient string // central's own
	Now          time.Time
}

// Receipts writes the receipt bundle of one batch for a client into out:
// central's signed word on every execution revision of the result bundle
// the batch answers.
func Receipts(ctx context.Context, src ReceiptSource, out string, o ReceiptOptions) (*bundle.Result, error) {
	rc, err := src.Recipient(ctx, o.Client)
	if err != nil {
		return nil, err
	}
	recipient, err := age.ParseX25519Recipient(rc.AgeRecipient)
	if err != nil {
		return nil, fmt.Errorf("client %s: age recipient: %w", rc.ID, err)
	}
	m := header(manifest.KindReceipts, centralParty(o.Signer, o.AgeRecipient), rc.party(), "receipts/"+rc.ID, o.Batch, o.Now, o.Expiry)
	w, err := bundle.Create(out, m, bundle.Options{Recipient: recipient, Signer: o.Signer})
	if err != nil {
		return nil, err
	}
	if err := w.BeginRecords(ReceiptsSection); err != nil {
		w.Abort()
		return nil, err
	}
	if err := src.Receipts(ctx, o.Client, o.Batch, o.Batch, receiptWriter(w)); err != nil {
		w.Abort()
		return nil, err
	}
	return w.Commit()
}

// receiptWriter writes each receipt as a record.
func receiptWriter(w *bundle.Writer) func(taosync.Receipt) error {
	return func(r taosync.Receipt) error {
		line, err := json.Marshal(r)
		if err != nil {
			return err
		}
		return w.Record(line, false)
	}
}
