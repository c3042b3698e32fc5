package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/internal/store"
)

func (a *app) historyCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "history",
		Short: "List every exchange: bundles in and out, with counts and outcome",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runHistory(cmd.Context())
		},
	}
}

func (a *app) runHistory(ctx context.Context) error {
	h, err := a.open(ctx, "")
	if err != nil {
		return err
	}
	defer h.Close()
	entries, err := store.History(ctx, h.DB)
	if err != nil {
		return err
	}
	return table(a.printer(), entries,
		[]string{"WHEN", "DIR", "VIA", "PEER", "KIND", "SEQ", "COUNTS", "BYTES", "OUTCOME", "ERROR"},
		func(e taosync.HistoryEntry) []any {
			kind := e.Kind
			// A refused request of a client names no bundle.
			if e.Kind == "data" && e.BundleID != "" {
				kind += map[bool]string{true: " full", false: " delta"}[e.Full]
			}
			return []any{e.At.Local().Format(time.DateTime), e.Direction, e.Transport, e.Peer, kind, e.Seq,
				formatCounts(e.Counts), e.Bytes, e.Outcome, e.Error}
		})
}

// formatCounts shows per type counts as "test-taker +3 ~1 -2".
func formatCounts(c map[string]taosync.Counts) string {
	var types []string
	for t := range c {
		types = append(types, t)
	}
	sort.Strings(types)
	var parts []string
	for _, t := range types {
		n := c[t]
		if n == (taosync.Counts{}) {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s +%d ~%d -%d", t, n.Created, n.Updated, n.Deleted))
	}
	if len(parts) == 0 {
		return "no changes"
	}
	return strings.Join(parts, ", ")
}
