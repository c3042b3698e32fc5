package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/taosync/taosync/importer"
	"github.com/taosync/taosync/internal/central"
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
		Example: "  taosync import --dry-run /media/usb   # what would change; nothing changes\n" +
			"  taosync import /media/usb",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runImport(cmd.Context(), o, args[0])
		},
	}
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "show what would change, and change nothing")
	cmd.Flags().BoolVar(&o.noReceipts, "no-receipts", false, "central: do not write receipt bundles into DIR")
	a.waitFlag(cmd.Flags())
	return cmd
}

func (a *app) runImport(ctx context.Context, o importOptions, dir string) error {
	// The home is opened once, whatever its role: each open and close of
	// the database costs an import of a small delta a noticeable share of
	// its time.
	r, err := a.openRole(ctx, "")
	if err != nil {
		return err
	}
	defer r.home.Close()
	if !o.dryRun {
		unlock, err := a.lock(ctx, r.home, "import")
		if err != nil {
			return err
		}
		defer unlock()
	}
	pr := a.newProgress()
	defer pr.done()
	if r.central != nil {
		return a.importResults(ctx, r.central, dir, o, pr)
	}
	cl := r.client
	opts, err := cl.Options(ctx, "folder")
	if err != nil {
		return err
	}
	opts.DryRun = o.dryRun
	if pr != nil {
		opts.Progress = pr.update
	}
	lines, err := cl.Import(ctx, dir, opts)
	pr.done()
	if err != nil {
		return stoppedImport(a, lines, lines, err)
	}
	return reportImport(a, dir, lines, lines)
}

// importResults imports result bundles on central, and writes the receipt
// bundles answering them beside them: into dir, or its parent when dir is
// itself a bundle, so that the stick carries them home.
func (a *app) importResults(ctx context.Context, cc *central.Central, dir string, o importOptions, pr *progress) error {
	opts, err := cc.Home.ImportOptions(ctx, "folder", a.log)
	if err != nil {
		return err
	}
	opts.DryRun = o.dryRun
	if pr != nil {
		opts.Progress = pr.update
	}
	receipts := dir
	if _, err := os.Stat(filepath.Join(dir, manifest.FileName)); err == nil {
		receipts = filepath.Dir(dir)
	}
	if o.noReceipts {
		receipts = ""
	}
	lines, written, err := cc.ImportResults(ctx, dir, opts, receipts)
	pr.done()
	plain := make([]importer.Line, len(lines))
	for i, l := range lines {
		plain[i] = l.Line
		if d := written[l.BundleID]; d != "" {
			writeLines(a.stderr, orBeneath("receipts for "+filepath.Base(l.Bundle)+":", d))
		}
	}
	if err != nil {
		return stoppedImport(a, plain, lines, err)
	}
	return reportImport(a, dir, plain, lines)
}

// stoppedImport prints the lines of the bundles an import went through
// before err stopped it (a disk that failed), and returns err.
func stoppedImport[T any](a *app, lines []importer.Line, asJSON []T, err error) error {
	if len(lines) > 0 {
		printLines(a, lines, asJSON) // err says more than a failed print
	}
	return err
}

// printLines prints one line per bundle (asJSON in JSON form).
func printLines[T any](a *app, lines []importer.Line, asJSON []T) error {
	p := a.printer()
	if p.json {
		return table(p, asJSON, nil, nil)
	}
	printImport(p.w, lines)
	return nil
}

// reportImport prints one line per bundle (asJSON in JSON form), and fails
// if any bundle meant for this home was refused.
func reportImport[T any](a *app, dir string, lines []importer.Line, asJSON []T) error {
	if err := printLines(a, lines, asJSON); err != nil {
		return err
	}
	if len(lines) == 0 && dir != "" {
		return refused(fmt.Errorf("no bundles in %s", dir))
	}
	failed, ours := 0, 0
	for _, l := range lines {
		switch {
		case l.Outcome == importer.Refused:
			failed++
			ours++
		case l.Outcome == importer.Applied, l.Outcome == importer.WouldApply,
			l.Outcome == importer.Skipped && l.BundleID != "":
			ours++
		}
	}
	if ours == 0 && dir != "" {
		// The wrong stick, or one whose bundles were all cut short: the
		// technician must hear that nothing was taken in.
		return refused(fmt.Errorf("none of the %d bundles in %s is for this home", len(lines), dir))
	}
	if failed > 0 {
		where := "in " + dir
		if dir == "" {
			where = "exchanged"
		}
		return refused(fmt.Errorf("%d of %d bundles %s were refused", failed, len(lines), where))
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
			fmt.Fprintf(w, "%-12s %s (%s seq %d)\n", l.Outcome, l.Bundle, kind, l.Seq)
			writeLines(w, wrapClauses(shortCounts(l.Counts), "  ", "  ", width))
		case importer.Refused:
			fmt.Fprintf(w, "%-12s %s\n", l.Outcome, l.Reason)
		default:
			writeLines(w, orBeneath(fmt.Sprintf("%-12s %s:", l.Outcome, l.Bundle), l.Reason))
		}
	}
}
