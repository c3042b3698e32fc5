// Package central is what a central home does, for both of its roads: the
// CLI (a folder, a USB stick) and the HTTP server. It opens the home with
// its store and runs data exports, result imports and receipts with the
// home's keys and settings.
package central

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"time"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/bundle"
	"github.com/taosync/taosync/exporter"
	"github.com/taosync/taosync/importer"
	"github.com/taosync/taosync/internal/blobstore"
	"github.com/taosync/taosync/internal/bucket"
	"github.com/taosync/taosync/internal/config"
	"github.com/taosync/taosync/internal/home"
	"github.com/taosync/taosync/internal/safefile"
	"github.com/taosync/taosync/internal/store"
	"github.com/taosync/taosync/internal/version"
	"github.com/taosync/taosync/manifest"
)

// Central is an open central home.
type Central struct {
	Home  *home.Home
	Store *store.CentralDB
	Log   *slog.Logger
	// Blobs holds the prepared bundles (spool/) and the uploads (inbox/):
	// the home's folder, or the object store that UseBlobs opens, which
	// then keeps the package pieces too (Store.Chunks' remote).
	Blobs *bucket.Bucket
	// writes serialises the operations that write, so that concurrent
	// requests of the HTTP server queue here rather than on SQLite's lock.
	// The short writes of pulls (a reported state, a data export's
	// reservation and record) take it through the store (its Writes),
	// committed together: exports read and encrypt side by side.
	writes *store.Turns
	// exports is where data exports read: the store, or a test's wrapper.
	exports taosync.DataSource
	// imports bounds the result imports under way at once on PostgreSQL,
	// where they do not take turns: each holds its bundle's chunks and
	// documents while it stores them.
	imports chan struct{}
}

// maxImports is how many result imports run at once on PostgreSQL
// (ImportResults), unless the connections the pool can spare are fewer
// (store.DB.Spare: each holds one for its transaction); the others wait
// for one to end. A few per core keep the cores and the database busy.
var maxImports = max(8, 4*runtime.GOMAXPROCS(0))

// Open opens the central home in dir.
func Open(ctx context.Context, dir string, log *slog.Logger) (*Central, error) {
	return OpenAt(ctx, dir, "", log)
}

// OpenAt opens the central home in dir with its database at where, if not
// empty (home.OpenAt).
func OpenAt(ctx context.Context, dir, where string, log *slog.Logger) (*Central, error) {
	h, err := home.OpenAt(ctx, dir, where)
	if err != nil {
		return nil, err
	}
	c, err := New(h, log)
	if err != nil {
		h.Close()
	}
	return c, err
}

// New makes a Central of a home already open, which must be central's;
// closing the Central closes the home. A nil log means slog.Default().
func New(h *home.Home, log *slog.Logger) (*Central, error) {
	chunks, err := h.Chunks(home.RoleCentral)
	if err != nil {
		return nil, err
	}
	blobs, err := bucket.Open(context.Background(), "", h.Dir)
	if err != nil {
		return nil, err
	}
	writes := &store.Turns{}
	st := &store.CentralDB{DB: h.DB, Chunks: chunks, Writes: writes}
	return &Central{Home: h, Store: st, Log: cmp.Or(log, slog.Default()), writes: writes, exports: st, Blobs: blobs,
		imports: make(chan struct{}, max(1, min(maxImports, h.DB.Spare())))}, nil
}

// UseBlobs opens the blobs at rawURL in place of the home's folder; an
// empty rawURL means the blobs.url setting, itself the home by default.
func (c *Central) UseBlobs(ctx context.Context, rawURL string) error {
	if rawURL == "" {
		var err error
		if rawURL, err = config.Get(ctx, c.Home.DB, "blobs.url"); err != nil {
			return err
		}
	}
	if rawURL == "" {
		return nil
	}
	if _, err := config.BlobsURL(rawURL); err != nil {
		return fmt.Errorf("blobs: %w", err)
	}
	b, err := bucket.Open(ctx, rawURL, c.Home.Dir)
	if err != nil {
		return err
	}
	c.Blobs.Close()
	c.Blobs = b
	if b.Dir() != c.Home.Dir {
		c.Store.Chunks.SetRemote(chunkRemote{b})
	}
	return nil
}

