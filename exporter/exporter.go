// Package exporter turns central's data into data bundles for one client,
// and a client's results into result bundles for central.
//
// It reads through small interfaces (taosync.DataSource, taosync.DataExport,
// taosync.ResultExport, taosync.ReceiptSource), so that a store other than
// SQLite can feed it; they, and the records and states it writes, are the
// module's root package's words, shared with the importer. An export is one transaction on the source:
// it sees one consistent state, and it records the bundle as the client's new
// state only if the bundle was published whole.
package exporter

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"filippo.io/age"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/bundle"
	"github.com/taosync/taosync/manifest"
	"github.com/taosync/taosync/minisign"
)

// DataOptions configure a data export.
type DataOptions struct {
	Client string
	// Types restricts the bundle to these types; empty means all six.
	Types []taosync.Type
	// Full forces a full snapshot.
	Full bool
	// ChunkRecords is the records per chunk.
	ChunkRecords int
	// Expiry is how long the bundle stays valid.
	Expiry time.Duration
	// Sender is central's signing key and age recipient.
	Signer       minisign.PrivateKey
	AgeRecipient string
	Now          time.Time
	// Log takes the diagnostics; nil means slog.Default().
	Log *slog.Logger
	// Transport names the road, for the history ("folder" if empty).
	Transport string
	// SkipEmpty writes no bundle, and returns ErrNoChanges, for a delta
	// that would carry nothing.
	SkipEmpty bool
}

// ErrNoChanges: a delta would carry nothing, and SkipEmpty was set.
var ErrNoChanges = errors.New("no changes for this client")

// DataWritten is what an export wrote.
type DataWritten struct {
	*bundle.Written
	Counts map[string]taosync.Counts
}

// Stream names the data stream of a client.
func Stream(client string) string { return "data/" + client }

