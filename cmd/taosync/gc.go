package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/taosync/taosync/internal/central"
	"github.com/taosync/taosync/internal/config"
	"github.com/taosync/taosync/internal/human"
)

type gcOptions struct {
	dryRun bool
}

func (a *app) gcCommand() *cobra.Command {
	var o gcOptions
	cmd := &cobra.Command{
		Use:   "gc [--dry-run]",
		Short: "Remove the leftovers of central's blobs older than gc.age: prepared bundles no client needs, abandoned uploads, .partial folders",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runGC(cmd.Context(), o)
		},
	}
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "print what would be removed, and remove nothing")
	return cmd
}

func (a *app) runGC(ctx context.Context, o gcOptions) error {
	cc, err := a.openCentral(ctx)
	if err != nil {
		return err
	}
	defer cc.Close()
	age, err := config.Duration(ctx, cc.Home.DB, "gc.age")
	if err != nil {
		return err
	}
	rep, err := cc.GC(ctx, central.GCOptions{Age: age, DryRun: o.dryRun, Holder: central.Holder("central gc")})
	var held *central.LeaseHeldError
	if errors.As(err, &held) {
		return hinted{err, "a serve replica is sweeping (it gives the lease back when done, or it expires): run gc again in a few minutes"}
	}
	if err != nil {
		return err
	}
	verb := "removed"
	if o.dryRun {
		verb = "would remove"
	}
	return a.printer().object(rep, func(w io.Writer) {
		for _, f := range rep.Removed {
			fmt.Fprintf(w, "%s %s\n", verb, f)
		}
		fmt.Fprintf(w, "%s %s (%s), %s (%s), %s (%s) no file was written to for %s\n", verb,
			plural(int64(rep.Prepared.Count), "prepared bundle"), human.Bytes(rep.Prepared.Bytes),
			plural(int64(rep.Uploads.Count), "upload"), human.Bytes(rep.Uploads.Bytes),
			plural(int64(rep.Partial.Count), ".partial folder"), human.Bytes(rep.Partial.Bytes), age)
	})
}
