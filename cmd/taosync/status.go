package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/internal/client"
	"github.com/taosync/taosync/internal/home"
	"github.com/taosync/taosync/internal/store"
)

func (a *app) statusCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Client: what it holds, its readiness, what is pending; central: per client state, lag, missing result bundles",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runStatus(cmd.Context())
		},
	}
}

func (a *app) runStatus(ctx context.Context) error {
	h, err := a.open(ctx, "")
	if err != nil {
		return err
	}
	role := h.Role
	h.Close()
	if role == home.Central {
		return a.centralStatus(ctx)
	}
	return a.clientStatus(ctx)
}

func (a *app) centralStatus(ctx context.Context) error {
	cc, err := a.openCentral(ctx)
	if err != nil {
		return err
	}
	defer cc.Close()
	clients, min, err := cc.Status(ctx)
	if err != nil {
		return err
	}
	report := struct {
		Role    string               `json:"role"`
		Clients []store.ClientStatus `json:"clients"`
	}{"central", clients}
	return a.printer().object(report, func(w io.Writer) {
		if len(clients) == 0 {
			fmt.Fprintln(w, "no clients registered")
		}
		for _, s := range clients {
			fmt.Fprintf(w, "client %s (org %s)%s\n", s.ID, s.Org, map[bool]string{true: ", revoked " + s.RevokedAt}[s.RevokedAt != ""])
			fmt.Fprintf(w, "  data:    exported seq %d at %s; client reported seq %d (lag %d)\n", s.DataSeq, orDash(s.DataAt), s.AckedSeq, s.Lag)
			fmt.Fprintf(w, "  holds:   %s\n", countsLine(s.Entities))
			fmt.Fprintf(w, "  results: %d received, %d conflicts, %d bundles, last at %s\n", s.Received, s.Conflicts, s.Bundles, orDash(s.LastResult))
			if len(s.Gaps) > 0 {
				fmt.Fprintf(w, "  missing: the result bundle before each of seq %v never arrived\n", s.Gaps)
			}
			if r := s.Report; r != nil {
				ready := "ready"
				if !r.Ready {
					ready = "not ready"
				}
				free := "disk space unknown"
				if r.FreeDisk >= 0 {
					free = humanBytes(r.FreeDisk) + " free"
				}
				fmt.Fprintf(w, "  centre:  %s, taosync %s, data seq %d, %s pending, %s; reported %s by %s\n",
					ready, r.Version, r.DataSeq, plural(r.Pending, "result"), free, r.At.Format(time.RFC3339), r.Via)
				for _, p := range r.Problems {
					fmt.Fprintf(w, "    - %s\n", p)
				}
			} else {
				fmt.Fprintln(w, "  centre:  no readiness report yet")
			}
			if s.UpgradeNeeded {
				fmt.Fprintf(w, "  upgrade: needed, to taosync %s or later (clients.minVersion)\n", min)
			}
			if e := s.LastError; e != nil {
				fmt.Fprintf(w, "  error:   %s: %s\n", e.At, e.Error)
			}
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

func (a *app) clientStatus(ctx context.Context) error {
	cl, err := a.openClient(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
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
		fmt.Fprintf(w, "holds:   %s\n", countsLine(st.Entities))
		for _, d := range st.Deliveries {
			window := "no window"
			switch {
			case d.Ended:
				window = "window ended " + d.WindowEnd
			case d.WindowStart != "" || d.WindowEnd != "":
				window = fmt.Sprintf("window %s to %s", orDash(d.WindowStart), orDash(d.WindowEnd))
			}
			fmt.Fprintf(w, "delivery %s %q: package %s, %s\n", d.ID, d.Label, d.Package, window)
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
		fmt.Fprintf(w, "ready for exam day: %v\n", st.Ready)
		for _, p := range st.Problems {
			fmt.Fprintf(w, "  - %s\n", p)
		}
	})
}
