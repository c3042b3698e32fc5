package store

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/bundle"
)

// ErrExportMoved: what an export read of its client moved before the
// export could record its bundle (another export of the client was
// recorded, the client reported its state, or it was revoked or given new
// keys). Nothing was recorded and the bundle was not published: the export
// may be done again.
var ErrExportMoved = errors.New("the client's state moved during the export")

// BeginDataExport starts a data export for a client. It reads in one read
// transaction (DB.BeginRead), a snapshot that takes no lock: exports for
// different clients read, compress and encrypt side by side. Only two
// short steps write: reserving the bundle's sequence number, here, and
// recording the bundle, at Commit, which checks first that what the export
// read of the client has not moved.
func (c *CentralDB) BeginDataExport(ctx context.Context, client string) (taosync.DataExport, error) {
	// The sequence number is reserved in a transaction of its own, so that
	// it is never handed out twice, even when an export dies between
	// writing its bundle and recording it: see docs/operations.md. It is
	// reserved above what the client last reported holding too, so that a
	// central restored from a backup still moves its clients forward. An
	// export that died leaves its number pending: its bundle may be on a
	// stick, and the client may apply it, so no delta can follow it safely
	// and the next export is a full snapshot.
	var seq, died uint64
	err := c.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, "SELECT pending_seq FROM clients WHERE id = ?", client).Scan(&died)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w %q", ErrUnknownClient, client)
		}
		if err != nil {
			return err
		}
		err = tx.QueryRowContext(ctx, `UPDATE clients SET next_seq = MAX(next_seq, data_seq, acked_seq) + 1,
			pending_seq = MAX(next_seq, data_seq, acked_seq) + 1 WHERE id = ? RETURNING next_seq`, client).Scan(&seq)
		if err != nil {
			return err
		}
		// Scopes a migration left to compute are computed before any
		// export reads them.
		return refreshStaleScopes(ctx, tx)
	})
	if err != nil {
		return nil, err
	}
	e := &dataExport{c: c, client: RegisteredClient{ID: client}, seq: seq, died: died != 0}
	fail := func(err error) (taosync.DataExport, error) {
		e.Rollback()
		return nil, err
	}
	if e.tx, err = c.DB.BeginRead(ctx); err != nil {
		return fail(err)
	}
	if e.client, err = c.GetClient(ctx, e.tx, client); err != nil {
		return fail(err)
	}
	if e.client.RevokedAt != "" {
		return fail(fmt.Errorf("client %s was revoked at %s", client, e.client.RevokedAt))
	}
	// The snapshot may begin after another export of the client, in
	// another process, reserved a later number and recorded its bundle
	// (this one waited for a read slot): its bundle would go backwards.
	// One that only reserved a later number is caught at Commit, if it
	// records first (unmoved).
	if max(e.client.DataSeq, e.client.AckedSeq) >= seq {
		return fail(fmt.Errorf("read client %s for bundle %d: %w", client, seq, ErrExportMoved))
	}
	// The counter and the records are read in the same snapshot: every
	// change of the entities or the scopes moves the counter.
	if e.version, err = entityVersion(ctx, e.tx); err != nil {
		return fail(err)
	}
	if e.held, err = loadHeld(ctx, e.tx, client); err != nil {
		return fail(err)
	}
	e.next = map[taosync.Type][]string{}
	e.versions = map[taosync.Type][]int64{}
	return e, nil
}

type dataExport struct {
	c *CentralDB
	// tx is the export's read transaction, until Commit or Rollback.
	tx     *sql.Tx
	client RegisteredClient
	seq    uint64
	// died: an earlier export of this client died before recording its
	// bundle.
	died bool
	done bool
	// version is the change counter now; held is what the client holds,
	// next what it will hold once it applies this bundle, and versions
	// the versions of next, for a type read in full (Keep).
	version  int64
	held     map[taosync.Type]held
	next     map[taosync.Type][]string
	versions map[taosync.Type][]int64
	// keep is the full snapshots this export wrote, to keep at Commit.
	keep []keptSnapshot
}

type keptSnapshot struct {
	t            taosync.Type
	chunkRecords int
	ids          []string
	versions     []int64
	chunks       []bundle.Compressed
}

