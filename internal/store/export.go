package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/bundle"
	"github.com/taosync/taosync/exporter"
)

// scopeSQL fills temp.scope with the live entities in the scope of the
// organisation given as the only parameter (PRODUCT.md §3): its test
// centres; the administrators, proctors and eligibilities at them; the test
// takers and deliveries those eligibilities name.
var scopeSQL = []string{
	`CREATE TEMP TABLE IF NOT EXISTS scope (type TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (type, id)) WITHOUT ROWID`,
	`DELETE FROM temp.scope`,
	`INSERT INTO temp.scope SELECT type, id FROM entity_links
		WHERE ref_type = 'org' AND ref_id = ?1 AND type = 'test-center'`,
	`INSERT OR IGNORE INTO temp.scope SELECT l.type, l.id FROM entity_links l
		JOIN temp.scope s ON l.ref_type = 'test-center' AND l.ref_id = s.id
		WHERE s.type = 'test-center' AND l.type IN ('administrator', 'proctor', 'eligibility')`,
	`INSERT OR IGNORE INTO temp.scope SELECT l.ref_type, l.ref_id FROM entity_links l
		JOIN temp.scope s ON l.type = 'eligibility' AND l.id = s.id
		WHERE s.type = 'eligibility' AND l.ref_type IN ('test-taker', 'delivery')`,
	`DELETE FROM temp.scope WHERE NOT EXISTS (SELECT 1 FROM entities e
		WHERE e.type = scope.type AND e.id = scope.id AND e.deleted = 0)`,
}

// BeginDataExport starts a data export for a client: one transaction, in
// which its scope is computed from its registration only.
func (c *Central) BeginDataExport(ctx context.Context, client string) (exporter.DataExport, error) {
	// The sequence number is reserved in a transaction of its own, so that
	// it is never handed out twice, even when an export dies between
	// writing its bundle and recording it: see docs/operations.md. It is
	// reserved above what the client last reported holding too, so that a
	// central restored from a backup still moves its clients forward. An
	// export that died leaves its number pending: its bundle may be on a
	// stick, and the client may apply it, so no delta can follow it safely
	// and the next export is a full snapshot.
	var seq, died uint64
	err := c.DB.Tx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, "SELECT pending_seq FROM clients WHERE id = ?", client).Scan(&died)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w %q", ErrUnknownClient, client)
		}
		if err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `UPDATE clients SET next_seq = MAX(next_seq, data_seq, acked_seq) + 1,
			pending_seq = MAX(next_seq, data_seq, acked_seq) + 1 WHERE id = ? RETURNING next_seq`, client).Scan(&seq)
	})
	if err != nil {
		return nil, err
	}
	e := &dataExport{c: c, client: Client{ID: client}, seq: seq, died: died != 0}
	if e.tx, err = c.DB.BeginTx(ctx, nil); err != nil {
		e.clearPending()
		return nil, err
	}
	fail := func(err error) (exporter.DataExport, error) {
		e.Rollback()
		return nil, err
	}
	if e.client, err = c.GetClient(ctx, e.tx, client); err != nil {
		return fail(err)
	}
	if e.client.RevokedAt != "" {
		return fail(fmt.Errorf("client %s was revoked at %s", client, e.client.RevokedAt))
	}
	for _, q := range scopeSQL {
		if _, err := e.tx.ExecContext(ctx, q, e.client.Org); err != nil {
			return fail(fmt.Errorf("compute scope of %s: %w", client, err))
		}
	}
	return e, nil
}

type dataExport struct {
	c      *Central
	tx     *sql.Tx
	client Client
	seq    uint64
	// died: an earlier export of this client died before recording its
	// bundle.
	died bool
	done bool
}

func (c Client) recipient() exporter.Recipient {
	return exporter.Recipient{
		ID: c.ID, Org: c.Org, AgeRecipient: c.AgeRecipient, SignKeyID: c.KeyID,
		Seq: c.DataSeq, Bundle: c.DataBundle, Hash: c.DataHash, Behind: c.behind(),
	}
}

// behind reports whether the client said, after central's last export,
// that it holds an older data state: the bundles in between were lost, and
// a delta on the last one could never apply.
func (c Client) behind() bool {
	if c.AckedAt == "" || c.DataAt == "" || c.AckedSeq >= c.DataSeq {
		return false
	}
	acked, err1 := time.Parse(time.RFC3339Nano, c.AckedAt)
	exported, err2 := time.Parse(time.RFC3339Nano, c.DataAt)
	return err1 == nil && err2 == nil && acked.After(exported)
}

func (e *dataExport) Recipient() exporter.Recipient {
	r := e.client.recipient()
	r.NextSeq = e.seq
	r.Behind = r.Behind || e.died
	return r
}

// Receipts gives the receipts of every batch the client has not reported
// holding: they ride each data bundle until it does.
func (e *dataExport) Receipts(ctx context.Context, fn func(taosync.Receipt) error) error {
	return receipts(ctx, e.tx, e.client.ID, e.client.AckedReceiptSeq+1, e.client.ReceiptSeq, fn)
}

