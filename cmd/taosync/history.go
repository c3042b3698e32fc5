package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/internal/home"
	"github.com/taosync/taosync/internal/human"
	"github.com/taosync/taosync/internal/store"
)

type historyOptions struct {
	client string
	since  string
}

func (a *app) historyCommand() *cobra.Command {
	var o historyOptions
	cmd := &cobra.Command{
		Use:   "history [--client ID] [--since WHEN]",
		Short: "List every exchange: bundles in and out, with counts and outcome",
		Example: "  taosync history --since 24h\n" +
			"  taosync history --client lyon-3 --since 2027-05-01   # on central",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runHistory(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.client, "client", "", "central: only the exchanges with this client")
	cmd.Flags().StringVar(&o.since, "since", "", "only the exchanges since WHEN: a time (RFC 3339), a date (2027-05-01) or a duration back from now (90m, 24h, 7d)")
	cmd.RegisterFlagCompletionFunc("client", a.completeClients)
	return cmd
}

func (a *app) runHistory(ctx context.Context, o historyOptions) error {
	since, err := parseSince(o.since, time.Now())
	if err != nil {
		return usageError{fmt.Errorf("--since: %w", err)}
	}
	h, err := a.open(ctx, "")
	if err != nil {
		return err
	}
	defer h.Close()
	if o.client != "" && h.Role != home.RoleCentral {
		return usageError{errors.New("--client is for central's history: a client's only peer is central")}
	}
	entries, err := store.History(ctx, h.DB, store.HistoryFilter{Peer: o.client, Since: since})
	if err != nil {
		return err
	}
	return detailTable(a.printer(), entries,
		[]string{"WHEN", "DIR", "VIA", "PEER", "KIND", "SEQ", "SIZE", "OUTCOME"},
		func(e taosync.HistoryEntry) []any {
			kind := e.Kind
			// A refused request of a client names no bundle.
			if e.Kind == "data" && e.BundleID != "" {
				kind += map[bool]string{true: " full", false: " delta"}[e.Full]
			}
			return []any{e.At.Local().Format(time.DateTime), e.Direction, e.Transport, e.Peer, kind, e.Seq,
				human.Bytes(e.Bytes), e.Outcome}
		},
		func(e taosync.HistoryEntry) []string {
			var lines []string
			if e.Outcome == taosync.OutcomeOK {
				lines = wrap(shortCounts(e.Counts), "    ", 80)
			}
			if e.Error != "" {
				lines = append(lines, wrap("error: "+e.Error, "    ", 80)...)
			}
			return lines
		}, 3)
}

// parseSince reads --since: an RFC 3339 time, a date (midnight, local
// time), or a duration back from now, in Go's form or in days ("7d").
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, s, time.Local); err == nil {
		return t, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 {
			return now.AddDate(0, 0, -n), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time (2027-05-01T09:00:00Z), a date (2027-05-01) or a duration (90m, 24h, 7d)", s)
}

// shortCounts shows per type counts for people: only what changed,
// "test-taker +150 ~2 -1", or "no changes".
func shortCounts(c map[string]taosync.Counts) string {
	return joinCounts(c, func(n taosync.Counts) string {
		var s string
		for _, x := range []struct {
			sign string
			n    int64
		}{{"+", n.Created}, {"~", n.Updated}, {"-", n.Deleted}} {
			if x.n != 0 {
				s += fmt.Sprintf(" %s%d", x.sign, x.n)
			}
		}
		return s
	})
}

// joinCounts joins "TYPE" + format(counts) for each type with a change, in
// order of type, or says "no changes".
func joinCounts(c map[string]taosync.Counts, format func(taosync.Counts) string) string {
	var parts []string
	for _, t := range slices.Sorted(maps.Keys(c)) {
		if n := c[t]; n != (taosync.Counts{}) {
			parts = append(parts, t+format(n))
		}
	}
	if len(parts) == 0 {
		return "no changes"
	}
	return strings.Join(parts, ", ")
}
