package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/internal/central"
	"github.com/taosync/taosync/internal/client"
	"github.com/taosync/taosync/internal/store"
)

func (a *app) statusCommand() *cobra.Command {
	var o statusOptions
	cmd := &cobra.Command{
		Use:   "status [--client ID] [--since WHEN]",
		Short: "Client: what it holds, its readiness, what is pending; central: per client state, lag, missing result bundles",
		Example: "  taosync status                  # on a centre's box: ready for exam day?\n" +
			"  taosync status --client lyon-3  # on central: one centre\n" +
			"  taosync status --since 24h      # on central: the centres silent for a day",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runStatus(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.client, "client", "", "central: only this client")
	cmd.Flags().StringVar(&o.since, "since", "", "central: only the clients not heard from since WHEN: a time (RFC 3339), a date (2027-05-01) or a duration back from now (90m, 24h, 7d)")
	cmd.RegisterFlagCompletionFunc("client", a.completeClients)
	return cmd
}

func (a *app) runStatus(ctx context.Context, o statusOptions) error {
	r, err := a.openRole(ctx, "")
	if err != nil {
		return err
	}
	defer r.home.Close()
	if r.central != nil {
		return a.centralStatus(ctx, r.central, o)
	}
	if o.client != "" || o.since != "" {
		return usageError{errors.New("--client and --since are for central's status: a client's is its own")}
	}
	return a.clientStatus(ctx, r.client)
}

func (a *app) centralStatus(ctx context.Context, cc *central.Central, o statusOptions) error {
	since, err := parseSince(o.since, time.Now())
	if err != nil {
		return usageError{fmt.Errorf("--since: %w", err)}
	}
	clients, min, err := cc.SelectStatus(ctx, central.StatusFilter{Client: o.client, Since: since})
	if err != nil {
		return err
	}
	report := struct {
		Role    string               `json:"role"`
		Clients []store.ClientStatus `json:"clients"`
	}{"central", clients}
	return a.printer().object(report, func(w io.Writer) {
		if len(clients) == 0 {
			fmt.Fprintln(w, noClientsLine(o))
		}
		for _, s := range clients {
			writeClientStatus(w, s, min)
		}
	})
}

func countsLine(m map[string]int64) string {
	var parts []string
	for _, t := range taosync.Types {
		parts = append(parts, fmt.Sprintf("%s %d", t, m[string(t)]))
	}
	return strings.Join(parts, ", ")
}

func (a *app) clientStatus(ctx context.Context, cl *client.Client) error {
	st, err := cl.Status(ctx)
	if err != nil {
		return err
	}
	report := struct {
		Role string `json:"role"`
		client.Status
	}{"client", st}
	return a.printer().object(report, func(w io.Writer) {
		fmt.Fprintf(w, "client %s (org %s), data seq %d\n", orDash(st.Client), orDash(st.Org), st.DataSeq)
		writeLines(w, wrapClauses(countsLine(st.Entities), "holds:   ", "         ", width))
		for _, d := range st.Deliveries {
			window := "no window"
			switch {
			case d.Ended:
				window = "window ended " + d.WindowEnd
			case d.WindowStart != "" || d.WindowEnd != "":
				window = fmt.Sprintf("window %s to %s", orDash(d.WindowStart), orDash(d.WindowEnd))
			}
			writeLines(w, wrapClauses(fmt.Sprintf("delivery %s %q: package %s, %s", d.ID, d.Label, d.Package, window), "", "         ", width))
		}
		// Queued executions the send setting keeps, or that are not
		// finished, are said as such: they are not on their way.
		shown := map[string]int64{}
		for s, n := range st.Results {
			shown[s] = n
		}
		shown[store.Queued] -= st.Kept + st.InProgress
		shown["kept (terminated)"] = st.Kept
		shown["in progress"] = st.InProgress
		var states []string
		for s, n := range shown {
			if n > 0 {
				states = append(states, fmt.Sprintf("%s %d", s, n))
			}
		}
		sort.Strings(states)
		fmt.Fprintf(w, "results: %s\n", orDash(strings.Join(states, ", ")))
		fmt.Fprintln(w, readyLine(st))
		for _, p := range st.Problems {
			writeLines(w, bullet(p))
		}
	})
}
