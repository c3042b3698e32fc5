package client

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/internal/config"
	"github.com/taosync/taosync/internal/home"
	"github.com/taosync/taosync/internal/qti"
	"github.com/taosync/taosync/internal/store"
	"github.com/taosync/taosync/internal/version"
)

// Status is a client's state as `status` shows it; its Readiness is what of
// it travels to central with every pull and inside every result bundle.
type Status struct {
	Client     string           `json:"client_id"`
	Org        string           `json:"org"`
	Entities   map[string]int64 `json:"entities"`
	Deliveries []DeliveryStatus `json:"deliveries"`
	// Results counts the outbox's executions by state.
	Results map[string]int64 `json:"results"`
	// Kept counts the terminated executions that the send setting keeps on
	// this box: central never receives them. InProgress counts the active
	// and paused ones: not sent until they finish. Both are queued.
	Kept       int64 `json:"results_kept"`
	InProgress int64 `json:"results_in_progress"`
	taosync.Readiness
}

// DeliveryStatus is a delivery as the client holds it, with its package's state.
type DeliveryStatus struct {
	ID      string `json:"id"`
	Label   string `json:"label"`
	Package string `json:"package"` // taosync.PackageOK, PackageMissing, PackageCorrupt or PackageInvalid
	// Error says why an invalid package is refused.
	Error string `json:"error,omitempty"`
	// WindowStart and WindowEnd are the delivery's window (RFC 3339), empty
	// when it has none; Ended tells that its end has passed.
	WindowStart string `json:"window_start"`
	WindowEnd   string `json:"window_end"`
	Ended       bool   `json:"window_ended"`
	sha256      string
}

// Status reads the client's state and checks each delivery's package
// against its hash, then as central checks a package before publishing it
// (a central of an older version may have let through one that this
// version refuses), and each delivery's window against now.
func (c *Client) Status(ctx context.Context) (Status, error) { return c.status(ctx, true) }

// Report is Status for the report that goes to central with every pull,
// after every apply and in every result bundle: each package is checked to
// have all its pieces (each was checked against its hash when it came), not
// read again whole, which on a sync would read every package twice.
func (c *Client) Report(ctx context.Context) (Status, error) { return c.status(ctx, false) }

// status is Status; deep reads every package whole, to check its hashes
// and items.
func (c *Client) status(ctx context.Context, deep bool) (Status, error) {
	h, db := c.Home, c.Home.DB
	s := Status{Entities: map[string]int64{}, Results: map[string]int64{}}
	r := &s.Readiness
	r.Version, r.At, r.Problems, r.Packages = version.Current, time.Now().UTC(), []string{}, []taosync.PackageState{}
	var err error
	if s.Client, err = h.ClientID(ctx); err != nil {
		return s, err
	}
	if s.Org, err = store.Meta(ctx, db, "org"); errors.Is(err, store.ErrNotFound) {
		s.Org = ""
	} else if err != nil {
		return s, err
	}
	state, err := c.Local.ClientState(ctx)
	if err != nil {
		return s, err
	}
	r.DataSeq, r.DataBundle = state.DataSeq, state.DataBundle
	if err := countBy(ctx, db, "SELECT type, COUNT(*) FROM entities GROUP BY type", s.Entities); err != nil {
		return s, err
	}
	if err := countBy(ctx, db, "SELECT state, COUNT(*) FROM outbox GROUP BY state", s.Results); err != nil {
		return s, err
	}
	statuses, err := config.Get(ctx, db, "results.sendStatuses")
	if err != nil {
		return s, err
	}
	err = db.QueryRowContext(ctx, `SELECT COUNT(*), COUNT(*) FILTER (WHERE state = 'sent') FROM outbox
		WHERE state <> 'acknowledged' AND status IN (SELECT value FROM json_each(?))`,
		`["`+strings.ReplaceAll(statuses, ",", `","`)+`"]`).Scan(&r.Pending, &r.Unacknowledged)
	if err != nil {
		return s, err
	}
	unsent, err := c.Local.Unsent(ctx, strings.Split(statuses, ","))
	if err != nil {
		return s, err
	}
	s.Kept = unsent[taosync.StatusTerminated]
	s.InProgress = unsent[taosync.StatusActive] + unsent[taosync.StatusPaused]
	if s.Deliveries, err = c.deliveries(ctx, r.At, deep); err != nil {
		return s, err
	}
	for _, d := range s.Deliveries {
		r.Packages = append(r.Packages, taosync.PackageState{Delivery: d.ID, State: d.Package, SHA256: d.sha256})
	}
	r.TestTaker = s.Entities[string(taosync.TestTaker)]
	r.FreeDisk = freeDisk(h.Dir)
	for _, name := range []string{home.DBFile, home.DBFile + "-wal"} {
		if st, err := os.Stat(h.Path(name)); err == nil {
			r.DBBytes += st.Size()
		}
	}
	switch {
	case s.Client == "":
		r.Problems = append(r.Problems, "no credentials imported")
	case r.DataSeq == 0:
		r.Problems = append(r.Problems, "no data bundle imported yet")
	}
	if r.TestTaker == 0 {
		r.Problems = append(r.Problems, "no test takers")
	}
	r.Ready = s.Client != "" && r.DataSeq > 0 && len(s.Deliveries) > 0 && r.TestTaker > 0
	// The report's list of problems is bounded; the packages list says the
	// rest.
	problem := func(format string, args ...any) {
		if len(r.Problems) < taosync.MaxReportProblems-2 {
			r.Problems = append(r.Problems, clip(fmt.Sprintf(format, args...)))
		}
	}
	for _, d := range s.Deliveries {
		switch {
		case d.Error != "":
			problem("delivery %s: package %s: %s", d.ID, d.Package, d.Error)
		case d.Package == taosync.PackageMissing:
			problem("delivery %s: package missing: central published none for it in the data this box holds (on central: taosync central publish --delivery %s PACKAGE.zip, then export or sync the data)", d.ID, d.ID)
		case d.Package != taosync.PackageOK:
			problem("delivery %s: package %s", d.ID, d.Package)
		}
		if d.Ended {
			problem("delivery %s: its window ended at %s", d.ID, d.WindowEnd)
		}
		r.Ready = r.Ready && d.Package == taosync.PackageOK && !d.Ended
	}
	if r.Pending > 0 {
		r.Problems = append(r.Problems, clip(fmt.Sprintf("%d %s to send %s not yet acknowledged by central",
			r.Pending, map[bool]string{true: "result", false: "results"}[r.Pending == 1], map[bool]string{true: "is", false: "are"}[r.Pending == 1])))
	}
	if s.Kept > 0 {
		r.Problems = append(r.Problems, clip(fmt.Sprintf("%d terminated %s kept on this box: central never receives %s while results.sendStatuses is %s (taosync config set results.sendStatuses finished,terminated sends them)",
			s.Kept, map[bool]string{true: "execution", false: "executions"}[s.Kept == 1], map[bool]string{true: "it", false: "them"}[s.Kept == 1], statuses)))
	}
	if len(r.Packages) > taosync.MaxReportPackages {
		r.Packages = r.Packages[:taosync.MaxReportPackages]
	}
	return s, nil
}