// chunkRemote keeps package pieces in the blobs, under the home's layout
// (store/chunks/AB/HASH), for every replica. Its calls are not cut short
// by a request's end, but each by remoteTimeout.
type chunkRemote struct{ b *bucket.Bucket }

// remoteTimeout bounds one read or write of a package piece in the blobs,
// retries included: a piece is a few MiB at most, and a store slower than
// this is as good as down (a request that needs it answers 503).
const remoteTimeout = 2 * time.Minute

func chunkKey(hash string) string { return home.ChunksDir + "/" + hash[:2] + "/" + hash }

func (r chunkRemote) Keep(hash string, data []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), remoteTimeout)
	defer cancel()
	return r.b.PutHashed(ctx, chunkKey(hash), hash, data)
}

func (r chunkRemote) Fetch(hash string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), remoteTimeout)
	defer cancel()
	data, err := r.b.GetHashed(ctx, chunkKey(hash), hash)
	if errors.Is(err, bucket.ErrCorrupt) {
		return nil, fmt.Errorf("%w: %w", blobstore.ErrCorrupt, err)
	}
	return data, err
}

// Close closes the blobs and the home.
func (c *Central) Close() error {
	c.Blobs.Close()
	return c.Home.Close()
}

// ExportOptions say what data bundle to write.
type ExportOptions struct {
	Types     []taosync.Type
	Full      bool
	Transport string
	// SkipEmpty writes no bundle for a delta without changes.
	SkipEmpty bool
}

func (c *Central) days(ctx context.Context, key string) (time.Duration, error) {
	n, err := config.Int(ctx, c.Home.DB, key)
	return time.Duration(n) * 24 * time.Hour, err
}

// exportTries bounds how many times a data export is done again when the
// client's state moved while it ran (store.ErrExportMoved): each try that
// fails so means another write for the client was recorded in between.
const exportTries = 3

// ExportData writes a data bundle for a client into out. Exports run side
// by side, each in its own read snapshot; one whose client moved meanwhile
// is done again, as a full snapshot, which applies whatever moved.
func (c *Central) ExportData(ctx context.Context, client, out string, o ExportOptions) (*exporter.DataWritten, error) {
	signer, err := c.Home.Signer()
	if err != nil {
		return nil, err
	}
	keys, err := c.Home.PublicKeys()
	if err != nil {
		return nil, err
	}
	chunkRecords, err := config.Int(ctx, c.Home.DB, "sync.chunkSize")
	if err != nil {
		return nil, err
	}
	expiry, err := c.days(ctx, "sync.expiryDays")
	if err != nil {
		return nil, err
	}
	// An unknown client is said before anything is written: no empty
	// folder is left on the stick.
	if _, err := c.Store.GetClient(ctx, c.Home.DB, client); err != nil {
		return nil, err
	}
	if err := safefile.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	for try := 1; ; try++ {
		res, err := exporter.Data(ctx, c.exports, out, exporter.DataOptions{
			Client: client, Types: o.Types, Full: o.Full, ChunkRecords: chunkRecords, Expiry: expiry,
			Signer: signer, AgeRecipient: keys.Age, Now: time.Now(), Log: c.Log,
			Transport: o.Transport, SkipEmpty: o.SkipEmpty,
		})
		if !errors.Is(err, store.ErrExportMoved) || try == exportTries {
			return res, err
		}
		c.Log.Debug("data export done again: its client moved", "client", client, "try", try)
		o.Full = true
	}
}

