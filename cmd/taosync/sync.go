package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/taosync/taosync/importer"
	"github.com/taosync/taosync/internal/client"
)

type syncOptions struct {
	types    []string
	full     bool
	insecure bool
}

func (a *app) syncCommand() *cobra.Command {
	var o syncOptions
	cmd := &cobra.Command{
		Use:   "sync data|results|all",
		Short: "Exchange bundles with central over HTTP",
		Example: "  taosync sync all    # data, then results, then receipts\n" +
			"  taosync sync data --full",
		Args: noArgs,
	}
	cmd.PersistentFlags().BoolVar(&o.insecure, "insecure-http", false, "allow plain HTTP to a host that is not loopback")
	a.waitFlag(cmd.PersistentFlags())
	data := &cobra.Command{
		Use:   "data [--type T]... [--full]",
		Short: "Pull the data bundle this client needs, and apply it",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runSync(cmd.Context(), o, true, false)
		},
	}
	data.Flags().StringSliceVar(&o.types, "type", nil, "only these types (repeatable)")
	data.Flags().BoolVar(&o.full, "full", false, "ask for a full snapshot")
	results := &cobra.Command{
		Use:   "results",
		Short: "Send the results to send, and apply central's receipts",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runSync(cmd.Context(), o, false, true)
		},
	}
	all := &cobra.Command{
		Use:   "all",
		Short: "Data, then results, then receipts",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runSync(cmd.Context(), o, true, true)
		},
	}
	cmd.AddCommand(data, results, all)
	return cmd
}

func (a *app) runSync(ctx context.Context, o syncOptions, data, results bool) error {
	types, err := parseTypes(o.types)
	if err != nil {
		return err
	}
	cl, err := a.openClient(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	unlock, err := a.lock(ctx, cl.Home, "sync")
	if err != nil {
		return err
	}
	defer unlock()
	// Downloads in part that no byte came to for gc.age go first: a
	// technician never runs housekeeping, but syncs on every exam day.
	gone, err := cl.RemoveStale(ctx, time.Now())
	for _, dir := range gone {
		fmt.Fprintf(a.stderr, "taosync: removed %s (nothing written to it for gc.age)\n", dir)
	}
	if err != nil {
		// Housekeeping that failed stops no sync: the leftovers wait.
		fmt.Fprintf(a.stderr, "taosync: warning: old downloads not removed: %v\n", err)
	}
	s, err := cl.NewSyncer(ctx, o.insecure)
	if err != nil {
		return err
	}
	pr := a.newProgress()
	defer pr.done()
	s.Progress, s.Retrying = pr.update, pr.retry
	var lines []importer.Line
	step := func(name string, fn func() ([]importer.Line, error)) error {
		l, err := fn()
		lines = append(lines, l...)
		if err != nil {
			return fmt.Errorf("sync %s: %w", name, err)
		}
		return nil
	}
	var failed error
	if data {
		failed = step("data", func() ([]importer.Line, error) { return s.Data(ctx, types, o.full) })
	}
	if results && failed == nil {
		failed = step("results", func() ([]importer.Line, error) { return s.Results(ctx) })
		if failed == nil {
			failed = step("receipts", func() ([]importer.Line, error) { return s.Receipts(ctx) })
		}
	}
	pr.done()
	var gave *client.GaveUpError
	if errors.As(failed, &gave) {
		failed = hinted{failed, fmt.Sprintf("what came is kept (downloads in part in %s, results not acknowledged in %s): the next sync resumes from there",
			cl.Home.Path(client.IncomingDir), cl.Home.Path(client.OutgoingDir))}
	}
	if err := reportImport(a, "", lines, lines); err != nil {
		return errors.Join(err, failed)
	}
	if failed == nil && len(lines) == 0 && !a.json {
		fmt.Fprintln(a.stdout, "up to date: nothing to exchange")
	}
	return failed
}
