package store

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/internal/blobstore"
	"github.com/taosync/taosync/internal/load"
	"github.com/taosync/taosync/internal/password"
)

// Central is central's master data in SQLite.
type Central struct {
	DB     *DB
	Chunks *blobstore.Store
	// Writes, if set, is taken around the transactions that commit the
	// short writes of pulls together (a data export's, a reported
	// state's: see write), so that they queue with the caller's other
	// writes rather than on the database's lock. A caller holding it must
	// not call BeginDataExport, a DataExport's Commit or Rollback, or
	// ReportDataState: they would wait for it.
	Writes sync.Locker
	group  group
}

// EntitySource yields entities with the line each came from; load.Reader is
// one.
type EntitySource interface {
	Next() (taosync.Entity, int, error)
}

// LoadResult counts what a load changed.
type LoadResult struct {
	Type      string `json:"type"`
	File      string `json:"file"`
	Created   int64  `json:"created"`
	Updated   int64  `json:"updated"`
	Unchanged int64  `json:"unchanged"`
	Deleted   int64  `json:"deleted"`
}

// nextVersion returns the version number for the changes of a
// transaction, from a counter in meta (an index on entities.version would
// cost every write of every entity, on central and on clients alike). The
// snapshots kept for full exports are of the data before: it drops them.
func nextVersion(ctx context.Context, q Querier) (int64, error) {
	if err := dropSnapshots(ctx, q); err != nil {
		return 0, err
	}
	var v int64
	err := q.QueryRowContext(ctx, `INSERT INTO meta (key, value) VALUES ('entity_version', '1')
		ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1 RETURNING CAST(value AS INTEGER)`).Scan(&v)
	return v, err
}

// dropSnapshots empties the snapshots kept for full exports (see
// dataExport.Snapshot).
func dropSnapshots(ctx context.Context, q Querier) error {
	for _, table := range []string{"snapshot_chunks", "snapshots"} {
		if _, err := q.ExecContext(ctx, "DELETE FROM "+table); err != nil {
			return fmt.Errorf("drop kept snapshots: %w", err)
		}
	}
	return nil
}

// rowContext is the context of the statements run once per row: without
// cancellation, because go-sqlite3 watches a cancellable context with a
// goroutine per statement, which made a bulk load or import 40 to 70%
// slower. The loops check the caller's context themselves.
func rowContext(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

// loadStmts are the prepared statements of a load.
type loadStmts struct {
	get, put, exists, links, unlink, link, seen *sql.Stmt
}

func prepareLoad(ctx context.Context, tx *sql.Tx) (*loadStmts, error) {
	var s loadStmts
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&s.get, "SELECT data, deleted FROM entities WHERE type = ? AND id = ?"},
		{&s.put, `INSERT INTO entities (type, id, data, version, deleted) VALUES (?, ?, ?, ?, 0)
			ON CONFLICT (type, id) DO UPDATE SET data = excluded.data, version = excluded.version, deleted = 0`},
		{&s.exists, "SELECT 1 FROM entities WHERE type = ? AND id = ? AND deleted = 0"},
		{&s.links, "SELECT ref_type, ref_id FROM entity_links WHERE type = ? AND id = ? ORDER BY ref_type, ref_id"},
		{&s.unlink, "DELETE FROM entity_links WHERE type = ? AND id = ?"},
		{&s.link, "INSERT OR IGNORE INTO entity_links (type, id, ref_type, ref_id) VALUES (?, ?, ?, ?)"},
		{&s.seen, "INSERT INTO temp.load_seen (id) VALUES (?)"},
	} {
		st, err := tx.PrepareContext(ctx, p.sql)
		if err != nil {
			s.close()
			return nil, err
		}
		*p.stmt = st
	}
	return &s, nil
}

func (s *loadStmts) close() {
	for _, st := range []*sql.Stmt{s.get, s.put, s.exists, s.links, s.unlink, s.link, s.seen} {
		if st != nil {
			st.Close()
		}
	}
}

