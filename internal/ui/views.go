package ui

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/internal/central"
	"github.com/taosync/taosync/internal/human"
	"github.com/taosync/taosync/internal/store"
)

// hashes matches SHA-256 digests in a message (a chunk named in an
// error): no page shows a hash.
var hashes = regexp.MustCompile(`[0-9a-fA-F]{64}`)

var funcs = template.FuncMap{
	"nohash": func(s string) string { return hashes.ReplaceAllString(s, "(hash)") },
	"when":   when,
	"bytes":  humanBytes,
	"label":  func(state string) string { return stateLabels[state] },
	"counts": func(m map[string]taosync.Counts) string {
		var parts []string
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range m {
				if !yield(k) {
					return
				}
			}
		}) {
			c := m[k]
			if c.Created+c.Updated+c.Deleted > 0 {
				parts = append(parts, fmt.Sprintf("%s +%d ~%d -%d", k, c.Created, c.Updated, c.Deleted))
			}
		}
		if len(parts) == 0 {
			return "no changes"
		}
		return strings.Join(parts, ", ")
	},
}

var stateLabels = map[string]string{
	central.StateUpgrade:   "upgrade needed",
	central.StateNotReady:  "not ready",
	central.StateNeverSeen: "never seen",
	central.StateBehind:    "behind",
	central.StateReady:     "ready",
	central.StateRevoked:   "revoked",
}

// when shows an RFC 3339 time in UTC to the minute, with how long ago.
func when(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || s == "" {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC") + " (" + ago(time.Since(t)) + ")"
}

func ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d/time.Hour))
	}
	return fmt.Sprintf("%d days ago", int(d/(24*time.Hour)))
}

func humanBytes(n int64) string {
	if n < 0 {
		return "unknown"
	}
	return human.Bytes(n)
}

// row is one centre on the centres page.
type row struct {
	store.ClientStatus
	State string
	// LastContact is when central last heard of it, Road by which.
	LastContact, Road string
	PackagesOK        int
	Packages          int
	// LagSince is when the newest data bundle it lacks was exported.
	LagSince string
}

func rowOf(s store.ClientStatus) row {
	r := row{ClientStatus: s, State: central.StateOf(s), LastContact: s.AckedAt}
	if rep := s.Report; rep != nil {
		r.LastContact, r.Road = rep.ReceivedAt, rep.Via
		r.Packages = len(rep.Packages)
		for _, p := range rep.Packages {
			if p.State == taosync.PackageOK {
				r.PackagesOK++
			}
		}
	}
	if s.Lag > 0 {
		r.LagSince = s.DataAt
	}
	return r
}

type centresData struct {
	// Centres names the test centres of each organisation.
	Centres map[string][]string
	Rows    []row
	Counts  map[string]int
	States  []string
	Filter  string
	Total   int
	Min     string
}

func (u *UI) centres(w http.ResponseWriter, r *http.Request, s session) {
	clients, min, err := u.c.Status(r.Context())
	if err != nil {
		u.fail(w, "centres", err)
		return
	}
	d := centresData{Counts: map[string]int{}, States: central.States, Filter: r.URL.Query().Get("state"), Min: min, Total: len(clients)}
	if d.Centres, err = u.testCentres(r.Context()); err != nil {
		u.fail(w, "centres", err)
		return
	}
	if _, ok := stateLabels[d.Filter]; !ok {
		d.Filter = ""
	}
	for _, c := range clients {
		row := rowOf(c)
		d.Counts[row.State]++
		if d.Filter == "" || d.Filter == row.State {
			d.Rows = append(d.Rows, row)
		}
	}
	// What needs attention first: the states in their order, then the
	// centre longest without contact.
	order := func(state string) int { return slices.Index(central.States, state) }
	slices.SortStableFunc(d.Rows, func(a, b row) int {
		if oa, ob := order(a.State), order(b.State); oa != ob {
			return oa - ob
		}
		return strings.Compare(a.LastContact, b.LastContact)
	})
	u.render(w, http.StatusOK, "centres", page{Title: "Centres", Operator: s.operator, CSRF: s.csrf, Data: d})
}

