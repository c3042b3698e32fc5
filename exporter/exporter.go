// Package exporter turns central's data into data bundles for one client,
// and a client's results into result bundles for central.
//
// It reads through small interfaces (DataSource, DataExport), so that a store
// other than SQLite can feed it. An export is one transaction on the source:
// it sees one consistent state, and it records the bundle as the client's new
// state only if the bundle was published whole.
package exporter

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"filippo.io/age"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/bundle"
	"github.com/taosync/taosync/manifest"
	"github.com/taosync/taosync/minisign"
)

// Change says what a record does to the client.
type Change int

// Changes.
const (
	Unchanged Change = iota // the client holds it already (full snapshots only)
	Created
	Updated
	Deleted
)

// Record is one entity as it goes to a client.
type Record struct {
	ID      string
	Version int64
	Data    []byte // the entity's JSON object; nil when Deleted
	Change  Change
}

// Recipient is the client a data bundle is for, and the state its next
// bundle applies on.
type Recipient struct {
	ID           string
	Org          string
	AgeRecipient string
	SignKeyID    string
	// Seq, Bundle and Hash name the last data bundle exported for it; Seq 0
	// means none, and the next bundle is a full snapshot.
	Seq    uint64
	Bundle string
	Hash   string
	// NextSeq is the sequence number reserved for the bundle being
	// written; numbers are never reused, so it may skip some.
	NextSeq uint64
	// Behind is set when no delta can follow safely: the client reported,
	// after the last export, an older state than it (it lost bundles), or
	// an export died after its bundle may have been written. The next
	// bundle is a full snapshot.
	Behind bool
}

// DataSource starts data exports.
type DataSource interface {
	BeginDataExport(ctx context.Context, client string) (DataExport, error)
}

// DataExport is one export in progress: a consistent view of the client's
// scope, and the client's recorded state.
type DataExport interface {
	Recipient() Recipient
	// Records calls fn with each record of type t the bundle carries: every
	// entity in the client's scope (in a full snapshot), or those the
	// client lacks or holds in an older version (in a delta), then every
	// entity the client holds that was deleted or left its scope.
	Records(ctx context.Context, t taosync.Type, full bool, fn func(Record) error) error
	// Chunks calls fn with the content hash of each package chunk of the
	// deliveries in scope that the client has not been sent (all of them
	// when full), once each, package by package in the package's order (so
	// that the client can hash each package as its chunks arrive), and
	// Chunk reads one, checked against its hash.
	Chunks(ctx context.Context, full bool, fn func(hash string) error) error
	Chunk(hash string) ([]byte, error)
	// Snapshot calls fn with the chunks, in order, of the full snapshot
	// of type t that an earlier export for the client's organisation wrote
	// and kept (Keep), and returns what they change for the client. ok is
	// false, and fn is not called, unless one is kept of the data as it is
	// now, in chunks of chunkRecords records of RecordFormat.
	Snapshot(ctx context.Context, t taosync.Type, chunkRecords int, fn func(bundle.Compressed) error) (n taosync.Counts, ok bool, err error)
	// Keep keeps the chunks of the full snapshot of type t that this
	// export wrote, for Snapshot, if the export is committed.
	Keep(ctx context.Context, t taosync.Type, chunkRecords int, chunks []bundle.Compressed) error
	// Receipts calls fn with the receipts the client has not reported
	// holding.
	Receipts(ctx context.Context, fn func(taosync.Receipt) error) error
	// Commit records the bundle as the client's state for types, calls
	// publish, and makes the record durable only if publish succeeds.
	Commit(ctx context.Context, res *bundle.Result, types []taosync.Type, chunks []string, h taosync.HistoryEntry, publish func() error) error
	// Rollback abandons the export; it is a no-op after Commit.
	Rollback() error
}

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

// DataResult is what an export wrote.
type DataResult struct {
	*bundle.Result
	Counts map[string]taosync.Counts
}

// RecordFormat is the form of the records AppendRecord writes. Snapshots
// kept (DataExport.Keep) in another form are not sent again: a change to
// AppendRecord changes it.
const RecordFormat = 1

// PackageSection is the blob section carrying package chunks.
const PackageSection = "packages"

// Stream names the data stream of a client.
func Stream(client string) string { return "data/" + client }

// Data writes one data bundle for a client into out.
func Data(ctx context.Context, src DataSource, out string, o DataOptions) (*DataResult, error) {
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
	m := header(manifest.KindData, centralParty(o.Signer, o.AgeRecipient), rc.party(), Stream(rc.ID), rc.NextSeq, o.Now, o.Expiry)
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
		err := ex.Records(ctx, t, full, func(r Record) error {
			switch r.Change {
			case Created:
				n.Created++
			case Updated:
				n.Updated++
			case Deleted:
				n.Deleted++
				if full {
					return nil // a full snapshot deletes what it lacks
				}
			}
			line = AppendRecord(line[:0], r)
			return w.Record(line, r.Change == Deleted)
		})
		if err != nil {
			return nil, fmt.Errorf("export %s: %w", t, err)
		}
		counts[string(t)] = n
	}
	if err := w.BeginRecords(ReceiptsSection); err != nil {
		return nil, err
	}
	if err := ex.Receipts(ctx, receiptWriter(w)); err != nil {
		return nil, fmt.Errorf("export receipts: %w", err)
	}
	var chunks []string
	if slices.Contains(types, taosync.Delivery) {
		if err := w.BeginBlob(PackageSection); err != nil {
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
	return &DataResult{Result: res, Counts: counts}, nil
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

// appendString appends s as encoding/json writes it. An id of printable
// ASCII without a quote, a backslash or one of the characters json escapes
// for HTML (<, >, &), as ids mostly are, is written between quotes as is,
// without json.Marshal's allocation; any other goes through json.Marshal.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// centralParty names central as a bundle's sender.
func centralParty(signer minisign.PrivateKey, ageRecipient string) manifest.Party {
	return manifest.Party{Role: "central", KeyID: signer.Public().IDString(), AgeRecipient: ageRecipient}
}

// party names the client as a bundle's recipient.
func (r Recipient) party() manifest.Party {
	return manifest.Party{Role: "client", Client: r.ID, Org: r.Org, KeyID: r.SignKeyID, AgeRecipient: r.AgeRecipient}
}

// AppendRecord appends the bundle form of a record: a JSON object with the
// id, central's version, and either the entity's data or "deleted": true.
// It is built by hand because it runs once per record of every export and
// the entity's data is already JSON.
func AppendRecord(b []byte, r Record) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, r.ID)
	b = append(b, `,"v":`...)
	b = strconv.AppendInt(b, r.Version, 10)
	if r.Change == Deleted {
		return append(b, `,"deleted":true}`...)
	}
	b = append(b, `,"data":`...)
	b = append(b, r.Data...)
	return append(b, '}')
}
