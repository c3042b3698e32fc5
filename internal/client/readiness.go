package client

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/internal/config"
	"github.com/taosync/taosync/internal/home"
	"github.com/taosync/taosync/internal/store"
)

// Status is a client's state as `status` shows it; its Readiness is what of
// it travels to central with every pull and inside every result bundle.
type Status struct {
	Client     string           `json:"client_id"`
	Org        string           `json:"org"`
	Entities   map[string]int64 `json:"entities"`
	Deliveries []Delivery       `json:"deliveries"`
	// Results counts the outbox's executions by state.
	Results map[string]int64 `json:"results"`
	taosync.Readiness
}

// Delivery is a delivery as the client holds it, with its package's state.
type Delivery struct {
	ID      string `json:"id"`
	Label   string `json:"label"`
	Package string `json:"package"` // taosync.PackageOK, PackageMissing or PackageCorrupt
	Window  string `json:"window"`
	sha256  string
}

// Status reads the client's state and checks each delivery's package
// against its hash.
func (c *Client) Status(ctx context.Context) (Status, error) {
	h, db := c.Home, c.Home.DB
	s := Status{Entities: map[string]int64{}, Results: map[string]int64{}}
	r := &s.Readiness
	r.Version, r.At, r.Problems, r.Packages = Version, time.Now().UTC(), []string{}, []taosync.PackageState{}
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
	if s.Deliveries, err = c.deliveries(ctx); err != nil {
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
	for _, d := range s.Deliveries {
		if d.Package != taosync.PackageOK {
			r.Ready = false
			// The report's list of problems is bounded; the packages
			// list says the rest.
			if len(r.Problems) < taosync.MaxReportProblems-1 {
				r.Problems = append(r.Problems, fmt.Sprintf("delivery %s: package %s", d.ID, d.Package))
			}
		}
	}
	if r.Pending > 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("%d results to send are not yet acknowledged by central", r.Pending))
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

// deliveries lists the deliveries held, checking each one's package.
func (c *Client) deliveries(ctx context.Context) ([]Delivery, error) {
	db := c.Home.DB
	rows, err := db.QueryContext(ctx, `SELECT id, COALESCE(label, ''), COALESCE(start, ''), COALESCE("end", '') FROM deliveries ORDER BY id`)
	if err != nil {
		return nil, err
	}
	var out []Delivery
	for rows.Next() {
		var d Delivery
		var start, end string
		if err := rows.Scan(&d.ID, &d.Label, &start, &end); err != nil {
			rows.Close()
			return nil, err
		}
		d.Window = "no window"
		if start != "" || end != "" {
			d.Window = fmt.Sprintf("window %s to %s", orDash(start), orDash(end))
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
		case c.Local.Chunks.Verify(&ref.Snapshot) != nil:
			out[i].Package = taosync.PackageCorrupt
		default:
			out[i].Package, out[i].sha256 = taosync.PackageOK, ref.Hash
		}
	}
	return out, nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
