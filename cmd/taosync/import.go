package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/taosync/taosync"

	"github.com/taosync/taosync/exporter"
	"github.com/taosync/taosync/importer"
	"github.com/taosync/taosync/internal/config"
	"github.com/taosync/taosync/internal/home"
	"github.com/taosync/taosync/internal/store"
	"github.com/taosync/taosync/manifest"
)

type importOptions struct {
	dryRun     bool
	noReceipts bool
}

func (a *app) importCommand() *cobra.Command {
	var o importOptions
	cmd := &cobra.Command{
		Use:   "import DIR",
		Short: "Verify and apply every bundle in DIR meant for this home, in order",
		Long: `Verify and apply every bundle in DIR meant for this home, in order.

On a client: data bundles and receipt bundles from central. On central: result
bundles from clients; for each, a receipt bundle is written into DIR beside
it (unless --no-receipts), so that the stick carries the receipts home.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runImport(cmd.Context(), o, args[0])
		},
	}
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "show what would change, and change nothing")
	cmd.Flags().BoolVar(&o.noReceipts, "no-receipts", false, "central: do not write receipt bundles into DIR")
	return cmd
}

func (a *app) runImport(ctx context.Context, o importOptions, dir string) error {
	h, err := a.open(ctx, "")
	if err != nil {
		return err
	}
	defer h.Close()
	trust, err := h.Trust(ctx, time.Now())
	if err != nil {
		return err
	}
	id, err := h.Identity()
	if err != nil {
		return err
	}
	pr := a.newProgress()
	opts := importer.Options{Trust: trust, Identity: id, DryRun: o.dryRun, Transport: "folder", Log: a.log}
	if pr != nil {
		opts.Progress = pr.update
	}
	if h.Role == home.Central {
		return a.importResults(ctx, h, dir, o, opts)
	}
	if trust.Self.Client == "" {
		return hinted{fmt.Errorf("this client has no credentials yet, so it trusts no central"),
			"run the taosync credentials import command that central printed for this client"}
	}
	h.Close()
	h, local, err := a.openClient(ctx)
	if err != nil {
		return err
	}
	defer h.Close()
	lines, err := importer.Data(ctx, dir, local, opts)
	pr.done()
	if err != nil {
		return err
	}
	if err := a.recordRefusals(ctx, h, lines, o.dryRun); err != nil {
		return err
	}
	return reportImport(a, dir, lines, lines)
}

// importResults imports result bundles on central and writes the receipt
// bundles answering them into dir.
func (a *app) importResults(ctx context.Context, h *home.Home, dir string, o importOptions, opts importer.Options) error {
	c := &store.Central{DB: h.DB}
	lines, err := importer.Results(ctx, dir, c, opts)
	if err != nil {
		return err
	}
	plain := make([]importer.Line, len(lines))
	for i, l := range lines {
		plain[i] = l.Line
	}
	if err := a.recordRefusals(ctx, h, plain, o.dryRun); err != nil {
		return err
	}
	if !o.dryRun && !o.noReceipts {
		for _, l := range lines {
			if l.Batch == 0 {
				continue
			}
			written, err := a.writeReceipts(ctx, h, c, dir, l.Client, l.Batch)
			if err != nil {
				return fmt.Errorf("write receipts for %s: %w", l.Bundle, err)
			}
			if written != "" {
				fmt.Fprintf(a.stderr, "wrote receipts for %s: %s\n", filepath.Base(l.Bundle), written)
			}
		}
	}
	return reportImport(a, dir, plain, lines)
}

// writeReceipts writes the receipt bundle of one batch into dir, unless one
// for that batch is already there (a result bundle imported twice is
// answered by the same receipts).
func (a *app) writeReceipts(ctx context.Context, h *home.Home, c *store.Central, dir, client string, batch uint64) (string, error) {
	existing, _ := filepath.Glob(filepath.Join(dir, fmt.Sprintf("receipts-%s-%06d-*", client, batch), manifest.FileName))
	if len(existing) > 0 {
		return "", nil
	}
	signer, err := h.Signer()
	if err != nil {
		return "", err
	}
	keys, err := h.PublicKeys()
	if err != nil {
		return "", err
	}
	days, err := config.Int(ctx, h.DB, "sync.expiryDays")
	if err != nil {
		return "", err
	}
	res, err := exporter.Receipts(ctx, c, dir, exporter.ReceiptOptions{Client: client, Batch: batch,
		Expiry: time.Duration(days) * 24 * time.Hour, Signer: signer, AgeRecipient: keys.Age, Now: time.Now()})
	if err != nil {
		return "", err
	}
	m := res.Manifest
	n := m.Section(exporter.ReceiptsSection).Records
	err = store.AddHistory(ctx, h.DB, taosync.HistoryEntry{Direction: "out", Transport: "folder", Peer: client,
		BundleID: m.ID, Bundle: filepath.Base(res.Dir), Kind: string(m.Kind), Stream: m.Stream, Seq: m.Seq,
		Counts: map[string]taosync.Counts{exporter.ReceiptsSection: {Created: n}}, Bytes: res.Bytes(), Outcome: taosync.OutcomeOK})
	return res.Dir, err
}

// recordRefusals adds a history row for each refused bundle.
func (a *app) recordRefusals(ctx context.Context, h *home.Home, lines []importer.Line, dryRun bool) error {
	if dryRun {
		return nil
	}
	for _, l := range lines {
		if l.Outcome != importer.Refused {
			continue
		}
		e := taosync.HistoryEntry{Direction: "in", Transport: "folder", BundleID: l.BundleID,
			Bundle: filepath.Base(l.Bundle), Kind: l.Kind, Seq: l.Seq, Full: l.Full, Bytes: l.Bytes,
			Outcome: taosync.OutcomeRefused, Error: l.Reason}
		if err := store.AddHistory(ctx, h.DB, e); err != nil {
			return err
		}
	}
	return nil
}

// reportImport prints one line per bundle (asJSON in JSON form), and fails
// if any bundle meant for this home was refused.
func reportImport[T any](a *app, dir string, lines []importer.Line, asJSON []T) error {
	p := a.printer()
	if p.json {
		if err := table(p, asJSON, nil, nil); err != nil {
			return err
		}
	} else {
		printImport(p.w, lines)
	}
	if len(lines) == 0 {
		return refused(fmt.Errorf("no bundles in %s", dir))
	}
	failed := 0
	for _, l := range lines {
		if l.Outcome == importer.Refused {
			failed++
		}
	}
	if failed > 0 {
		return refused(fmt.Errorf("%d of %d bundles in %s were refused", failed, len(lines), dir))
	}
	return nil
}

func printImport(w io.Writer, lines []importer.Line) {
	for _, l := range lines {
		switch l.Outcome {
		case importer.Applied, importer.WouldApply:
			kind := l.Kind
			if l.Kind == "data" {
				kind += map[bool]string{true: " full", false: " delta"}[l.Full]
			}
			fmt.Fprintf(w, "%-12s %s (%s seq %d): %s\n", l.Outcome, l.Bundle, kind, l.Seq, formatCounts(l.Counts))
		case importer.Refused:
			fmt.Fprintf(w, "%-12s %s\n", l.Outcome, l.Reason)
		default:
			fmt.Fprintf(w, "%-12s %s: %s\n", l.Outcome, l.Bundle, l.Reason)
		}
	}
}
