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
	"github.com/taosync/taosync/manifest"
	"github.com/taosync/taosync/minisign"
)

// ErrNothingToSend: no execution is waiting to be sent.
var ErrNothingToSend = errors.New("no results to send")

// ResultOptions configure a result export.
type ResultOptions struct {
	Client       string
	ChunkRecords int
	Expiry       time.Duration
	Signer       minisign.PrivateKey
	AgeRecipient string // the client's own
	// Central is whom the bundle is for.
	Central manifest.Party
	State   taosync.ClientState
	Now     time.Time
	// Transport names the road, for the history ("folder" if empty).
	Transport string
	// ReportOnly writes the bundle even with no execution: it still
	// carries the client's state and readiness report.
	ReportOnly bool
}

// Results writes the packaged executions of ex into one result bundle in
// out, encrypted to central and signed by the client.
func Results(ctx context.Context, ex taosync.ResultExport, out, bundleID string, o ResultOptions) (*bundle.Written, error) {
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
	if err := w.BeginRecords(taosync.ResultsSection); err != nil {
		w.Abort()
		return nil, err
	}
	var n int64
	var line []byte
	err = ex.Each(ctx, func(x taosync.OutgoingExecution) error {
		line = taosync.AppendExecution(line[:0], x)
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
		Counts: map[string]taosync.Counts{taosync.ResultsSection: {Created: n}},
		Bytes:  res.Bytes(), Outcome: taosync.OutcomeOK,
	}
	if err := ex.Commit(ctx, res.Hash, h, res.Publish); err != nil {
		res.Remove()
		return nil, err
	}
	return res, nil
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
func Receipts(ctx context.Context, src taosync.ReceiptSource, out string, o ReceiptOptions) (*bundle.Written, error) {
	rc, err := src.Recipient(ctx, o.Client)
	if err != nil {
		return nil, err
	}
	recipient, err := age.ParseX25519Recipient(rc.AgeRecipient)
	if err != nil {
		return nil, fmt.Errorf("client %s: age recipient: %w", rc.ID, err)
	}
	m := header(manifest.KindReceipts, centralParty(o.Signer, o.AgeRecipient), party(rc), "receipts/"+rc.ID, o.Batch, o.Now, o.Expiry)
	w, err := bundle.Create(out, m, bundle.Options{Recipient: recipient, Signer: o.Signer})
	if err != nil {
		return nil, err
	}
	if err := w.BeginRecords(taosync.ReceiptsSection); err != nil {
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
	var line []byte
	return func(r taosync.Receipt) error {
		line = taosync.AppendReceipt(line[:0], r)
		return w.Record(line, false)
	}
}