// ReportDataState records what a client says it holds (with every pull),
// committed with the other pulls' short writes and queued with the other
// writes (the store's Writes), rather than on SQLite's lock, which many
// concurrent pulls would exhaust.
func (c *Central) ReportDataState(ctx context.Context, client string, seq, receiptSeq uint64) error {
	return c.Store.ReportDataState(ctx, client, seq, receiptSeq, time.Now())
}

// Status is the store's status of each client, with whether it needs an
// upgrade, and the minimum version (clients.minVersion, "" for none).
func (c *Central) Status(ctx context.Context) ([]store.ClientStatus, string, error) {
	min, err := config.Get(ctx, c.Home.DB, "clients.minVersion")
	if err != nil {
		return nil, "", err
	}
	clients, err := c.Store.Status(ctx)
	if err != nil || min == "" {
		return clients, min, err
	}
	for i, s := range clients {
		gated := s.LastError != nil && s.LastError.Upgrade && (s.Report == nil || s.LastError.At > s.Report.ReceivedAt)
		clients[i].UpgradeNeeded = gated || (s.Report != nil && !version.Serves(version.Current, min, s.Report.Version))
	}
	return clients, min, nil
}

// OutOfDate returns the version a client last reported when central does
// not serve it (version.Serves: below the minimum, clients.minVersion),
// and that minimum; "" when it does, or when the client never reported.
func (c *Central) OutOfDate(ctx context.Context, client string) (have, min string, err error) {
	min, err = config.Get(ctx, c.Home.DB, "clients.minVersion")
	if err != nil || min == "" {
		return "", "", err
	}
	reports, err := c.Store.Reports(ctx)
	if err != nil {
		return "", "", err
	}
	if r, ok := reports[client]; ok && !version.Serves(version.Current, min, r.Version) {
		return r.Version, min, nil
	}
	return "", "", nil
}

// RecordReport keeps the readiness report a client sent with a pull.
func (c *Central) RecordReport(ctx context.Context, client string, r taosync.Readiness) error {
	c.writes.Lock()
	defer c.writes.Unlock()
	return store.RecordReport(ctx, c.Home.DB, client, r, "http", true)
}

// ImportResults imports the result bundles in dir and, with receipts,
// writes the receipt bundle answering each into receiptsDir. It returns
// one line per bundle found (those before the bundle a failed disk stopped
// it at, with that error) and the receipt bundles' folders by result
// bundle id.
//
// On SQLite imports take turns here, as the database's one writer would
// have them. On PostgreSQL they do not: each holds its client's lock and
// those of the execution ids it stores (store.BeginClientTx), so that
// different clients' imports run at once, in one process as across
// replicas, at most maxImports of them in one process (fewer in a small
// pool of connections), which bounds its memory however many result
// bundles come at once.
func (c *Central) ImportResults(ctx context.Context, dir string, opts importer.Options, receiptsDir string) ([]importer.ResultLine, map[string]string, error) {
	if c.Home.DB.Engine != store.Postgres {
		c.writes.Lock()
		defer c.writes.Unlock()
	} else {
		select {
		case c.imports <- struct{}{}:
			defer func() { <-c.imports }()
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("wait for a result import to end: %w", ctx.Err())
		}
	}
	lines, err := importer.Results(ctx, dir, c.Store, opts)
	if rerr := home.RecordRefusals(ctx, c.Home, lines, opts); err == nil {
		err = rerr
	}
	if err != nil {
		return lines, nil, err
	}
	// A refused bundle whose sender is known is that client's last error,
	// as the operator view shows it.
	for _, l := range lines {
		if l.Outcome == importer.Refused && l.Client != "" && !opts.DryRun {
			if err := c.Store.RecordLastError(ctx, l.Client, l.Reason, false); err != nil {
				return nil, nil, err
			}
		}
	}
	written := map[string]string{}
	if opts.DryRun || receiptsDir == "" {
		return lines, written, nil
	}
	for _, l := range lines {
		if l.Batch == 0 {
			continue
		}
		d, err := c.receiptBundle(ctx, receiptsDir, l.Client, l.Batch, opts.Transport)
		if err != nil {
			return nil, nil, fmt.Errorf("write receipts for %s: %w", filepath.Base(l.Bundle), err)
		}
		written[l.BundleID] = d
	}
	return lines, written, nil
}

