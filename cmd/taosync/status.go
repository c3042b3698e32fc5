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
	"github.com/taosync/taosync/internal/config"
	"github.com/taosync/taosync/internal/home"
	"github.com/taosync/taosync/internal/qti"
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
	h, err := a.open(ctx, "")
	if err != nil {
		return err
	}
	role := h.Role
	h.Close()
	if role == home.Central {
		return a.centralStatus(ctx, o)
	}
	if o.client != "" || o.since != "" {
		return usageError{errors.New("--client and --since are for central's status: a client's is its own")}
	}
	return a.clientStatus(ctx)
}

func (a *app) centralStatus(ctx context.Context, o statusOptions) error {
	cc, err := a.openCentral(ctx)
	if err != nil {
		return err
	}
	defer cc.Close()
	c := cc.Store
	clients, err := c.Status(ctx)
	if err != nil {
		return err
	}
	if clients, err = selectClients(clients, o, time.Now()); err != nil {
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
			writeClientStatus(w, s)
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

// clientReport is the JSON form of `status` on a client.
type clientReport struct {
	Role       string           `json:"role"`
	Client     string           `json:"client_id"`
	Org        string           `json:"org"`
	DataSeq    uint64           `json:"data_seq"`
	Entities   map[string]int64 `json:"entities"`
	Ready      bool             `json:"ready"`
	Problems   []string         `json:"problems"`
	Deliveries []deliveryState  `json:"deliveries"`
	Results    map[string]int64 `json:"results"`
	// Pending counts the executions to send that central has not yet
	// acknowledged.
	Pending int64 `json:"results_pending"`
	// Kept counts the terminated executions that the send setting keeps on
	// this box: central never receives them.
	Kept int64 `json:"results_kept"`
	// InProgress counts the active and paused executions: not sent until
	// they finish.
	InProgress int64 `json:"results_in_progress"`
}

type deliveryState struct {
	ID      string `json:"id"`
	Label   string `json:"label"`
	Package string `json:"package"` // ok, missing, corrupt, invalid
	// Error says why an invalid package is refused.
	Error string `json:"error,omitempty"`
	// WindowStart and WindowEnd are the delivery's window (RFC 3339), empty
	// when it has none; Ended tells that its end has passed.
	WindowStart string `json:"window_start"`
	WindowEnd   string `json:"window_end"`
	Ended       bool   `json:"window_ended"`
}

func (a *app) clientStatus(ctx context.Context) error {
	cl, err := a.openClient(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	h, local := cl.Home, cl.Local
	r := clientReport{Role: "client", Entities: map[string]int64{}, Results: map[string]int64{}, Problems: []string{}}
	if r.Client, err = h.ClientID(ctx); err != nil {
		return err
	}
	if r.Org, err = store.Meta(ctx, h.DB, "org"); errors.Is(err, store.ErrNotFound) {
		r.Org = ""
	} else if err != nil {
		return err
	}
	state, err := local.DataState(ctx)
	if err != nil {
		return err
	}
	r.DataSeq = state.Seq
	rows, err := h.DB.QueryContext(ctx, "SELECT type, COUNT(*) FROM entities GROUP BY type")
	if err != nil {
		return err
	}
	for rows.Next() {
		var t string
		var n int64
		if err := rows.Scan(&t, &n); err != nil {
			rows.Close()
			return err
		}
		r.Entities[t] = n
	}
	rows.Close()
	statuses, err := config.Get(ctx, h.DB, "results.sendStatuses")
	if err != nil {
		return err
	}
	err = h.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE state <> 'acknowledged'
		AND status IN (SELECT value FROM json_each(?))`, `["`+strings.ReplaceAll(statuses, ",", `","`)+`"]`).Scan(&r.Pending)
	if err != nil {
		return err
	}
	rows, err = h.DB.QueryContext(ctx, "SELECT state, COUNT(*) FROM outbox GROUP BY state")
	if err != nil {
		return err
	}
	for rows.Next() {
		var s string
		var n int64
		if err := rows.Scan(&s, &n); err != nil {
			rows.Close()
			return err
		}
		r.Results[s] = n
	}
	rows.Close()
	unsent, err := local.Unsent(ctx, strings.Split(statuses, ","))
	if err != nil {
		return err
	}
	r.Kept = unsent[taosync.StatusTerminated]
	r.InProgress = unsent[taosync.StatusActive] + unsent[taosync.StatusPaused]
	now := time.Now()
	if r.Deliveries, err = deliveryStates(ctx, h, local, now); err != nil {
		return err
	}
	switch {
	case r.Client == "":
		r.Problems = append(r.Problems, "no credentials imported")
	case r.DataSeq == 0:
		r.Problems = append(r.Problems, "no data bundle imported yet")
	}
	if r.Entities[string(taosync.TestTaker)] == 0 {
		r.Problems = append(r.Problems, "no test takers")
	}
	for _, d := range r.Deliveries {
		switch {
		case d.Error != "":
			r.Problems = append(r.Problems, fmt.Sprintf("delivery %s: package %s: %s", d.ID, d.Package, d.Error))
		case d.Package == "missing":
			r.Problems = append(r.Problems, fmt.Sprintf("delivery %s: package missing: central published none for it in the data this box holds (on central: taosync central publish --delivery %s PACKAGE.zip, then export or sync the data)", d.ID, d.ID))
		case d.Package != "ok":
			r.Problems = append(r.Problems, fmt.Sprintf("delivery %s: package %s", d.ID, d.Package))
		}
		if d.Ended {
			r.Problems = append(r.Problems, fmt.Sprintf("delivery %s: its window ended at %s", d.ID, d.WindowEnd))
		}
	}
	if r.Pending > 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("%s to send %s not yet acknowledged by central",
			plural(r.Pending, "result"), map[bool]string{true: "is", false: "are"}[r.Pending == 1]))
	}
	if r.Kept > 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("%s kept on this box: central never receives %s while results.sendStatuses is %s (taosync config set results.sendStatuses finished,terminated sends them)",
			plural(r.Kept, "terminated execution"), map[bool]string{true: "it", false: "them"}[r.Kept == 1], statuses))
	}
	r.Ready = r.Client != "" && r.DataSeq > 0 && len(r.Deliveries) > 0 && r.Entities[string(taosync.TestTaker)] > 0
	for _, d := range r.Deliveries {
		r.Ready = r.Ready && d.Package == "ok" && !d.Ended
	}
	return a.printer().object(r, func(w io.Writer) {
		fmt.Fprintf(w, "client %s (org %s), data seq %d\n", orDash(r.Client), orDash(r.Org), r.DataSeq)
		printLines(w, wrapClauses(countsLine(r.Entities), "holds:   ", "         ", width))
		for _, d := range r.Deliveries {
			window := "no window"
			switch {
			case d.Ended:
				window = "window ended " + d.WindowEnd
			case d.WindowStart != "" || d.WindowEnd != "":
				window = fmt.Sprintf("window %s to %s", orDash(d.WindowStart), orDash(d.WindowEnd))
			}
			printLines(w, wrapClauses(fmt.Sprintf("delivery %s %q: package %s, %s", d.ID, d.Label, d.Package, window), "", "         ", width))
		}
		// Queued executions the send setting keeps, or that are not
		// finished, are said as such: they are not on their way.
		shown := map[string]int64{}
		for s, n := range r.Results {
			shown[s] = n
		}
		shown[store.Queued] -= r.Kept + r.InProgress
		shown["kept (terminated)"] = r.Kept
		shown["in progress"] = r.InProgress
		var states []string
		for s, n := range shown {
			if n > 0 {
				states = append(states, fmt.Sprintf("%s %d", s, n))
			}
		}
		sort.Strings(states)
		fmt.Fprintf(w, "results: %s\n", orDash(strings.Join(states, ", ")))
		fmt.Fprintln(w, readyLine(r))
		for _, p := range r.Problems {
			printLines(w, bullet(p))
		}
	})
}

// deliveryStates checks each delivery's package against its hash, then
// as central checks a package before publishing it (a central of an older
// version may have let through one that this version refuses), and its
// window against now.
func deliveryStates(ctx context.Context, h *home.Home, local *store.Local, now time.Time) ([]deliveryState, error) {
	rows, err := h.DB.QueryContext(ctx, `SELECT id, COALESCE(label, ''), COALESCE(start, ''), COALESCE("end", '') FROM deliveries ORDER BY id`)
	if err != nil {
		return nil, err
	}
	var out []deliveryState
	for rows.Next() {
		var d deliveryState
		if err := rows.Scan(&d.ID, &d.Label, &d.WindowStart, &d.WindowEnd); err != nil {
			rows.Close()
			return nil, err
		}
		if end, err := time.Parse(time.RFC3339, d.WindowEnd); err == nil && end.Before(now) {
			d.Ended = true
		}
		out = append(out, d)
	}
	rows.Close()
	for i := range out {
		ref, err := store.DeliveryPackage(ctx, h.DB, out[i].ID)
		switch {
		case errors.Is(err, store.ErrNoPackage):
			out[i].Package = "missing"
		case err != nil:
			return nil, err
		case local.Chunks.Verify(&ref.Snapshot) != nil:
			out[i].Package = "corrupt"
		default:
			out[i].Package = "ok"
			r := local.Chunks.Reader(&ref.Snapshot)
			_, err := qti.Validate(r, ref.Size, qti.DefaultLimits)
			r.Close()
			if err != nil {
				out[i].Package, out[i].Error = "invalid", err.Error()
			}
		}
	}
	return out, nil
}
