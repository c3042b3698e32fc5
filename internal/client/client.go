// Package client is what a test centre's client home does, for both of its
// roads (a folder, HTTP): importing data and receipt bundles into its local
// copy, and packaging its results for central.
package client

import (
	"cmp"
	"context"
	"log/slog"
	"strings"
	"syscall"
	"time"

	"github.com/taosync/taosync/bundle"
	"github.com/taosync/taosync/exporter"
	"github.com/taosync/taosync/importer"
	"github.com/taosync/taosync/internal/config"
	"github.com/taosync/taosync/internal/home"
	"github.com/taosync/taosync/internal/safefile"
	"github.com/taosync/taosync/internal/store"
	"github.com/taosync/taosync/internal/version"
)

// Client is an open client home.
type Client struct {
	Home  *home.Home
	Local *store.ClientDB
	Log   *slog.Logger
}

// Open opens the client home in dir.
func Open(ctx context.Context, dir string, log *slog.Logger) (*Client, error) {
	h, err := home.Open(ctx, dir)
	if err != nil {
		return nil, err
	}
	c, err := New(ctx, h, log)
	if err != nil {
		h.Close()
	}
	return c, err
}

// New makes a Client of a home already open, which must be a client's;
// closing the Client closes the home. A nil log means slog.Default().
func New(ctx context.Context, h *home.Home, log *slog.Logger) (*Client, error) {
	chunks, err := h.Chunks(home.RoleClient)
	if err != nil {
		return nil, err
	}
	del, err := config.Bool(ctx, h.DB, "results.deleteAfterSend")
	if err != nil {
		return nil, err
	}
	return &Client{Home: h, Local: &store.ClientDB{DB: h.DB, Chunks: chunks, DeleteAfterSend: del}, Log: cmp.Or(log, slog.Default())}, nil
}

// Close closes the home.
func (c *Client) Close() error { return c.Home.Close() }

// ErrNoCredentials: the client trusts no central yet.
var ErrNoCredentials = home.ErrNoCredentials

// Options returns the import options of this client.
func (c *Client) Options(ctx context.Context, transport string) (importer.Options, error) {
	opts, err := c.Home.ImportOptions(ctx, transport, c.Log)
	if err == nil && opts.Trust.Self.Client == "" {
		err = ErrNoCredentials
	}
	return opts, err
}

// Import applies the data and receipt bundles in dir, and records the
// refusals in the history, those before a failure that stopped it too.
func (c *Client) Import(ctx context.Context, dir string, opts importer.Options) ([]importer.Line, error) {
	lines, err := importer.Data(ctx, dir, c.Local, opts)
	if rerr := home.RecordRefusals(ctx, c.Home, lines, opts); err == nil {
		err = rerr
	}
	return lines, err
}

// ErrNothingToSend: no execution is waiting to be sent.
var ErrNothingToSend = exporter.ErrNothingToSend

// ExportResults packages the executions to send into a result bundle in
// out, encrypted to central and signed by this client, with the client's
// readiness report. On the folder road a bundle is written even with no
// execution to send: it carries the report.
func (c *Client) ExportResults(ctx context.Context, out string, resend bool, transport string) (*bundle.Written, int64, error) {
	h := c.Home
	id, err := h.ClientID(ctx)
	if err != nil {
		return nil, 0, err
	}
	to, err := h.Central(ctx)
	if err != nil {
		return nil, 0, err
	}
	signer, err := h.Signer()
	if err != nil {
		return nil, 0, err
	}
	keys, err := h.PublicKeys()
	if err != nil {
		return nil, 0, err
	}
	chunkRecords, err := config.Int(ctx, h.DB, "results.chunkSize")
	if err != nil {
		return nil, 0, err
	}
	days, err := config.Int(ctx, h.DB, "results.expiryDays")
	if err != nil {
		return nil, 0, err
	}
	statuses, err := config.Get(ctx, h.DB, "results.sendStatuses")
	if err != nil {
		return nil, 0, err
	}
	state, err := c.Local.ClientState(ctx)
	if err != nil {
		return nil, 0, err
	}
	state.Version, state.FreeDisk, state.Clock = version.Current, freeDisk(h.Dir), time.Now().UTC()
	st, err := c.Report(ctx)
	if err != nil {
		return nil, 0, err
	}
	state.Report = &st.Readiness
	if err := safefile.MkdirAll(out, 0o755); err != nil {
		return nil, 0, err
	}
	bundleID := bundle.NewID()
	ex, err := c.Local.BeginResultExport(ctx, bundleID, strings.Split(statuses, ","), resend)
	if err != nil {
		return nil, 0, err
	}
	// Over HTTP every pull carries the readiness report; on a stick, a
	// bundle of no execution still carries it to central.
	reportOnly := transport != "http"
	if ex.Count() == 0 && !reportOnly {
		return nil, 0, ErrNothingToSend
	}
	res, err := exporter.Results(ctx, ex, out, bundleID, exporter.ResultOptions{
		Client: id, ChunkRecords: chunkRecords, Expiry: time.Duration(days) * 24 * time.Hour,
		Signer: signer, AgeRecipient: keys.Age, Central: to, State: state, Now: time.Now(), Transport: transport,
		ReportOnly: reportOnly,
	})
	return res, ex.Count(), err
}

// freeDisk is the space left for an unprivileged user on the home's disk,
// or -1 if it cannot be read.
func freeDisk(dir string) int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return -1
	}
	return int64(st.Bavail) * int64(st.Bsize)
}