func (c RegisteredClient) recipient() taosync.Recipient {
	return taosync.Recipient{
		ID: c.ID, Org: c.Org, AgeRecipient: c.AgeRecipient, SignKeyID: c.KeyID,
		Seq: c.DataSeq, Bundle: c.DataBundle, Hash: c.DataHash, Behind: c.behind(),
	}
}

// behind reports whether the client said, after central's last export,
// that it holds an older data state: the bundles in between were lost, and
// a delta on the last one could never apply.
func (c RegisteredClient) behind() bool {
	if c.AckedAt == "" || c.DataAt == "" || c.AckedSeq >= c.DataSeq {
		return false
	}
	acked, err1 := time.Parse(time.RFC3339Nano, c.AckedAt)
	exported, err2 := time.Parse(time.RFC3339Nano, c.DataAt)
	return err1 == nil && err2 == nil && acked.After(exported)
}

func (e *dataExport) Recipient() taosync.Recipient {
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
func (e *dataExport) Records(ctx context.Context, t taosync.Type, full bool, fn func(taosync.Record) error) error {
	rows, err := e.tx.QueryContext(ctx, `SELECT s.id, e.version, e.data
		FROM scopes s JOIN entities e ON e.type = s.type AND e.id = s.id
		WHERE s.org = ?1 AND s.type = ?2 AND e.deleted = 0 ORDER BY s.id`, e.client.Org, string(t))
	if err != nil {
		return err
	}
	defer rows.Close()
	m := marker{h: e.held[t]}
	var ids []string
	var versions []int64
	var data sql.RawBytes
	for rows.Next() {
		var r taosync.Record
		if err := rows.Scan(&r.ID, &r.Version, &data); err != nil {
			return err
		}
		ids = append(ids, r.ID)
		if full {
			versions = append(versions, r.Version)
		}
		if r.Change = m.mark(r.ID, r.Version); r.Change == taosync.Unchanged && !full {
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
	if full {
		e.versions[t] = versions
	}
	for _, id := range m.left() {
		if err := fn(taosync.Record{ID: id, Change: taosync.Deleted}); err != nil {
			return err
		}
	}
	return nil
}

// marker walks the ids a client holds of a type alongside those of its
// scope, both in id order.
type marker struct {
	h    held
	i    int
	gone []string
}

// mark says what the entity id at version is to the client; ids come in
// order.
func (m *marker) mark(id string, version int64) taosync.Change {
	for m.i < len(m.h.ids) && m.h.ids[m.i] < id {
		m.gone = append(m.gone, m.h.ids[m.i])
		m.i++
	}
	switch {
	case m.i == len(m.h.ids) || m.h.ids[m.i] != id:
		return taosync.Created
	case version > m.h.version:
		m.i++
		return taosync.Updated
	default:
		m.i++
		return taosync.Unchanged
	}
}

// left returns the ids held that were not marked: deleted, or out of the
// scope.
func (m *marker) left() []string { return append(m.gone, m.h.ids[m.i:]...) }

// Snapshot sends the full snapshot of type t kept for the client's
// organisation, if one is kept of the data as it is now: every change to
// the entities or the scopes empties the tables it is kept in, in its
// transaction (nextVersion, refreshScopes), and moves the counter the
// export read in the same snapshot.
func (e *dataExport) Snapshot(ctx context.Context, t taosync.Type, chunkRecords int, fn func(bundle.Compressed) error) (taosync.Counts, bool, error) {
	var n taosync.Counts
	var idList string
	var packed []byte
	err := e.tx.QueryRowContext(ctx, `SELECT ids, versions FROM snapshots
		WHERE org = ? AND type = ? AND version = ? AND chunk_records = ? AND format = ?`,
		e.client.Org, string(t), e.version, chunkRecords, taosync.RecordFormat).Scan(&idList, &packed)
	if errors.Is(err, sql.ErrNoRows) {
		return n, false, nil
	}
	if err != nil {
		return n, false, err
	}
	var ids []string
	if idList != "" {
		ids = strings.Split(idList, "\n")
	}
	m := marker{h: e.held[t]}
	for _, id := range ids {
		v, k := binary.Uvarint(packed)
		if k <= 0 || v > math.MaxInt64 {
			return n, false, errors.New("kept snapshot: bad versions")
		}
		packed = packed[k:]
		switch m.mark(id, int64(v)) {
		case taosync.Created:
			n.Created++
		case taosync.Updated:
			n.Updated++
		}
	}
	n.Deleted = int64(len(m.left()))
	rows, err := e.tx.QueryContext(ctx, `SELECT records, content_hash, content_size, payload FROM snapshot_chunks
		WHERE org = ? AND type = ? ORDER BY n`, e.client.Org, string(t))
	if err != nil {
		return n, false, err
	}
	defer rows.Close()
	var records int64
	for rows.Next() {
		var c bundle.Compressed
		if err := rows.Scan(&c.Records, &c.ContentHash, &c.ContentSize, &c.Payload); err != nil {
			return n, false, err
		}
		records += c.Records
		if err := fn(c); err != nil {
			return n, false, err
		}
	}
	if err := rows.Err(); err != nil {
		return n, false, err
	}
	if len(packed) > 0 || records != int64(len(ids)) {
		return n, false, fmt.Errorf("kept snapshot: %d records in its chunks for %d ids", records, len(ids))
	}
	e.next[t] = ids
	return n, true, nil
}

// Keep takes the chunks of the full snapshot of type t this export wrote
// for the client's organisation, with the ids and versions Records read,
// to keep at Commit.
func (e *dataExport) Keep(ctx context.Context, t taosync.Type, chunkRecords int, chunks []bundle.Compressed) error {
	ids, versions := e.next[t], e.versions[t]
	var records int64
	for _, c := range chunks {
		records += c.Records
	}
	if len(versions) != len(ids) || records != int64(len(ids)) {
		return fmt.Errorf("%d records in %d chunks for %d ids read", records, len(chunks), len(ids))
	}
	e.keep = append(e.keep, keptSnapshot{t: t, chunkRecords: chunkRecords, ids: ids, versions: versions, chunks: chunks})
	return nil
}

// keepSnapshots keeps the full snapshots this export wrote, if the data
// is still as the export read it (the counter has not moved: a change
// since has emptied the tables, and they must stay empty) and no other
// export has kept them already.
func (e *dataExport) keepSnapshots(ctx context.Context, tx *sql.Tx) error {
	if len(e.keep) == 0 {
		return nil
	}
	version, err := entityVersion(ctx, tx)
	if err != nil {
		return err
	}
	if version != e.version {
		return nil
	}
	for _, k := range e.keep {
		var kept bool
		err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM snapshots
			WHERE org = ? AND type = ? AND version = ? AND chunk_records = ? AND format = ?)`,
			e.client.Org, string(k.t), e.version, k.chunkRecords, taosync.RecordFormat).Scan(&kept)
		if err != nil {
			return err
		}
		if kept {
			continue
		}
		packed := []byte{} // not NULL when there are none
		for _, v := range k.versions {
			packed = binary.AppendUvarint(packed, uint64(v))
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM snapshot_chunks WHERE org = ? AND type = ?", e.client.Org, string(k.t)); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO snapshots (org, type, version, chunk_records, format, ids, versions)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (org, type) DO UPDATE SET version = excluded.version,
			chunk_records = excluded.chunk_records, format = excluded.format, ids = excluded.ids, versions = excluded.versions`,
			e.client.Org, string(k.t), e.version, k.chunkRecords, taosync.RecordFormat, strings.Join(k.ids, "\n"), packed)
		if err != nil {
			return err
		}
		for i, c := range k.chunks {
			_, err := tx.ExecContext(ctx, `INSERT INTO snapshot_chunks (org, type, n, records, content_hash, content_size, payload)
				VALUES (?, ?, ?, ?, ?, ?, ?)`, e.client.Org, string(k.t), i, c.Records, c.ContentHash, c.ContentSize, c.Payload)
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func (e *dataExport) Chunks(ctx context.Context, full bool, fn func(hash string) error) error {
	sent, args := "AND NOT EXISTS (SELECT 1 FROM client_chunks cc WHERE cc.client = ? AND cc.sha256 = j.value->>'sha256')", []any{e.client.Org, e.client.ID}
	if full {
		sent, args = "", args[:1]
	}
	// Not DISTINCT, which may sort by hash: the chunks go in each
	// package's order, and a chunk is sent at its first place.
	rows, err := e.tx.QueryContext(ctx, `SELECT j.value->>'sha256'
		FROM scopes s JOIN entities e ON e.type = s.type AND e.id = s.id, `+e.c.DB.Engine.jsonElements("j", "e.data", "package", "chunks")+`
		WHERE s.org = ? AND s.type = 'delivery' AND e.deleted = 0 `+sent+` ORDER BY e.id, j.key`, args...)
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

// Commit records the bundle in a write transaction of its own, if what the
// export read of the client has not moved (ErrExportMoved otherwise). The
// entities may have changed since the snapshot: the client is recorded as
// holding them at the counter the export read, so that the next delta
// carries every change after it. The read transaction ends only then: an
// export holds its bundle's kept chunks until recorded, and the read
// transactions' bound (DB.BeginRead) so bounds the exports in flight, and their
// memory, however many pulls wait for the writes.
func (e *dataExport) Commit(ctx context.Context, res *bundle.Written, types []taosync.Type, chunks []string, h taosync.HistoryEntry, publish func() error) error {
	defer e.endRead()
	published := false
	err := e.c.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := e.unmoved(ctx, tx); err != nil {
			return err
		}
		if err := e.keepSnapshots(ctx, tx); err != nil {
			return fmt.Errorf("keep the snapshots: %w", err)
		}
		for _, t := range types {
			if err := saveHeld(ctx, tx, e.client.ID, t, e.version, e.next[t]); err != nil {
				return fmt.Errorf("record export: %w", err)
			}
		}
		// An export of the client begun since this one reserved a number
		// of its own, still pending: it stays so.
		_, err := tx.ExecContext(ctx, `UPDATE clients SET data_seq = ?, data_bundle = ?, data_hash = ?, data_at = ?,
			pending_seq = CASE WHEN pending_seq = ? THEN 0 ELSE pending_seq END WHERE id = ?`,
			res.Manifest.Seq, res.Manifest.ID, res.Hash, res.Manifest.Created.UTC().Format(time.RFC3339Nano), e.seq, e.client.ID)
		if err != nil {
			return fmt.Errorf("record export: %w", err)
		}
		for _, c := range chunks {
			if _, err := tx.ExecContext(ctx, "INSERT INTO client_chunks (client, sha256) VALUES (?, ?) ON CONFLICT DO NOTHING", e.client.ID, c); err != nil {
				return fmt.Errorf("record export: %w", err)
			}
		}
		if err := AddHistory(ctx, tx, h); err != nil {
			return err
		}
		// The bundle is published inside the transaction: if the process
		// dies between the two, the database rolls back and the bundle on
		// disk is one central does not know. Its sequence number is not
		// reused, so the client can tell it from the next one, and a full
		// export always applies (see docs/operations.md).
		if err := publish(); err != nil {
			return err
		}
		published = true
		return nil
	})
	// A bundle published keeps its number pending, whatever the commit
	// did: Rollback must not clear it.
	e.done = e.done || published
	return err
}

// unmoved checks, in the transaction that records the export, that the
// client is as the export read it: its keys, its last bundle and the state
// it last reported.
func (e *dataExport) unmoved(ctx context.Context, tx *sql.Tx) error {
	now, err := e.c.GetClient(ctx, tx, e.client.ID)
	if err != nil {
		return err
	}
	if now.RevokedAt != "" {
		return fmt.Errorf("client %s was revoked at %s", now.ID, now.RevokedAt)
	}
	was := e.client
	if now.Org != was.Org || now.AgeRecipient != was.AgeRecipient || now.KeyID != was.KeyID ||
		now.DataSeq != was.DataSeq || now.DataBundle != was.DataBundle || now.DataHash != was.DataHash || now.DataAt != was.DataAt ||
		now.AckedSeq != was.AckedSeq || now.AckedAt != was.AckedAt {
		return fmt.Errorf("record export for %s: %w", now.ID, ErrExportMoved)
	}
	return nil
}

// endRead ends the read transaction, if it is still open.
func (e *dataExport) endRead() {
	if e.tx != nil {
		e.c.DB.EndRead(e.tx)
		e.tx = nil
	}
}

// Rollback abandons the export. Its bundle was never published, so its
// sequence number is no longer pending, unless an earlier export died: its
// bundle still may be on a stick, and the next export must still be full.
func (e *dataExport) Rollback() error {
	e.endRead()
	if e.done {
		return nil
	}
	e.done = true
	return e.clearPending()
}

func (e *dataExport) clearPending() error {
	if e.died {
		return nil
	}
	return e.c.write(context.Background(), func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "UPDATE clients SET pending_seq = 0 WHERE id = ? AND pending_seq = ?", e.client.ID, e.seq)
		return err
	})
}