// ReceiptBundle writes the receipt bundle of one batch into dir, unless one
// for that batch is already there: a result bundle imported twice is
// answered by the same receipts. It returns the bundle's folder.
//
// On SQLite it takes its turn to write. On PostgreSQL it does not: the
// caller holds the batch's lease (serve's receipts/CLIENT/BATCH), so that
// the receipt bundles of different batches are made at once, in one
// process as across replicas.
func (c *Central) ReceiptBundle(ctx context.Context, dir, client string, batch uint64, transport string) (string, error) {
	if c.Home.DB.Engine != store.Postgres {
		c.writes.Lock()
		defer c.writes.Unlock()
	}
	return c.receiptBundle(ctx, dir, client, batch, transport)
}

func (c *Central) receiptBundle(ctx context.Context, dir, client string, batch uint64, transport string) (string, error) {
	if d, err := c.existingReceipts(dir, client, batch); err != nil || d != "" {
		return d, err
	}
	signer, err := c.Home.Signer()
	if err != nil {
		return "", err
	}
	keys, err := c.Home.PublicKeys()
	if err != nil {
		return "", err
	}
	expiry, err := c.days(ctx, "sync.expiryDays")
	if err != nil {
		return "", err
	}
	res, err := exporter.Receipts(ctx, c.Store, dir, exporter.ReceiptOptions{Client: client, Batch: batch,
		Expiry: expiry, Signer: signer, AgeRecipient: keys.Age, Now: time.Now()})
	if err != nil {
		return "", err
	}
	m := res.Manifest
	err = store.AddHistory(ctx, c.Home.DB, taosync.HistoryEntry{Direction: "out", Transport: transport, Peer: client,
		BundleID: m.ID, Bundle: filepath.Base(res.Dir), Kind: string(m.Kind), Stream: m.Stream, Seq: m.Seq,
		Counts: map[string]taosync.Counts{taosync.ReceiptsSection: {Created: m.Section(taosync.ReceiptsSection).Records}},
		Bytes:  res.Bytes(), Outcome: taosync.OutcomeOK})
	return res.Dir, err
}

// existingReceipts finds the receipt bundle of a client's batch already in
// dir: a bundle folder of exactly that name's form whose manifest, signed
// by this central, names the client and the batch.
func (c *Central) existingReceipts(dir, client string, batch uint64) (string, error) {
	name := regexp.MustCompile(`^receipts-` + regexp.QuoteMeta(client) + fmt.Sprintf(`-%06d-[0-9a-f]{8}$`, batch))
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	trust, err := c.Home.Trust(context.Background(), time.Now())
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		if !e.IsDir() || !name.MatchString(e.Name()) {
			continue
		}
		d := filepath.Join(dir, e.Name())
		b, err := bundle.Open(d, trust)
		if err != nil || b.Signer.ID != trust.Own.ID {
			continue
		}
		if m := b.Manifest; m.Kind == manifest.KindReceipts && m.Recipient.Client == client && m.Seq == batch && b.Check(context.Background()) == nil {
			return d, nil
		}
	}
	return "", nil
}

// RecordRefusal adds a history row for a request of a client refused
// (kind is what it asked for): a number central never made for it.
func (c *Central) RecordRefusal(ctx context.Context, client, transport, kind string, refusal error) error {
	c.writes.Lock()
	defer c.writes.Unlock()
	return store.AddHistory(ctx, c.Home.DB, taosync.HistoryEntry{Direction: "in", Transport: transport, Peer: client,
		Kind: kind, Outcome: taosync.OutcomeRefused, Error: refusal.Error()})
}
