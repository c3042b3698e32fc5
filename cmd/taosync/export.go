package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/internal/central"
	"github.com/taosync/taosync/internal/human"
	"github.com/taosync/taosync/internal/version"
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
	all    bool
	out    string
	types  []string
	full   bool
}

func (a *app) exportDataCommand() *cobra.Command {
	var o exportDataOptions
	cmd := &cobra.Command{
		Use:   "data --client ID|--all --out DIR [--type T]... [--full]",
		Short: "Write a data bundle for one client, or for each (a delta on its last bundle, or a full snapshot)",
		Example: "  taosync export data --client lyon-3 --out /media/usb\n" +
			"  taosync export data --all --out /srv/exam-week\n" +
			"  # a folder per client, /srv/exam-week/CLIENT; run it again to resume",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runExportData(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.client, "client", "", "the client's id (this or --all)")
	cmd.Flags().BoolVar(&o.all, "all", false, "every client that is not revoked, each into DIR/CLIENT; a client whose bundle there is current is skipped")
	cmd.Flags().StringVar(&o.out, "out", "", "the folder to write the bundle into (required)")
	cmd.Flags().StringSliceVar(&o.types, "type", nil, "only these types (repeatable)")
	cmd.Flags().BoolVar(&o.full, "full", false, "a full snapshot, whatever the client's state")
	cmd.RegisterFlagCompletionFunc("client", a.completeClients)
	cmd.RegisterFlagCompletionFunc("type", func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return completeTypes()
	})
	a.waitFlag(cmd.Flags())
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
	if (o.client == "") == !o.all || o.out == "" {
		return usageError{errors.New("--client ID or --all, and --out, are required")}
	}
	types, err := parseTypes(o.types)
	if err != nil {
		return err
	}
	cc, err := a.openCentral(ctx)
	if err != nil {
		return err
	}
	defer cc.Close()
	unlock, err := a.lock(ctx, cc.Home, "export data")
	if err != nil {
		return err
	}
	defer unlock()
	if o.all {
		return a.exportAll(ctx, cc, o.out, central.ExportOptions{Types: types, Full: o.full})
	}
	res, err := cc.ExportData(ctx, o.client, o.out, central.ExportOptions{Types: types, Full: o.full, Transport: "folder"})
	if err != nil {
		return err
	}
	// The stick road has no gate: the operator is warned instead.
	have, min, err := cc.OutOfDate(ctx, o.client)
	if err != nil {
		return err
	}
	if have != "" {
		fmt.Fprintf(a.stderr, "taosync: warning: client %s last reported taosync %s, %s (clients.minVersion): install taosync %s or later on that centre\n",
			o.client, have, version.Shortfall(have, min), min)
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
	}{res.Dir, m.ID, o.client, m.Seq, m.Full(), res.Counts, m.Chunks(), res.Bytes()}
	return a.printer().object(out, func(w io.Writer) {
		kind := "delta"
		if out.Full {
			kind = "full snapshot"
		}
		fmt.Fprintf(w, "wrote %s (data %s seq %d)\n", out.Bundle, kind, out.Seq)
		writeLines(w, wrapClauses(fmt.Sprintf("for client %s, %s, %s, %s", o.client, plural(int64(out.Chunks), "chunk"),
			human.Bytes(out.Bytes), shortCounts(out.Counts)), "  ", "  ", width))
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
	a.waitFlag(cmd.Flags())
	return cmd
}

func (a *app) runExportResults(ctx context.Context, o exportResultsOptions) error {
	if o.out == "" {
		return usageError{errors.New("--out is required")}
	}
	cl, err := a.openClient(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	unlock, err := a.lock(ctx, cl.Home, "export results")
	if err != nil {
		return err
	}
	defer unlock()
	res, n, err := cl.ExportResults(ctx, o.out, o.resend, "folder")
	if err != nil {
		return err
	}
	out := map[string]any{"bundle": res.Dir, "bundle_id": res.Manifest.ID, "seq": res.Manifest.Seq,
		"executions": n, "bytes": res.Bytes()}
	return a.printer().object(out, func(w io.Writer) {
		what := plural(int64(n), "execution")
		if n == 0 {
			what = "no results, the readiness report only"
		}
		writeLines(w, wrapClauses(fmt.Sprintf("wrote %s: %s, results seq %d, %s", res.Dir, what, res.Manifest.Seq, human.Bytes(res.Bytes())), "", "  ", width))
	})
}