func (e *dataExport) Records(ctx context.Context, t taosync.Type, full bool, fn func(exporter.Record) error) error {
	changed := "AND (c.version IS NULL OR c.version <> e.version)"
	if full {
		changed = ""
	}
	rows, err := e.tx.QueryContext(ctx, `SELECT e.id, e.version, e.data, c.version IS NULL, c.version = e.version
		FROM temp.scope s JOIN entities e ON e.type = s.type AND e.id = s.id
		LEFT JOIN client_entities c ON c.client = ?1 AND c.type = s.type AND c.id = s.id
		WHERE s.type = ?2 `+changed+` ORDER BY s.id`, e.client.ID, string(t))
	if err != nil {
		return err
	}
	defer rows.Close()
	var data sql.RawBytes
	for rows.Next() {
		var r exporter.Record
		var created bool
		var same sql.NullBool
		if err := rows.Scan(&r.ID, &r.Version, &data, &created, &same); err != nil {
			return err
		}
		r.Data = data
		switch {
		case created:
			r.Change = exporter.Created
		case same.Bool:
			r.Change = exporter.Unchanged
		default:
			r.Change = exporter.Updated
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rows.Close()
	gone, err := e.tx.QueryContext(ctx, `SELECT c.id FROM client_entities c
		WHERE c.client = ?1 AND c.type = ?2
		AND NOT EXISTS (SELECT 1 FROM temp.scope s WHERE s.type = c.type AND s.id = c.id) ORDER BY c.id`,
		e.client.ID, string(t))
	if err != nil {
		return err
	}
	defer gone.Close()
	for gone.Next() {
		r := exporter.Record{Change: exporter.Deleted}
		if err := gone.Scan(&r.ID); err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return gone.Err()
}

func (e *dataExport) Chunks(ctx context.Context, full bool, fn func(hash string) error) error {
	sent := "AND NOT EXISTS (SELECT 1 FROM client_chunks cc WHERE cc.client = ?1 AND cc.sha256 = j.value->>'sha256')"
	if full {
		sent = ""
	}
	// Not DISTINCT, which may sort by hash: the chunks go in each
	// package's order, and a chunk is sent at its first place.
	rows, err := e.tx.QueryContext(ctx, `SELECT j.value->>'sha256'
		FROM temp.scope s JOIN entities e ON e.type = s.type AND e.id = s.id, json_each(e.data, '$.package.chunks') j
		WHERE s.type = 'delivery' `+sent+` ORDER BY e.id, j.key`, e.client.ID)
	if err != nil {
		return err
	}
	var hashes []string
	seen := map[string]bool{}
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			rows.Close()
			return err
		}
		if !seen[h] {
			seen[h] = true
			hashes = append(hashes, h)
		}
	}
	if err := rows.Close(); err != nil {
		return err
	}
	for _, h := range hashes {
		if err := fn(h); err != nil {
			return err
		}
	}
	return nil
}

func (e *dataExport) Chunk(hash string) ([]byte, error) { return e.c.Chunks.Get(hash) }

func (e *dataExport) Commit(ctx context.Context, res *bundle.Result, types []taosync.Type, chunks []string, h taosync.HistoryEntry, publish func() error) error {
	var in []string
	args := []any{e.client.ID}
	for _, t := range types {
		in = append(in, "?")
		args = append(args, string(t))
	}
	list := strings.Join(in, ", ")
	steps := []struct {
		sql  string
		args []any
	}{
		{"DELETE FROM client_entities WHERE client = ? AND type IN (" + list + ")", args},
		{`INSERT INTO client_entities (client, type, id, version)
			SELECT ?, s.type, s.id, e.version FROM temp.scope s JOIN entities e ON e.type = s.type AND e.id = s.id
			WHERE s.type IN (` + list + ")", args},
		{"UPDATE clients SET data_seq = ?, data_bundle = ?, data_hash = ?, data_at = ?, pending_seq = 0 WHERE id = ?",
			[]any{res.Manifest.Seq, res.Manifest.ID, res.Hash, res.Manifest.Created.UTC().Format(time.RFC3339Nano), e.client.ID}},
	}
	for _, s := range steps {
		if _, err := e.tx.ExecContext(ctx, s.sql, s.args...); err != nil {
			return fmt.Errorf("record export: %w", err)
		}
	}
	for _, c := range chunks {
		if _, err := e.tx.ExecContext(ctx, "INSERT OR IGNORE INTO client_chunks (client, sha256) VALUES (?, ?)", e.client.ID, c); err != nil {
			return fmt.Errorf("record export: %w", err)
		}
	}
	if err := AddHistory(ctx, e.tx, h); err != nil {
		return err
	}
	// The bundle is published inside the transaction: if the process dies
	// between the two, the database rolls back and the bundle on disk is
	// one central does not know. Its sequence number is not reused, so the
	// client can tell it from the next one, and a full export always
	// applies (see docs/operations.md).
	if err := publish(); err != nil {
		return err
	}
	e.done = true
	return e.tx.Commit()
}

// Rollback abandons the export. Its bundle was never published, so its
// sequence number is no longer pending, unless an earlier export died: its
// bundle still may be on a stick, and the next export must still be full.
func (e *dataExport) Rollback() error {
	if e.done {
		return nil
	}
	e.done = true
	err := e.tx.Rollback()
	if err2 := e.clearPending(); err == nil {
		err = err2
	}
	return err
}

func (e *dataExport) clearPending() error {
	if e.died {
		return nil
	}
	_, err := e.c.DB.Exec("UPDATE clients SET pending_seq = 0 WHERE id = ? AND pending_seq = ?", e.client.ID, e.seq)
	return err
}
