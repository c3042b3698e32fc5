package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/bundle"
	"github.com/taosync/taosync/exporter"
)

// BeginDataExport starts a data export for a client: one transaction, in
// which its scope is its organisation's, by its registration only.
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
	if err := refreshStaleScopes(ctx, e.tx); err != nil {
		return fail(err)
	}
	// The transaction holds the write lock: no change can come between
	// reading the counter and the records.
	if err := e.tx.QueryRowContext(ctx, "SELECT COALESCE((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'entity_version'), 0)").Scan(&e.version); err != nil {
		return fail(err)
	}
	if e.held, err = loadHeld(ctx, e.tx, client); err != nil {
		return fail(err)
	}
	e.next = map[taosync.Type][]string{}
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
	// version is the change counter now; held is what the client holds,
	// next what it will hold once it applies this bundle.
	version int64
	held    map[taosync.Type]held
	next    map[taosync.Type][]string
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

// Records gives the entities of type t in the client's scope, in id order,
// each marked against what the client holds, then those it holds that have
// left the scope, as deletions. A delta leaves out those it holds already.
func (e *dataExport) Records(ctx context.Context, t taosync.Type, full bool, fn func(exporter.Record) error) error {
	rows, err := e.tx.QueryContext(ctx, `SELECT s.id, e.version, e.data
		FROM scopes s JOIN entities e ON e.type = s.type AND e.id = s.id
		WHERE s.org = ?1 AND s.type = ?2 AND e.deleted = 0 ORDER BY s.id`, e.client.Org, string(t))
	if err != nil {
		return err
	}
	defer rows.Close()
	h := e.held[t]
	var ids, gone []string
	i := 0
	var data sql.RawBytes
	for rows.Next() {
		var r exporter.Record
		if err := rows.Scan(&r.ID, &r.Version, &data); err != nil {
			return err
		}
		ids = append(ids, r.ID)
		// Both lists are in id order: walk the held one alongside.
		for i < len(h.ids) && h.ids[i] < r.ID {
			gone = append(gone, h.ids[i])
			i++
		}
		switch {
		case i == len(h.ids) || h.ids[i] != r.ID:
			r.Change = exporter.Created
		case r.Version > h.version:
			r.Change = exporter.Updated
			i++
		default:
			r.Change = exporter.Unchanged
			i++
		}
		if r.Change == exporter.Unchanged && !full {
			continue
		}
		r.Data = data
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	e.next[t] = ids
	for _, id := range append(gone, h.ids[i:]...) {
		if err := fn(exporter.Record{ID: id, Change: exporter.Deleted}); err != nil {
			return err
		}
	}
	return nil
}

func (e *dataExport) Chunks(ctx context.Context, full bool, fn func(hash string) error) error {
	sent := "AND NOT EXISTS (SELECT 1 FROM client_chunks cc WHERE cc.client = ?1 AND cc.sha256 = j.value->>'sha256')"
	if full {
		sent = ""
	}
	// Not DISTINCT, which may sort by hash: the chunks go in each
	// package's order, and a chunk is sent at its first place.
	rows, err := e.tx.QueryContext(ctx, `SELECT j.value->>'sha256'
		FROM scopes s JOIN entities e ON e.type = s.type AND e.id = s.id, json_each(e.data, '$.package.chunks') j
		WHERE s.org = ?2 AND s.type = 'delivery' AND e.deleted = 0 `+sent+` ORDER BY e.id, j.key`, e.client.ID, e.client.Org)
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
	for _, t := range types {
		if err := saveHeld(ctx, e.tx, e.client.ID, t, e.version, e.next[t]); err != nil {
			return fmt.Errorf("record export: %w", err)
		}
	}
	_, err := e.tx.ExecContext(ctx, "UPDATE clients SET data_seq = ?, data_bundle = ?, data_hash = ?, data_at = ?, pending_seq = 0 WHERE id = ?",
		res.Manifest.Seq, res.Manifest.ID, res.Hash, res.Manifest.Created.UTC().Format(time.RFC3339Nano), e.client.ID)
	if err != nil {
		return fmt.Errorf("record export: %w", err)
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
