package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/bundle"
	"github.com/taosync/taosync/exporter"
	"github.com/taosync/taosync/importer"
	"github.com/taosync/taosync/internal/blobstore"
	"github.com/taosync/taosync/manifest"
)

// Local is a client's local copy of its scope in SQLite.
type Local struct {
	DB     *DB
	Chunks *blobstore.Store
	// DeleteAfterSend deletes a result's payload when its receipt arrives.
	DeleteAfterSend bool
}

// DataState returns the last data bundle applied.
func (l *Local) DataState(ctx context.Context) (importer.State, error) {
	var s importer.State
	seq, err := Meta(ctx, l.DB, "data_seq")
	if errors.Is(err, ErrNotFound) {
		return s, nil
	}
	if err != nil {
		return s, err
	}
	if s.Seq, err = strconv.ParseUint(seq, 10, 64); err != nil {
		return s, fmt.Errorf("meta data_seq %q: %w", seq, err)
	}
	if s.Bundle, err = Meta(ctx, l.DB, "data_bundle"); err != nil {
		return s, err
	}
	s.Hash, err = Meta(ctx, l.DB, "data_hash")
	return s, err
}

// Applied reports whether a bundle was applied here.
func (l *Local) Applied(ctx context.Context, bundleID string) (bool, error) {
	var one int
	err := l.DB.QueryRowContext(ctx, "SELECT 1 FROM applied_bundles WHERE bundle_id = ?", bundleID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// BeginApply starts applying a bundle in one transaction.
func (l *Local) BeginApply(ctx context.Context) (importer.DataApply, error) {
	tx, err := l.DB.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	a := &apply{l: l, tx: tx}
	for _, q := range []string{
		"CREATE TEMP TABLE IF NOT EXISTS seen (type TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (type, id)) WITHOUT ROWID",
		"DELETE FROM temp.seen",
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			tx.Rollback()
			return nil, err
		}
	}
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&a.get, "SELECT version FROM entities WHERE type = ? AND id = ?"},
		{&a.put, `INSERT INTO entities (type, id, data, version) VALUES (?, ?, ?, ?)
			ON CONFLICT (type, id) DO UPDATE SET data = excluded.data, version = excluded.version`},
		{&a.del, "DELETE FROM entities WHERE type = ? AND id = ?"},
		{&a.seen, "INSERT OR IGNORE INTO temp.seen (type, id) VALUES (?, ?)"},
	} {
		if *p.stmt, err = tx.PrepareContext(ctx, p.sql); err != nil {
			a.Rollback()
			return nil, err
		}
	}
	return a, nil
}

type apply struct {
	l                   *Local
	tx                  *sql.Tx
	get, put, del, seen *sql.Stmt
	deliveries          []string
	done                bool
}

func (a *apply) Upsert(ctx context.Context, t taosync.Type, id string, version int64, data []byte) (exporter.Change, error) {
	if _, err := a.seen.ExecContext(ctx, string(t), id); err != nil {
		return 0, err
	}
	var have int64
	change := exporter.Updated
	err := a.get.QueryRowContext(ctx, string(t), id).Scan(&have)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		change = exporter.Created
	case err != nil:
		return 0, err
	case have == version:
		return exporter.Unchanged, nil
	}
	if _, err := a.put.ExecContext(ctx, string(t), id, data, version); err != nil {
		return 0, err
	}
	if t == taosync.Delivery {
		a.deliveries = append(a.deliveries, id)
	}
	return change, nil
}

func (a *apply) Delete(ctx context.Context, t taosync.Type, id string) (bool, error) {
	r, err := a.del.ExecContext(ctx, string(t), id)
	if err != nil {
		return false, err
	}
	n, err := r.RowsAffected()
	return n > 0, err
}

func (a *apply) Sweep(ctx context.Context, t taosync.Type) (int64, error) {
	r, err := a.tx.ExecContext(ctx, `DELETE FROM entities WHERE type = ?1
		AND id NOT IN (SELECT id FROM temp.seen WHERE type = ?1)`, string(t))
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}

func (a *apply) Receipt(ctx context.Context, r taosync.Receipt) error {
	var hash string
	err := a.tx.QueryRowContext(ctx, "SELECT content_hash FROM outbox WHERE id = ?", r.ID).Scan(&hash)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %s", importer.ErrUnknownExecution, r.ID)
	}
	if err != nil {
		return err
	}
	// A receipt for an older revision acknowledges nothing now: the
	// current one still has to go.
	if hash == r.ContentHash {
		if _, err := a.tx.ExecContext(ctx, `UPDATE outbox SET state = 'acknowledged', acked_at = ?1,
			result_xml = CASE WHEN ?2 THEN NULL ELSE result_xml END
			WHERE id = ?3 AND state <> 'acknowledged'`, now(), a.l.DeleteAfterSend, r.ID); err != nil {
			return err
		}
	}
	_, err = a.tx.ExecContext(ctx, "INSERT OR IGNORE INTO receipt_batches (seq, applied_at) VALUES (?, ?)", r.Batch, now())
	return err
}

func (a *apply) PutChunk(hash string, data []byte) error { return a.l.Chunks.Put(hash, data) }

func (a *apply) CheckPackages(ctx context.Context) error {
	for _, d := range a.deliveries {
		ref, err := DeliveryPackage(ctx, a.tx, d)
		if errors.Is(err, ErrNoPackage) {
			continue
		}
		if err != nil {
			return err
		}
		if err := a.l.Chunks.Verify(&ref.Snapshot); err != nil {
			return fmt.Errorf("delivery %s: package %s is incomplete or corrupt: %w", d, ref.Hash, err)
		}
	}
	return nil
}

func (a *apply) Commit(ctx context.Context, b *bundle.Bundle, h taosync.HistoryEntry) error {
	m := b.Manifest
	if m.Kind == manifest.KindData {
		for k, v := range map[string]string{
			"data_seq": strconv.FormatUint(m.Seq, 10), "data_bundle": m.ID, "data_hash": b.Hash,
			"org": m.Recipient.Org,
		} {
			if err := SetMeta(ctx, a.tx, k, v); err != nil {
				return err
			}
		}
	}
	if _, err := a.tx.ExecContext(ctx, `INSERT INTO applied_bundles (bundle_id, kind, stream, seq, manifest_hash, applied_at)
		VALUES (?, ?, ?, ?, ?, ?)`, m.ID, string(m.Kind), m.Stream, m.Seq, b.Hash, time.Now().UTC().Format(time.RFC3339)); err != nil {
		return err
	}
	if err := AddHistory(ctx, a.tx, h); err != nil {
		return err
	}
	a.done = true
	a.close()
	return a.tx.Commit()
}

func (a *apply) close() {
	for _, s := range []*sql.Stmt{a.get, a.put, a.del, a.seen} {
		if s != nil {
			s.Close()
		}
	}
}

func (a *apply) Rollback() error {
	if a.done {
		return nil
	}
	a.done = true
	a.close()
	return a.tx.Rollback()
}
