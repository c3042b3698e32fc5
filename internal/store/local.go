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
	"github.com/taosync/taosync/internal/blobstore"
	"github.com/taosync/taosync/internal/safefile"
	"github.com/taosync/taosync/manifest"
)

// ClientDB is a client's local copy of its scope in SQLite.
type ClientDB struct {
	DB     *DB
	Chunks *blobstore.Store
	// DeleteAfterSend deletes a result's payload when its receipt arrives.
	DeleteAfterSend bool
}

// DataState returns the last data bundle applied.
func (l *ClientDB) DataState(ctx context.Context) (taosync.DataState, error) {
	return dataState(ctx, l.DB)
}

// Applied reports whether a bundle was applied here.
func (l *ClientDB) Applied(ctx context.Context, bundleID string) (bool, error) {
	return applied(ctx, l.DB, bundleID)
}

func dataState(ctx context.Context, q Querier) (taosync.DataState, error) {
	var s taosync.DataState
	seq, err := Meta(ctx, q, "data_seq")
	if errors.Is(err, ErrNotFound) {
		return s, nil
	}
	if err != nil {
		return s, err
	}
	if s.Seq, err = strconv.ParseUint(seq, 10, 64); err != nil {
		return s, fmt.Errorf("meta data_seq %q: %w", seq, err)
	}
	if s.Bundle, err = Meta(ctx, q, "data_bundle"); err != nil {
		return s, err
	}
	s.Hash, err = Meta(ctx, q, "data_hash")
	return s, err
}

func applied(ctx context.Context, q Querier, bundleID string) (bool, error) {
	var one int
	err := q.QueryRowContext(ctx, "SELECT 1 FROM applied_bundles WHERE bundle_id = ?", bundleID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// BeginApply starts applying a bundle in one transaction. For a full
// snapshot, the versions held of each type are read once up front: records
// already held in their version then cost no statement at all, the others
// one (an insert or an update), and what the snapshot lacks is known without
// a statement per record.
func (l *ClientDB) BeginApply(ctx context.Context, full bool, packageChunks []string) (taosync.DataApply, error) {
	tx, err := l.DB.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	a := &apply{l: l, tx: tx, check: l.Chunks.NewChecker(packageChunks), packageOf: map[string]string{}}
	if full {
		a.held = map[taosync.Type]map[string]int64{}
	}
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&a.upd, "UPDATE entities SET data = ?, version = ? WHERE type = ? AND id = ? AND version <> ?"},
		{&a.ins, "INSERT INTO entities (type, id, data, version) VALUES (?, ?, ?, ?)"},
		{&a.add, "INSERT INTO entities (type, id, data, version) VALUES (?, ?, ?, ?) ON CONFLICT (type, id) DO NOTHING"},
		{&a.del, "DELETE FROM entities WHERE type = ? AND id = ?"},
	} {
		if *p.stmt, err = tx.PrepareContext(ctx, p.sql); err != nil {
			a.Rollback()
			return nil, err
		}
	}
	return a, nil
}

type apply struct {
	l  *ClientDB
	tx *sql.Tx
	// upd updates an entity held in another version; ins inserts one known
	// not to be held, add one that may be.
	upd, ins, add, del *sql.Stmt
	// held maps, per type, the ids held to their versions, in a full
	// snapshot; ids are removed as the snapshot names them, so that what
	// is left at the end is what the snapshot lacks.
	held       map[taosync.Type]map[string]int64
	deliveries []string
	// chunks are the package chunks stored, made durable by Commit.
	chunks safefile.Batch
	// check hashes the packages of the deliveries upserted, the first
	// checked of them, as their chunks are stored; packageOf names a
	// delivery of each package, for errors.
	check     *blobstore.Checker
	checked   int
	packageOf map[string]string
	done      bool
}