type centreData struct {
	row
	Centres []string
	History []taosync.HistoryEntry
	Min     string
}

// client returns the status of one client, or answers 404.
func (u *UI) client(w http.ResponseWriter, r *http.Request) (store.ClientStatus, string, bool) {
	id := r.PathValue("id")
	clients, min, err := u.c.Status(r.Context())
	if err != nil {
		u.fail(w, "centre", err)
		return store.ClientStatus{}, "", false
	}
	for _, c := range clients {
		if c.ID == id {
			return c, min, true
		}
	}
	http.Error(w, "no such centre", http.StatusNotFound)
	return store.ClientStatus{}, "", false
}

func (u *UI) centre(w http.ResponseWriter, r *http.Request, s session) {
	c, min, ok := u.client(w, r)
	if !ok {
		return
	}
	h, err := store.History(r.Context(), u.c.Home.DB, store.HistoryFilter{Peer: c.ID})
	if err != nil {
		u.fail(w, "centre", err)
		return
	}
	centres, err := u.testCentres(r.Context())
	if err != nil {
		u.fail(w, "centre", err)
		return
	}
	slices.Reverse(h)
	if len(h) > 200 {
		h = h[:200]
	}
	u.render(w, http.StatusOK, "centre", page{Title: "Centre " + c.ID, Operator: s.operator, CSRF: s.csrf,
		Data: centreData{row: rowOf(c), Centres: centres[c.Org], History: h, Min: min}})
}

func (u *UI) revokePage(w http.ResponseWriter, r *http.Request, s session) {
	c, _, ok := u.client(w, r)
	if !ok {
		return
	}
	u.render(w, http.StatusOK, "revoke", page{Title: "Revoke " + c.ID, Operator: s.operator, CSRF: s.csrf, Data: c})
}

// confirmed reads the centre a revoke or rotate form names, and whether the
// operator typed its id to confirm; if not, the form (tmpl, under title)
// is shown again, saying so.
func (u *UI) confirmed(w http.ResponseWriter, r *http.Request, s session, tmpl, title string) (store.ClientStatus, bool) {
	c, _, ok := u.client(w, r)
	if !ok {
		return c, false
	}
	if r.PostFormValue("confirm") != c.ID {
		u.render(w, http.StatusBadRequest, tmpl, page{Title: title + " " + c.ID, Operator: s.operator, CSRF: s.csrf, Data: c,
			Error: "Type the centre's id to confirm."})
		return c, false
	}
	return c, true
}

func (u *UI) revoke(w http.ResponseWriter, r *http.Request, s session) {
	c, ok := u.confirmed(w, r, s, "revoke", "Revoke")
	if !ok {
		return
	}
	// Revoked already (by another operator) is what was asked for; any
	// other failure is said, not taken for a revocation.
	if err := u.c.Store.RevokeClient(r.Context(), c.ID); err != nil && !errors.Is(err, store.ErrAlreadyRevoked) {
		u.fail(w, "revoke", err)
		return
	}
	u.log.Warn("ui: credential revoked", "client", c.ID, "operator", s.operator)
	http.Redirect(w, r, Prefix+"centres/"+url.PathEscape(c.ID), http.StatusSeeOther)
}

func (u *UI) rotatePage(w http.ResponseWriter, r *http.Request, s session) {
	c, _, ok := u.client(w, r)
	if !ok {
		return
	}
	u.render(w, http.StatusOK, "rotate", page{Title: "Rotate " + c.ID, Operator: s.operator, CSRF: s.csrf, Data: c})
}