func countBy(ctx context.Context, db *store.DB, query string, into map[string]int64) error {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var n int64
		if err := rows.Scan(&k, &n); err != nil {
			return err
		}
		into[k] = n
	}
	return rows.Err()
}

// deliveries lists the deliveries held, checking each one's package (deep:
// read whole; else its pieces there), and its window against now.
func (c *Client) deliveries(ctx context.Context, now time.Time, deep bool) ([]DeliveryStatus, error) {
	db := c.Home.DB
	rows, err := db.QueryContext(ctx, `SELECT id, COALESCE(label, ''), COALESCE(start, ''), COALESCE("end", '') FROM deliveries ORDER BY id`)
	if err != nil {
		return nil, err
	}
	var out []DeliveryStatus
	for rows.Next() {
		var d DeliveryStatus
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
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		ref, err := store.DeliveryPackage(ctx, db, out[i].ID)
		switch {
		case errors.Is(err, store.ErrNoPackage):
			out[i].Package = taosync.PackageMissing
		case err != nil:
			return nil, err
		case !deep:
			out[i].Package, out[i].sha256 = taosync.PackageOK, ref.Hash
			if len(c.Local.Chunks.Missing(&ref.Snapshot)) > 0 {
				out[i].Package, out[i].sha256 = taosync.PackageCorrupt, ""
			}
		case c.Local.Chunks.Verify(&ref.Snapshot) != nil:
			out[i].Package = taosync.PackageCorrupt
		default:
			out[i].Package, out[i].sha256 = taosync.PackageOK, ref.Hash
			r := c.Local.Chunks.Reader(&ref.Snapshot)
			_, err := qti.Validate(r, ref.Size, qti.DefaultLimits)
			r.Close()
			if err != nil {
				out[i].Package, out[i].Error = taosync.PackageInvalid, err.Error()
			}
		}
	}
	return out, nil
}

// clip keeps a problem within the report's bound on one problem's length:
// a longer one is cut at a rune and ends with "…".
func clip(p string) string {
	const max = 200 // taosync.Readiness.Check's bound
	if len(p) <= max {
		return p
	}
	cut := max - len("…")
	for cut > 0 && !utf8.RuneStart(p[cut]) {
		cut--
	}
	return p[:cut] + "…"
}