// Load upserts the entities of one file, all or nothing: a bad row, or a
// reference to an entity that does not exist, aborts the whole file with a
// *load.RowError. With prune, live entities of the type absent from the file
// become tombstones.
func (c *Central) Load(ctx context.Context, file string, t taosync.Type, src EntitySource, prune bool) (LoadResult, error) {
	res := LoadResult{Type: string(t), File: file}
	tx, err := c.DB.BeginTx(ctx, nil)
	if err != nil {
		return res, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "CREATE TEMP TABLE IF NOT EXISTS load_seen (id TEXT PRIMARY KEY) WITHOUT ROWID"); err != nil {
		return res, err
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM temp.load_seen"); err != nil {
		return res, err
	}
	version, err := nextVersion(ctx, tx)
	if err != nil {
		return res, err
	}
	st, err := prepareLoad(ctx, tx)
	if err != nil {
		return res, err
	}
	defer st.close()
	outer := ctx
	ctx = rowContext(ctx)
	// rescope: a link changed, or an entity became live again, so the
	// scopes must be computed again before the commit.
	rescope := false
	for n := 0; ; n++ {
		if n%1024 == 0 && outer.Err() != nil {
			return res, outer.Err()
		}
		e, line, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return res, err
		}
		fields, err := decodeObject(e.Data)
		if err != nil {
			return res, &load.RowError{File: file, Line: line, Reason: err.Error()}
		}
		links, err := refsOf(ctx, st, file, line, t, e.ID, fields)
		if err != nil {
			return res, err
		}
		var old []byte
		var deleted, created bool
		err = st.get.QueryRowContext(ctx, string(t), e.ID).Scan(&old, &deleted)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			created = true
			res.Created++
		case err != nil:
			return res, err
		default:
			if e.Password != "" {
				if e.Data, err = keepPasswordHash(old, e.Password, fields); err != nil {
					return res, err
				}
			}
			if t == taosync.Delivery {
				// The package is central's, set by publish: a reload of the
				// deliveries keeps it.
				if e.Data, err = keepPackage(old, fields); err != nil {
					return res, err
				}
			}
			switch {
			case deleted:
				res.Created++
			case bytes.Equal(old, e.Data):
				res.Unchanged++
			default:
				res.Updated++
			}
		}
		if _, err := st.seen.ExecContext(ctx, e.ID); err != nil {
			return res, err
		}
		if !deleted && bytes.Equal(old, e.Data) {
			continue
		}
		if _, err := st.put.ExecContext(ctx, string(t), e.ID, e.Data, version); err != nil {
			return res, err
		}
		relinked, err := relink(ctx, st, t, e.ID, created, links)
		if err != nil {
			return res, err
		}
		rescope = rescope || relinked || deleted
	}
	if prune {
		n, err := c.tombstone(ctx, tx, t, version, "id NOT IN (SELECT id FROM temp.load_seen)")
		if err != nil {
			return res, err
		}
		res.Deleted = n
		rescope = rescope || n > 0
	}
	if rescope {
		if err := refreshScopes(ctx, tx); err != nil {
			return res, err
		}
	}
	return res, tx.Commit()
}

// relink replaces the links of an entity if they changed, and reports
// whether they did.
func relink(ctx context.Context, st *loadStmts, t taosync.Type, id string, created bool, links [][2]string) (bool, error) {
	slices.SortFunc(links, func(a, b [2]string) int { return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1])) })
	links = slices.Compact(links)
	if !created {
		rows, err := st.links.QueryContext(ctx, string(t), id)
		if err != nil {
			return false, err
		}
		var old [][2]string
		for rows.Next() {
			var l [2]string
			if err := rows.Scan(&l[0], &l[1]); err != nil {
				rows.Close()
				return false, err
			}
			old = append(old, l)
		}
		if err := rows.Close(); err != nil {
			return false, err
		}
		if slices.Equal(old, links) {
			return false, nil
		}
		if _, err := st.unlink.ExecContext(ctx, string(t), id); err != nil {
			return false, err
		}
	}
	for _, l := range links {
		if _, err := st.link.ExecContext(ctx, string(t), id, l[0], l[1]); err != nil {
			return false, err
		}
	}
	return len(links) > 0 || !created, nil
}