// rotate gives a centre a new secret, confirmed as a revocation is, and
// sends the operator to the page that shows it, once: the secret waits in
// the session, not in a URL or a page that a reload would post again.
func (u *UI) rotate(w http.ResponseWriter, r *http.Request, s session) {
	c, ok := u.confirmed(w, r, s, "rotate", "Rotate")
	if !ok {
		return
	}
	secret, err := u.c.RotateSecret(r.Context(), c.ID)
	if err != nil {
		u.fail(w, "rotate", err)
		return
	}
	u.log.Warn("ui: secret rotated", "client", c.ID, "operator", s.operator)
	if err := u.keep(r, newSecret{client: c.ID, secret: secret}); err != nil {
		u.fail(w, "rotate", err)
		return
	}
	http.Redirect(w, r, Prefix+"centres/"+url.PathEscape(c.ID)+"/rotated", http.StatusSeeOther)
}

// rotated shows the new secret of the centre the session just rotated, and
// forgets it: a reload, another tab or another session sees it no more.
// Like every page it is sent with Cache-Control: no-store (headers), so no
// cache keeps it either.
func (u *UI) rotated(w http.ResponseWriter, r *http.Request, s session) {
	c, _, ok := u.client(w, r)
	if !ok {
		return
	}
	shown, err := u.take(r, c.ID)
	if err != nil {
		u.fail(w, "show the new secret", err)
		return
	}
	status := http.StatusOK
	if shown.secret == "" {
		status = http.StatusGone
	}
	u.render(w, status, "rotated", page{Title: "New secret of " + c.ID, Operator: s.operator, CSRF: s.csrf,
		Data: struct{ ID, Secret string }{c.ID, shown.secret}})
}

// delivery is one delivery on the deliveries page.
type delivery struct {
	ID, Label, Test string
	Size            int64
	Published       bool
	// Verified counts the centres whose last report holds this package
	// intact, Holding those whose report names the delivery at all.
	Verified, Holding int
}

func (u *UI) deliveries(w http.ResponseWriter, r *http.Request, s session) {
	ctx := r.Context()
	rows, err := u.c.Home.DB.QueryContext(ctx, `SELECT id, COALESCE(data->>'label', ''), COALESCE(data->'package'->>'test', ''),
		COALESCE(data->'package'->>'sha256', ''), COALESCE(CAST(data->'package'->>'size' AS BIGINT), 0) FROM entities
		WHERE type = 'delivery' AND deleted = 0 ORDER BY id`)
	if err != nil {
		u.fail(w, "deliveries", err)
		return
	}
	var out []delivery
	hashes := map[string]string{}
	for rows.Next() {
		var d delivery
		var hash string
		if err := rows.Scan(&d.ID, &d.Label, &d.Test, &hash, &d.Size); err != nil {
			rows.Close()
			u.fail(w, "deliveries", err)
			return
		}
		d.Published = hash != ""
		hashes[d.ID] = hash
		out = append(out, d)
	}
	rows.Close()
	reports, err := u.c.Store.Reports(ctx)
	if err != nil {
		u.fail(w, "deliveries", err)
		return
	}
	for i, d := range out {
		for _, rep := range reports {
			for _, p := range rep.Packages {
				if p.Delivery != d.ID {
					continue
				}
				out[i].Holding++
				if p.State == taosync.PackageOK && p.SHA256 == hashes[d.ID] && d.Published {
					out[i].Verified++
				}
			}
		}
	}
	u.render(w, http.StatusOK, "deliveries", page{Title: "Deliveries", Operator: s.operator, CSRF: s.csrf,
		Data: struct {
			Deliveries []delivery
			Centres    int
		}{out, len(reports)}})
}

// testCentres returns the labels of the test centres of each organisation.
func (u *UI) testCentres(ctx context.Context) (map[string][]string, error) {
	rows, err := u.c.Home.DB.QueryContext(ctx, `SELECT COALESCE(data->>'org_id', ''), COALESCE(data->>'label', id) FROM entities
		WHERE type = 'test-center' AND deleted = 0`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var org, label string
		if err := rows.Scan(&org, &label); err != nil {
			return nil, err
		}
		out[org] = append(out[org], label)
	}
	// Sorted here, byte by byte: PostgreSQL would sort a label as its
	// locale says, SQLite byte by byte.
	for _, labels := range out {
		slices.Sort(labels)
	}
	return out, rows.Err()
}