// heldVersion returns, in a full snapshot, the version of an entity held,
// and whether it is held.
func (a *apply) heldVersion(ctx context.Context, t taosync.Type, id string) (int64, bool, error) {
	held, ok := a.held[t]
	if !ok {
		held = map[string]int64{}
		rows, err := a.tx.QueryContext(ctx, "SELECT id, version FROM entities WHERE type = ?", string(t))
		if err != nil {
			return 0, false, err
		}
		for rows.Next() {
			var id string
			var v int64
			if err := rows.Scan(&id, &v); err != nil {
				rows.Close()
				return 0, false, err
			}
			held[id] = v
		}
		if err := rows.Close(); err != nil {
			return 0, false, err
		}
		a.held[t] = held
	}
	v, ok := held[id]
	delete(held, id)
	return v, ok, nil
}

// DataState reads the data state inside the transaction.
func (a *apply) DataState(ctx context.Context) (taosync.DataState, error) {
	return dataState(ctx, a.tx)
}

// Applied reads inside the transaction whether a bundle was applied.
func (a *apply) Applied(ctx context.Context, bundleID string) (bool, error) {
	return applied(ctx, a.tx, bundleID)
}

func (a *apply) Upsert(ctx context.Context, t taosync.Type, id string, version int64, data []byte) (taosync.Change, error) {
	change, err := a.write(rowContext(ctx), t, id, version, data) // the importer checks cancellation between chunks
	if err != nil {
		return 0, err
	}
	if t == taosync.Delivery && change != taosync.Unchanged {
		a.deliveries = append(a.deliveries, id)
	}
	return change, nil
}

// write stores an entity unless it is held in this version. Outside a full
// snapshot, the versions held are not known: the update is tried first (a
// delta's records are mostly changes), then the insert; each says by the
// rows it changed whether it applied, so that no record costs a query.
func (a *apply) write(ctx context.Context, t taosync.Type, id string, version int64, data []byte) (taosync.Change, error) {
	if a.held != nil {
		have, ok, err := a.heldVersion(ctx, t, id)
		switch {
		case err != nil:
			return 0, err
		case !ok:
			_, err = changed(ctx, a.ins, string(t), id, data, version)
			return taosync.Created, err
		case have == version:
			return taosync.Unchanged, nil
		}
		_, err = changed(ctx, a.upd, data, version, string(t), id, version)
		return taosync.Updated, err
	}
	if n, err := changed(ctx, a.upd, data, version, string(t), id, version); err != nil || n > 0 {
		return taosync.Updated, err
	}
	n, err := changed(ctx, a.add, string(t), id, data, version)
	if err != nil || n > 0 {
		return taosync.Created, err
	}
	return taosync.Unchanged, nil
}

// changed runs a prepared statement and returns the number of rows it changed.
func changed(ctx context.Context, st *sql.Stmt, args ...any) (int64, error) {
	r, err := st.ExecContext(ctx, args...)
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}

func (a *apply) Delete(ctx context.Context, t taosync.Type, id string) (bool, error) {
	n, err := changed(rowContext(ctx), a.del, string(t), id)
	return n > 0, err
}

func (a *apply) Sweep(ctx context.Context, t taosync.Type) (int64, error) {
	if a.held == nil {
		return 0, errors.New("sweep outside a full snapshot")
	}
	if _, ok := a.held[t]; !ok {
		// The snapshot holds no record of t: load what is held, all of
		// which goes.
		if _, _, err := a.heldVersion(ctx, t, ""); err != nil {
			return 0, err
		}
	}
	var n int64
	for id := range a.held[t] {
		gone, err := a.Delete(ctx, t, id)
		if err != nil {
			return n, err
		}
		if gone {
			n++
		}
	}
	delete(a.held, t)
	return n, nil
}