// tombstone marks the live entities of type t matching where as deleted, and
// drops their links; the caller computes the scopes again if any was.
func (c *Central) tombstone(ctx context.Context, tx *sql.Tx, t taosync.Type, version int64, where string) (int64, error) {
	cond := "type = ? AND deleted = 0 AND " + where
	if _, err := tx.ExecContext(ctx, "DELETE FROM entity_links WHERE (type, id) IN (SELECT type, id FROM entities WHERE "+cond+")", string(t)); err != nil {
		return 0, err
	}
	r, err := tx.ExecContext(ctx, "UPDATE entities SET deleted = 1, version = ? WHERE "+cond, version, string(t))
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}

func decodeObject(data []byte) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// keepPackage copies the package field of the stored delivery old into the
// new fields, and returns the new data.
func keepPackage(old []byte, fields map[string]json.RawMessage) ([]byte, error) {
	prev, err := decodeObject(old)
	if err != nil {
		return nil, err
	}
	if p, ok := prev[taosync.PackageField]; ok {
		fields[taosync.PackageField] = p
	}
	return load.Encode(fields)
}

// keepPasswordHash puts the stored entity's password hash into the new
// fields if it is a hash of the same clear password (a new hash has a new
// salt: without this, reloading a file with passwords would change every
// row), and returns the new data.
func keepPasswordHash(old []byte, clear string, fields map[string]json.RawMessage) ([]byte, error) {
	var prev struct {
		Hash string `json:"password_hash"`
	}
	if err := json.Unmarshal(old, &prev); err != nil {
		return nil, err
	}
	if ok, err := password.Verify(clear, prev.Hash); err == nil && ok {
		fields["password_hash"], _ = json.Marshal(prev.Hash)
	}
	return load.Encode(fields)
}

// refsOf returns the entity's links, checking that every entity it names
// exists.
func refsOf(ctx context.Context, st *loadStmts, file string, line int, t taosync.Type, id string, fields map[string]json.RawMessage) ([][2]string, error) {
	var links [][2]string
	for _, f := range taosync.Fields[t] {
		if f.Name == "org_id" && t == taosync.TestCenter {
			var org string
			if err := json.Unmarshal(fields[f.Name], &org); err != nil {
				return nil, &load.RowError{File: file, Line: line, Field: f.Name, Reason: err.Error()}
			}
			links = append(links, [2]string{"org", org})
			continue
		}
		raw, ok := fields[f.Name]
		if f.Ref == "" || !ok {
			continue
		}
		var ids []string
		if f.Kind == taosync.List {
			if err := json.Unmarshal(raw, &ids); err != nil {
				return nil, &load.RowError{File: file, Line: line, Field: f.Name, Reason: err.Error()}
			}
		} else {
			var one string
			if err := json.Unmarshal(raw, &one); err != nil {
				return nil, &load.RowError{File: file, Line: line, Field: f.Name, Reason: err.Error()}
			}
			ids = []string{one}
		}
		for _, ref := range ids {
			var one int
			err := st.exists.QueryRowContext(ctx, string(f.Ref), ref).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return nil, &load.RowError{File: file, Line: line, Field: f.Name,
					Reason: fmt.Sprintf("unknown %s %q (load it with --type %s first)", f.Ref, ref, f.Ref)}
			}
			if err != nil {
				return nil, err
			}
			links = append(links, [2]string{string(f.Ref), ref})
		}
	}
	return links, nil
}
