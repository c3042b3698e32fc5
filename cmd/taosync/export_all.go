package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/taosync/taosync/internal/central"
	"github.com/taosync/taosync/internal/human"
)

// exportAllReport is the JSON form of `export data --all`.
type exportAllReport struct {
	Written int                    `json:"written"`
	Current int                    `json:"current"`
	Revoked int                    `json:"revoked"`
	Failed  int                    `json:"failed"`
	Clients []central.ClientExport `json:"clients"`
}

// exportAll writes each client's data bundle into out/CLIENT, with a line
// counting the clients on a terminal, then one line per client and a
// summary. It fails (exit 1) if one client failed, after the others.
func (a *app) exportAll(ctx context.Context, cc *central.Central, out string, o central.ExportOptions) error {
	counter := a.newCounter()
	all, err := cc.ExportAll(ctx, out, o, func(e central.ClientExport, n, of int) {
		counter.show(false, func(elapsed time.Duration) string {
			return fmt.Sprintf("export data --all: %d/%d clients (%d%%), last %s", n, of, n*100/of, e.Client)
		})
	})
	counter.done()
	if err != nil {
		return fmt.Errorf("export data --all, stopped after %s: %w", plural(int64(len(all)), "client"), err)
	}
	r := exportAllReport{Clients: all}
	var failed []string
	for _, e := range all {
		switch e.Outcome {
		case central.ExportWritten:
			r.Written++
		case central.ExportCurrent:
			r.Current++
		case central.ExportRevoked:
			r.Revoked++
		case central.ExportFailed:
			r.Failed++
			failed = append(failed, e.Client)
		}
	}
	if r.Clients == nil {
		r.Clients = []central.ClientExport{}
	}
	err = a.printer().object(r, func(w io.Writer) {
		for _, e := range all {
			writeClientExport(w, e)
		}
		summary := fmt.Sprintf("export data --all: %d written, %d current, %d revoked skipped, %d failed",
			r.Written, r.Current, r.Revoked, r.Failed)
		if len(failed) > 0 {
			summary += ": " + strings.Join(failed, ", ")
		}
		fmt.Fprintln(w, summary)
	})
	if err != nil {
		return err
	}
	if len(failed) > 0 {
		return fmt.Errorf("export data --all: %s of %d failed: %s", plural(int64(len(failed)), "client"), len(all), strings.Join(failed, ", "))
	}
	return nil
}

// writeClientExport says what export data --all did for one client.
func writeClientExport(w io.Writer, e central.ClientExport) {
	switch e.Outcome {
	case central.ExportWritten:
		kind := "delta"
		if e.Full {
			kind = "full snapshot"
		}
		fmt.Fprintf(w, "wrote   %s: data %s seq %d, %s, %s\n", e.Bundle, kind, e.Seq, plural(int64(e.Chunks), "chunk"), human.Bytes(e.Bytes))
	case central.ExportCurrent:
		fmt.Fprintf(w, "current %s: nothing new since\n", e.Bundle)
	case central.ExportRevoked:
		fmt.Fprintf(w, "skipped client %s: revoked %s\n", e.Client, toSecond(e.RevokedAt))
	case central.ExportFailed:
		fmt.Fprintf(w, "failed  client %s: %s\n", e.Client, e.Error)
	}
}