func (a *apply) Receipt(ctx context.Context, r taosync.Receipt) (bool, error) {
	ctx = rowContext(ctx)
	// The batch counts as held whatever its receipts name: a client
	// restored from a backup must not be sent it forever. (A receipt
	// bundle naming an unknown execution is refused, and rolls this back.)
	res, err := a.tx.ExecContext(ctx, "INSERT INTO receipt_batches (seq, applied_at) VALUES (?, ?) ON CONFLICT DO NOTHING", r.Batch, now())
	if err != nil {
		return false, err
	}
	if r.Bundle != "" {
		// A result bundle of no execution (the readiness report only):
		// holding its batch is all there is to acknowledge.
		n, err := res.RowsAffected()
		return n > 0, err
	}
	var hash string
	var rev int64
	err = a.tx.QueryRowContext(ctx, "SELECT content_hash, revision FROM outbox WHERE id = ?", r.ID).Scan(&hash, &rev)
	if errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("%w: %s", taosync.ErrUnknownExecution, r.ID)
	}
	if err != nil {
		return false, err
	}
	var acked int64
	// A receipt for an older revision acknowledges nothing now, even of the
	// same content (a correction undone): the current one still has to go.
	if hash == r.ContentHash && rev == r.Revision {
		res, err := a.tx.ExecContext(ctx, `UPDATE outbox SET state = 'acknowledged', acked_at = ?
			WHERE id = ? AND state <> 'acknowledged'`, now(), r.ID)
		if err != nil {
			return false, err
		}
		if acked, err = res.RowsAffected(); err != nil {
			return false, err
		}
		// The payload goes only now that central holds it, never before.
		if a.l.DeleteAfterSend {
			if _, err := a.tx.ExecContext(ctx, "DELETE FROM outbox_payloads WHERE id = ?", r.ID); err != nil {
				return false, err
			}
		}
	}
	return acked > 0, nil
}

// StoreChunk stores a package chunk without waiting for the disk (Commit
// makes it durable). hash is the content hash Bundle.Read has just checked
// data against, in this process: the store does not hash data again.
func (a *apply) StoreChunk(hash string, data []byte) error {
	return a.l.Chunks.Stage(&a.chunks, hash, data)
}

// ChunkStored hashes a stored chunk into the packages it belongs to; as
// for StoreChunk, data was checked against hash in this process, so the
// checker does not read it back.
func (a *apply) ChunkStored(ctx context.Context, hash string, data []byte) error {
	if err := a.addPackages(ctx); err != nil {
		return err
	}
	a.check.Stored(hash, data)
	return nil
}

// addPackages starts checking the packages of the deliveries upserted
// since it last ran.
func (a *apply) addPackages(ctx context.Context) error {
	for ; a.checked < len(a.deliveries); a.checked++ {
		d := a.deliveries[a.checked]
		ref, err := DeliveryPackage(ctx, a.tx, d)
		if errors.Is(err, ErrNoPackage) {
			continue
		}
		if err != nil {
			return err
		}
		a.packageOf[ref.Hash] = d
		a.check.Add(&ref.Snapshot)
	}
	return nil
}

func (a *apply) CheckPackages(ctx context.Context) error {
	if err := a.addPackages(ctx); err != nil {
		return err
	}
	if snap, err := a.check.Check(); err != nil {
		return fmt.Errorf("delivery %s: package %s is incomplete or corrupt: %w", a.packageOf[snap.Hash], snap.Hash, err)
	}
	return nil
}

func (a *apply) Commit(ctx context.Context, b *bundle.Bundle, h taosync.HistoryEntry) error {
	m := b.Manifest
	if m.Kind == manifest.KindData {
		s, err := a.DataState(ctx)
		if err != nil {
			return err
		}
		if m.Seq <= s.Seq {
			return &bundle.Error{Bundle: b.Name(), Err: fmt.Errorf("%w: seq %d is not above the seq %d this client holds", taosync.ErrRollback, m.Seq, s.Seq)}
		}
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
	// The package chunks this transaction makes count must be on the
	// disk before it commits.
	if err := a.chunks.Sync(); err != nil {
		return err
	}
	a.done = true
	a.close()
	return a.tx.Commit()
}

func (a *apply) close() {
	for _, s := range []*sql.Stmt{a.upd, a.ins, a.add, a.del} {
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
	a.chunks.Discard()
	return a.tx.Rollback()
}