// Data writes one data bundle for a client into out.
func Data(ctx context.Context, src taosync.DataSource, out string, o DataOptions) (*DataWritten, error) {
	o.Log = cmp.Or(o.Log, slog.Default())
	types := o.Types
	if len(types) == 0 {
		types = taosync.Types
	}
	// Sections follow taosync.Types' order whatever the flags' order.
	types = slices.DeleteFunc(slices.Clone(taosync.Types), func(t taosync.Type) bool { return !slices.Contains(types, t) })
	ex, err := src.BeginDataExport(ctx, o.Client)
	if err != nil {
		return nil, err
	}
	defer ex.Rollback()
	rc := ex.Recipient()
	full := o.Full || rc.Seq == 0 || rc.Behind
	recipient, err := age.ParseX25519Recipient(rc.AgeRecipient)
	if err != nil {
		return nil, fmt.Errorf("client %s: age recipient: %w", rc.ID, err)
	}
	m := header(manifest.KindData, centralParty(o.Signer, o.AgeRecipient), party(rc), Stream(rc.ID), rc.NextSeq, o.Now, o.Expiry)
	m.Prev = rc.Hash
	if !full {
		m.Base = &manifest.Ref{Seq: rc.Seq, ID: rc.Bundle}
	}
	w, err := bundle.Create(out, m, bundle.Options{Recipient: recipient, Signer: o.Signer, ChunkRecords: o.ChunkRecords})
	if err != nil {
		return nil, err
	}
	committed := false
	defer func() {
		if !committed {
			w.Abort()
		}
	}()
	counts := map[string]taosync.Counts{}
	var line []byte
	var keep []taosync.Type
	for _, t := range types {
		if err := w.BeginRecords(string(t)); err != nil {
			return nil, err
		}
		if full {
			// A full snapshot of the organisation's data as it is now may
			// have been written for another of its clients: it is sent
			// again, only encrypted anew. Otherwise this one is kept.
			n, ok, err := ex.Snapshot(ctx, t, w.ChunkRecords(), w.RecordChunk)
			if err != nil {
				return nil, fmt.Errorf("export %s: %w", t, err)
			}
			if ok {
				counts[string(t)] = n
				continue
			}
			if err := w.Keep(); err != nil {
				return nil, err
			}
			keep = append(keep, t)
		}
		var n taosync.Counts
		err := ex.Records(ctx, t, full, func(r taosync.Record) error {
			switch r.Change {
			case taosync.Created:
				n.Created++
			case taosync.Updated:
				n.Updated++
			case taosync.Deleted:
				n.Deleted++
				if full {
					return nil // a full snapshot deletes what it lacks
				}
			}
			line = taosync.AppendRecord(line[:0], r)
			return w.Record(line, r.Change == taosync.Deleted)
		})
		if err != nil {
			return nil, fmt.Errorf("export %s: %w", t, err)
		}
		counts[string(t)] = n
	}
	if err := w.BeginRecords(taosync.ReceiptsSection); err != nil {
		return nil, err
	}
	if err := ex.Receipts(ctx, receiptWriter(w)); err != nil {
		return nil, fmt.Errorf("export receipts: %w", err)
	}
	var chunks []string
	if slices.Contains(types, taosync.Delivery) {
		if err := w.BeginBlob(taosync.PackageSection); err != nil {
			return nil, err
		}
		err := ex.Chunks(ctx, full, func(hash string) error {
			b, err := ex.Chunk(hash)
			if err != nil {
				return err
			}
			chunks = append(chunks, hash)
			// Chunk has checked b against hash, the store's name for it.
			return w.BlobChecked(b, hash)
		})
		if err != nil {
			return nil, fmt.Errorf("export packages: %w", err)
		}
	}
	if o.SkipEmpty && !full && w.Empty() {
		return nil, ErrNoChanges
	}
	res, err := w.CommitChunks()
	if err != nil {
		return nil, err
	}
	committed = true
	for _, t := range keep {
		chunks, ok := w.Kept(string(t))
		if !ok {
			continue
		}
		if err := ex.Keep(ctx, t, w.ChunkRecords(), chunks); err != nil {
			res.Remove()
			return nil, fmt.Errorf("keep the snapshot of %s: %w", t, err)
		}
	}
	transport := o.Transport
	if transport == "" {
		transport = "folder"
	}
	h := taosync.HistoryEntry{
		Direction: "out", Transport: transport, Peer: rc.ID, BundleID: m.ID, Bundle: bundle.Name(m),
		Kind: string(m.Kind), Stream: m.Stream, Seq: m.Seq, Full: full, Counts: counts,
		Bytes: res.Bytes(), Outcome: taosync.OutcomeOK,
	}
	start := time.Now()
	if err := ex.Commit(ctx, res, types, chunks, h, func() error { return res.Publish() }); err != nil {
		res.Remove()
		return nil, err
	}
	o.Log.Debug("exported data bundle", "client", rc.ID, "seq", m.Seq, "full", full, "commit", time.Since(start))
	return &DataWritten{Written: res, Counts: counts}, nil
}

// header starts the manifest of a new bundle.
func header(kind manifest.Kind, sender, recipient manifest.Party, stream string, seq uint64, now time.Time, expiry time.Duration) *manifest.Manifest {
	return &manifest.Manifest{
		Format:    manifest.Format,
		Version:   fmt.Sprintf("%d.%d", manifest.Major, manifest.Minor),
		ID:        bundle.NewID(),
		Kind:      kind,
		Sender:    sender,
		Recipient: recipient,
		Stream:    stream,
		Seq:       seq,
		Created:   now.UTC(),
		Expires:   now.UTC().Add(expiry),
	}
}

// centralParty names central as a bundle's sender.
func centralParty(signer minisign.PrivateKey, ageRecipient string) manifest.Party {
	return manifest.Party{Role: "central", KeyID: signer.Public().IDString(), AgeRecipient: ageRecipient}
}

// party names the client as a bundle's recipient.
func party(r taosync.Recipient) manifest.Party {
	return manifest.Party{Role: "client", Client: r.ID, Org: r.Org, KeyID: r.SignKeyID, AgeRecipient: r.AgeRecipient}
}
