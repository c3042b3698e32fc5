package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/taosync/taosync"
)

// scopeSQL recomputes the table scopes, every organisation's scope
// (docs/data.md, "What a centre receives"), from the links between live entities: its test centres;
// the administrators, proctors and eligibilities at them; the test takers
// and deliveries those eligibilities name.
var scopeSQL = []string{
	`DELETE FROM scopes`,
	`INSERT INTO scopes (org, type, id) SELECT ref_id, type, id FROM entity_links
		WHERE ref_type = 'org' AND type = 'test-center'`,
	`INSERT INTO scopes (org, type, id) SELECT s.org, l.type, l.id FROM scopes s
		JOIN entity_links l ON l.ref_type = 'test-center' AND l.ref_id = s.id
		WHERE s.type = 'test-center' AND l.type IN ('administrator', 'proctor', 'eligibility')
		ON CONFLICT DO NOTHING`,
	`INSERT INTO scopes (org, type, id) SELECT s.org, l.ref_type, l.ref_id FROM scopes s
		JOIN entity_links l ON l.type = 'eligibility' AND l.id = s.id
		WHERE s.type = 'eligibility' AND l.ref_type IN ('test-taker', 'delivery')
		ON CONFLICT DO NOTHING`,
	`DELETE FROM scopes WHERE NOT EXISTS (SELECT 1 FROM entities e
		WHERE e.type = scopes.type AND e.id = scopes.id AND e.deleted = 0)`,
	`DELETE FROM meta WHERE key = 'scopes_stale'`,
}

// eligibleFrom joins the eligibilities in the organisation's scope (t,
// with ?1 the organisation) to the test takers (t.ref_id) and deliveries
// (d.ref_id) they name.
const eligibleFrom = `entity_links t
		JOIN entity_links d ON d.type = 'eligibility' AND d.id = t.id AND d.ref_type = 'delivery'
		JOIN scopes s ON s.org = ?1 AND s.type = 'eligibility' AND s.id = t.id
		WHERE t.type = 'eligibility' AND t.ref_type = 'test-taker'`

// scopeCheckSQL is four columns that say whether the test centre, the test
// taker and the delivery of an execution are in the organisation's scope
// (the table scopes, as scopeSQL computes it), and whether an eligibility
// in the scope names both its test taker and its delivery. Arguments:
// org, test centre, test taker, delivery.
const scopeCheckSQL = `SELECT
	EXISTS (SELECT 1 FROM scopes WHERE org = ?1 AND type = 'test-center' AND id = ?2),
	EXISTS (SELECT 1 FROM scopes WHERE org = ?1 AND type = 'test-taker' AND id = ?3),
	EXISTS (SELECT 1 FROM scopes WHERE org = ?1 AND type = 'delivery' AND id = ?4),
	EXISTS (SELECT 1 FROM ` + eligibleFrom + ` AND t.ref_id = ?3 AND d.ref_id = ?4)`

// scopeChecksSQL is scopeCheckSQL of several executions at once, in the
// engine's dialect: the type and id of each test centre, test taker and
// delivery asked that is in the organisation's scope. Arguments: org,
// then the arrays (Engine.textArray) of test centres, test takers and
// deliveries.
func scopeChecksSQL(e Engine) string {
	return `SELECT type, id FROM scopes WHERE org = ?1 AND type = 'test-center' AND id ` + e.inArray("?2") + `
	UNION ALL SELECT type, id FROM scopes WHERE org = ?1 AND type = 'test-taker' AND id ` + e.inArray("?3") + `
	UNION ALL SELECT type, id FROM scopes WHERE org = ?1 AND type = 'delivery' AND id ` + e.inArray("?4")
}

// eligibleSQL lists the test takers and deliveries that an eligibility in
// the scope names together, of the test takers asked, in the engine's
// dialect. Apart from scopeChecksSQL: in one statement, with the ids in an
// array, PostgreSQL's planner cannot tell a delivery's thousands of
// eligibilities from a test taker's few, and scanned the first for each
// execution (24 ms each where a central held 1,000,000 test takers); SQLite
// looks each test taker up in entity_links_ref. Arguments: org, the array
// (Engine.textArray) of test takers.
func eligibleSQL(e Engine) string {
	return "SELECT t.ref_id, d.ref_id FROM " + eligibleFrom + " AND t.ref_id " + e.inArray("?2")
}

// refreshScopes recomputes every organisation's scope, in the transaction
// of the change that moved it (a link, or an entity becoming live or a
// tombstone), so that an export only reads its organisation's, and drops
// the snapshots kept of the scopes before.
func refreshScopes(ctx context.Context, tx *sql.Tx) error {
	if err := dropSnapshots(ctx, tx); err != nil {
		return err
	}
	for _, q := range scopeSQL {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("compute scopes: %w", err)
		}
	}
	return nil
}

// refreshStaleScopes recomputes the scopes if a migration left them to be
// computed.
func refreshStaleScopes(ctx context.Context, tx *sql.Tx) error {
	stale, err := scopesStale(ctx, tx)
	if err != nil || !stale {
		return err
	}
	return refreshScopes(ctx, tx)
}

// scopesStale says whether the scopes are to be computed again.
func scopesStale(ctx context.Context, tx *sql.Tx) (bool, error) {
	var one int
	err := tx.QueryRowContext(ctx, "SELECT 1 FROM meta WHERE key = 'scopes_stale'").Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// held is what a client holds of one type: the ids sorted, and the change
// counter they were exported at.
type held struct {
	version int64
	ids     []string
}

// loadHeld reads what the client holds of every type.
func loadHeld(ctx context.Context, tx *sql.Tx, client string) (map[taosync.Type]held, error) {
	rows, err := tx.QueryContext(ctx, "SELECT type, version, ids FROM client_held WHERE client = ?", client)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[taosync.Type]held{}
	for rows.Next() {
		var t, ids string
		var h held
		if err := rows.Scan(&t, &h.version, &ids); err != nil {
			return nil, err
		}
		if ids != "" {
			h.ids = strings.Split(ids, "\n")
		}
		// Sorted by taosync; a list a migration built is sorted here once.
		if !slices.IsSorted(h.ids) {
			slices.Sort(h.ids)
		}
		out[taosync.Type(t)] = h
	}
	return out, rows.Err()
}

// saveHeld records what the client holds of a type after an export.
func saveHeld(ctx context.Context, tx *sql.Tx, client string, t taosync.Type, version int64, ids []string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO client_held (client, type, version, count, ids) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (client, type) DO UPDATE SET version = excluded.version, count = excluded.count, ids = excluded.ids`,
		client, string(t), version, len(ids), strings.Join(ids, "\n"))
	return err
}
