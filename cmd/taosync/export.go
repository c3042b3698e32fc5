package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/bundle"
	"github.com/taosync/taosync/exporter"
	"github.com/taosync/taosync/internal/config"
)

func (a *app) exportCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "export data|results",
		Short: "Write a bundle into a folder (a USB stick)",
		Args:  noArgs,
	}
	cmd.AddCommand(a.exportDataCommand(), a.exportResultsCommand())
	return cmd
}

type exportDataOptions struct {
	client string
	out    string
	types  []string
	full   bool
}

func (a *app) exportDataCommand() *cobra.Command {
	var o exportDataOptions
	cmd := &cobra.Command{
		Use:   "data --client ID --out DIR [--type T]... [--full]",
		Short: "Write a data bundle for one client (a delta on its last bundle, or a full snapshot)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runExportData(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.client, "client", "", "the client's id (required)")
	cmd.Flags().StringVar(&o.out, "out", "", "the folder to write the bundle into (required)")
	cmd.Flags().StringSliceVar(&o.types, "type", nil, "only these types (repeatable)")
	cmd.Flags().BoolVar(&o.full, "full", false, "a full snapshot, whatever the client's state")
	return cmd
}

func parseTypes(names []string) ([]taosync.Type, error) {
	var out []taosync.Type
	for _, n := range names {
		t, err := taosync.ParseType(n)
		if err != nil {
			return nil, usageError{fmt.Errorf("--type: %w", err)}
		}
		out = append(out, t)
	}
	return out, nil
}

func (a *app) runExportData(ctx context.Context, o exportDataOptions) error {
	if o.client == "" || o.out == "" {
		return usageError{errors.New("--client and --out are required")}
	}
	types, err := parseTypes(o.types)
	if err != nil {
		return err
	}
	h, c, err := a.openCentral(ctx)
	if err != nil {
		return err
	}
	defer h.Close()
	signer, err := h.Signer()
	if err != nil {
		return err
	}
	keys, err := h.PublicKeys()
	if err != nil {
		return err
	}
	chunkRecords, err := config.Int(ctx, h.DB, "sync.chunkSize")
	if err != nil {
		return err
	}
	days, err := config.Int(ctx, h.DB, "sync.expiryDays")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	res, err := exporter.Data(ctx, c, o.out, exporter.DataOptions{
		Client: o.client, Types: types, Full: o.full, ChunkRecords: chunkRecords,
		Expiry: time.Duration(days) * 24 * time.Hour, Signer: signer, AgeRecipient: keys.Age,
		Now: time.Now(), Log: a.log,
	})
	if err != nil {
		return err
	}
	m := res.Manifest
	out := struct {
		Bundle   string                    `json:"bundle"`
		BundleID string                    `json:"bundle_id"`
		Client   string                    `json:"client"`
		Seq      uint64                    `json:"seq"`
		Full     bool                      `json:"full"`
		Counts   map[string]taosync.Counts `json:"counts"`
		Chunks   int                       `json:"chunks"`
		Bytes    int64                     `json:"bytes"`
	}{res.Dir, m.ID, o.client, m.Seq, m.Full(), res.Counts, m.Chunks(), m.StoredBytes()}
	return a.printer().object(out, func(w io.Writer) {
		kind := "delta"
		if out.Full {
			kind = "full snapshot"
		}
		fmt.Fprintf(w, "wrote %s: data %s seq %d for client %s, %d chunks, %d bytes\n", out.Bundle, kind, out.Seq, o.client, out.Chunks, out.Bytes)
		fmt.Fprintf(w, "  %s\n", formatCounts(out.Counts))
	})
}

type exportResultsOptions struct {
	out    string
	resend bool
}

func (a *app) exportResultsCommand() *cobra.Command {
	var o exportResultsOptions
	cmd := &cobra.Command{
		Use:   "results --out DIR [--resend]",
		Short: "Write a result bundle of the finished executions not yet sent, for central",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runExportResults(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.out, "out", "", "the folder to write the bundle into (required)")
	cmd.Flags().BoolVar(&o.resend, "resend", false, "also the executions sent but not yet acknowledged")
	return cmd
}

func (a *app) runExportResults(ctx context.Context, o exportResultsOptions) error {
	if o.out == "" {
		return usageError{errors.New("--out is required")}
	}
	h, local, err := a.openClient(ctx)
	if err != nil {
		return err
	}
	defer h.Close()
	client, err := h.ClientID(ctx)
	if err != nil {
		return err
	}
	central, err := h.Central(ctx)
	if err != nil {
		return err
	}
	signer, err := h.Signer()
	if err != nil {
		return err
	}
	keys, err := h.PublicKeys()
	if err != nil {
		return err
	}
	chunkRecords, err := config.Int(ctx, h.DB, "results.chunkSize")
	if err != nil {
		return err
	}
	days, err := config.Int(ctx, h.DB, "results.expiryDays")
	if err != nil {
		return err
	}
	statuses, err := config.Get(ctx, h.DB, "results.sendStatuses")
	if err != nil {
		return err
	}
	state, err := local.ClientState(ctx)
	if err != nil {
		return err
	}
	state.Version, state.FreeDisk, state.Clock = version, freeDisk(h.Dir), time.Now().UTC()
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	id := bundle.NewID()
	ex, err := local.BeginResultExport(ctx, id, strings.Split(statuses, ","), o.resend)
	if err != nil {
		return err
	}
	p := a.printer()
	if ex.Count() == 0 {
		return p.object(map[string]any{"bundle": "", "executions": 0}, func(w io.Writer) {
			fmt.Fprintln(w, "no results to send")
		})
	}
	res, err := exporter.Results(ctx, ex, o.out, id, exporter.ResultOptions{
		Client: client, ChunkRecords: chunkRecords, Expiry: time.Duration(days) * 24 * time.Hour,
		Signer: signer, AgeRecipient: keys.Age, Central: central, State: state, Now: time.Now(),
	})
	if err != nil {
		return err
	}
	out := map[string]any{"bundle": res.Dir, "bundle_id": res.Manifest.ID, "seq": res.Manifest.Seq,
		"executions": ex.Count(), "bytes": res.Bytes()}
	return p.object(out, func(w io.Writer) {
		fmt.Fprintf(w, "wrote %s: %d executions, results seq %d, %d bytes\n", res.Dir, ex.Count(), res.Manifest.Seq, res.Bytes())
	})
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
