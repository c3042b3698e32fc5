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
	"strings"
	"sync"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/internal/blobstore"
	"github.com/taosync/taosync/internal/load"
	"github.com/taosync/taosync/internal/password"
)

// CentralDB is central's database (SQLite, or PostgreSQL): master data, clients,
// results.
type CentralDB struct {
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

// LoadCounts counts what a load changed.
type LoadCounts struct {
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
		ON CONFLICT (key) DO UPDATE SET value = CAST(meta.value AS BIGINT) + 1 RETURNING CAST(value AS BIGINT)`).Scan(&v)
	return v, err
}

// entityVersion reads the counter nextVersion moves (0 before the first
// change). BIGINT: PostgreSQL's INTEGER is 32 bits.
func entityVersion(ctx context.Context, q Querier) (int64, error) {
	var v int64
	err := q.QueryRowContext(ctx, "SELECT COALESCE((SELECT CAST(value AS BIGINT) FROM meta WHERE key = 'entity_version'), 0)").Scan(&v)
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

// loadBatch is how many rows of a file a load checks and writes at once:
// each step is one statement a batch rather than one a row, which on
// PostgreSQL is one round trip to the server a batch.
const loadBatch = 500

// loadRow is a row of a file being loaded.
type loadRow struct {
	e      taosync.Entity
	line   int
	fields map[string]json.RawMessage
}

// Load upserts the entities of one file, all or nothing: a bad row, or a
// reference to an entity that does not exist, aborts the whole file with a
// *load.RowError (the first in the file). With prune, live entities of the
// type absent from the file become tombstones.
func (c *CentralDB) Load(ctx context.Context, file string, t taosync.Type, src EntitySource, prune bool) (LoadCounts, error) {
	res := LoadCounts{Type: string(t), File: file}
	tx, err := c.DB.BeginTx(ctx, nil)
	if err != nil {
		return res, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, c.DB.Engine.tempTable("load_seen", "id TEXT PRIMARY KEY")); err != nil {
		return res, err
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM load_seen"); err != nil {
		return res, err
	}
	version, err := nextVersion(ctx, tx)
	if err != nil {
		return res, err
	}
	l := &loader{tx: tx, t: t, file: file, version: version, res: &res}
	// batch holds rows of distinct ids: a row whose id is in it already
	// flushes it first, so that the later row wins as it would alone.
	var batch []loadRow
	inBatch := map[string]bool{}
	// On PostgreSQL, the planner's statistics of the tables a load fills
	// are refreshed, inside its transaction, each time the rows it wrote
	// double: planned on the statistics of the table before the load (an
	// empty one, at first), each batch's lookups read every row loaded
	// so far, and a load of a million rows never ends.
	var rows, analyzed int
	flush := func() error {
		err := l.apply(ctx, batch)
		rows += len(batch)
		batch = batch[:0]
		clear(inBatch)
		if err == nil && c.DB.Engine == Postgres && rows >= 4*loadBatch && rows >= 2*analyzed {
			if _, err = tx.ExecContext(ctx, "ANALYZE entities, entity_links, load_seen"); err != nil {
				err = fmt.Errorf("refresh the statistics of the tables loaded: %w", err)
			}
			analyzed = rows
		}
		return err
	}
	for {
		e, line, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err == nil && inBatch[e.ID] {
			err = flush()
		}
		var fields map[string]json.RawMessage
		if err == nil {
			if fields, err = decodeObject(e.Data); err != nil {
				err = &load.RowError{File: file, Line: line, Reason: err.Error()}
			}
		}
		if err != nil {
			// The rows before this one come first: their error, if any.
			if ferr := flush(); ferr != nil {
				return res, ferr
			}
			return res, err
		}
		batch = append(batch, loadRow{e: e, line: line, fields: fields})
		inBatch[e.ID] = true
		if len(batch) == loadBatch {
			if err := flush(); err != nil {
				return res, err
			}
		}
	}
	if err := flush(); err != nil {
		return res, err
	}
	if prune {
		n, err := c.tombstone(ctx, tx, t, version, "id NOT IN (SELECT id FROM load_seen)")
		if err != nil {
			return res, err
		}
		res.Deleted = n
		l.rescope = l.rescope || n > 0
	}
	if l.rescope {
		if err := refreshScopes(ctx, tx); err != nil {
			return res, err
		}
	}
	return res, tx.Commit()
}

// loader is a load under way.
type loader struct {
	tx      *sql.Tx
	t       taosync.Type
	file    string
	version int64
	res     *LoadCounts
	// rescope: a link changed, or an entity became live again, so the
	// scopes must be computed again before the commit.
	rescope bool
}

// apply checks and writes a batch of rows of distinct ids.
func (l *loader) apply(ctx context.Context, batch []loadRow) error {
	if len(batch) == 0 {
		return nil
	}
	links, err := l.refs(ctx, batch)
	if err != nil {
		return err
	}
	ids := make([]string, len(batch))
	for i, r := range batch {
		ids[i] = r.e.ID
	}
	type stored struct {
		data    []byte
		deleted bool
	}
	old := map[string]stored{}
	err = eachIn(ctx, l.tx, "SELECT id, data, deleted FROM entities WHERE type = ? AND id IN (%s)", []any{string(l.t)}, ids,
		func(rows *sql.Rows) error {
			var id string
			var s stored
			if err := rows.Scan(&id, &s.data, &s.deleted); err != nil {
				return err
			}
			old[id] = s
			return nil
		})
	if err != nil {
		return err
	}
	var puts []any
	var relinked, unlinked []string // ids whose links are compared, replaced
	created := map[string]bool{}
	for i := range batch {
		r := &batch[i]
		prev, found := old[r.e.ID]
		switch {
		case !found:
			created[r.e.ID] = true
			l.res.Created++
		default:
			if r.e.Password != "" {
				if r.e.Data, err = keepPasswordHash(prev.data, r.e.Password, r.fields); err != nil {
					return err
				}
			}
			if l.t == taosync.Delivery {
				// The package is central's, set by publish: a reload of
				// the deliveries keeps it.
				if r.e.Data, err = keepPackage(prev.data, r.fields); err != nil {
					return err
				}
			}
			switch {
			case prev.deleted:
				l.res.Created++
			case bytes.Equal(prev.data, r.e.Data):
				l.res.Unchanged++
				continue
			default:
				l.res.Updated++
			}
			l.rescope = l.rescope || prev.deleted
			relinked = append(relinked, r.e.ID)
		}
		puts = append(puts, string(l.t), r.e.ID, r.e.Data, l.version)
	}
	if err := insertRows(ctx, l.tx, "INSERT INTO load_seen (id) VALUES %s", 1, anys(ids), ""); err != nil {
		return err
	}
	err = insertRows(ctx, l.tx, "INSERT INTO entities (type, id, data, version) VALUES %s", 4, puts,
		"ON CONFLICT (type, id) DO UPDATE SET data = excluded.data, version = excluded.version, deleted = 0")
	if err != nil {
		return err
	}
	// The links of an entity that was there before change only if they
	// differ from those stored.
	had := map[string][][2]string{}
	err = eachIn(ctx, l.tx, "SELECT id, ref_type, ref_id FROM entity_links WHERE type = ? AND id IN (%s) ORDER BY id, ref_type, ref_id",
		[]any{string(l.t)}, relinked, func(rows *sql.Rows) error {
			var id string
			var ref [2]string
			if err := rows.Scan(&id, &ref[0], &ref[1]); err != nil {
				return err
			}
			had[id] = append(had[id], ref)
			return nil
		})
	if err != nil {
		return err
	}
	var link []any
	for _, id := range relinked {
		if !slices.Equal(had[id], links[id]) {
			unlinked = append(unlinked, id)
		}
	}
	for _, r := range batch {
		if !created[r.e.ID] && !slices.Contains(unlinked, r.e.ID) {
			continue
		}
		for _, ref := range links[r.e.ID] {
			link = append(link, string(l.t), r.e.ID, ref[0], ref[1])
		}
		l.rescope = l.rescope || len(links[r.e.ID]) > 0 || !created[r.e.ID]
	}
	if err := eachIn(ctx, l.tx, "DELETE FROM entity_links WHERE type = ? AND id IN (%s)", []any{string(l.t)}, unlinked, nil); err != nil {
		return err
	}
	return insertRows(ctx, l.tx, "INSERT INTO entity_links (type, id, ref_type, ref_id) VALUES %s", 4, link, "ON CONFLICT DO NOTHING")
}

// refs returns the links of each row's entity, by id, sorted, checking that
// every entity they name exists: the first row in the file naming one that
// does not fails the load.
func (l *loader) refs(ctx context.Context, batch []loadRow) (map[string][][2]string, error) {
	type named struct {
		field string
		ref   [2]string
	}
	all := make([][]named, len(batch))
	wanted := map[taosync.Type][]string{}
	for i, r := range batch {
		for _, f := range taosync.Fields[l.t] {
			if f.Name == "org_id" && l.t == taosync.TestCenter {
				var org string
				if err := json.Unmarshal(r.fields[f.Name], &org); err != nil {
					return nil, &load.RowError{File: l.file, Line: r.line, Field: f.Name, Reason: err.Error()}
				}
				all[i] = append(all[i], named{f.Name, [2]string{"org", org}})
				continue
			}
			raw, ok := r.fields[f.Name]
			if f.Ref == "" || !ok {
				continue
			}
			var ids []string
			if f.Kind == taosync.List {
				if err := json.Unmarshal(raw, &ids); err != nil {
					return nil, &load.RowError{File: l.file, Line: r.line, Field: f.Name, Reason: err.Error()}
				}
			} else {
				var one string
				if err := json.Unmarshal(raw, &one); err != nil {
					return nil, &load.RowError{File: l.file, Line: r.line, Field: f.Name, Reason: err.Error()}
				}
				ids = []string{one}
			}
			for _, ref := range ids {
				all[i] = append(all[i], named{f.Name, [2]string{string(f.Ref), ref}})
				wanted[f.Ref] = append(wanted[f.Ref], ref)
			}
		}
	}
	live := map[[2]string]bool{}
	for typ, ids := range wanted {
		slices.Sort(ids)
		err := eachIn(ctx, l.tx, "SELECT id FROM entities WHERE type = ? AND deleted = 0 AND id IN (%s)", []any{string(typ)}, slices.Compact(ids),
			func(rows *sql.Rows) error {
				var id string
				if err := rows.Scan(&id); err != nil {
					return err
				}
				live[[2]string{string(typ), id}] = true
				return nil
			})
		if err != nil {
			return nil, err
		}
	}
	out := map[string][][2]string{}
	for i, r := range batch {
		var links [][2]string
		for _, n := range all[i] {
			if n.ref[0] != "org" && !live[n.ref] {
				return nil, &load.RowError{File: l.file, Line: r.line, Field: n.field,
					Reason: fmt.Sprintf("unknown %s %q (load it with --type %s first)", n.ref[0], n.ref[1], n.ref[0])}
			}
			links = append(links, n.ref)
		}
		slices.SortFunc(links, func(a, b [2]string) int { return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1])) })
		out[r.e.ID] = slices.Compact(links)
	}
	return out, nil
}

// inChunk bounds the ids of one IN list, and the values of one multi-row
// insert: both engines take many more (SQLite 32766 parameters, PostgreSQL
// 65535), but longer statements save no further round trip worth it.
const inChunk = 500

// eachIn runs query, whose %s is an IN list, with args then the ids, a
// chunk of ids at a time, and calls fn, if not nil, for each row.
func eachIn(ctx context.Context, tx *sql.Tx, query string, args []any, ids []string, fn func(*sql.Rows) error) error {
	for chunk := range slices.Chunk(ids, inChunk) {
		q := fmt.Sprintf(query, strings.TrimSuffix(strings.Repeat("?, ", len(chunk)), ", "))
		all := append(slices.Clone(args), anys(chunk)...)
		if fn == nil {
			if _, err := tx.ExecContext(ctx, q, all...); err != nil {
				return err
			}
			continue
		}
		rows, err := tx.QueryContext(ctx, q, all...)
		if err != nil {
			return err
		}
		for rows.Next() {
			if err := fn(rows); err != nil {
				rows.Close()
				return err
			}
		}
		if err := rows.Close(); err != nil {
			return err
		}
	}
	return nil
}

// execer runs a statement: a transaction, or an import's prepared
// statements (preparedTx).
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// insertRows runs the insert query, whose %s is its VALUES list, then tail,
// for the values, width of them a row, inChunk rows at a time.
func insertRows(ctx context.Context, tx execer, query string, width int, values []any, tail string) error {
	for chunk := range slices.Chunk(values, inChunk*width) {
		q := fmt.Sprintf(query, valuesRows(len(chunk)/width, width)) + " " + tail
		if _, err := tx.ExecContext(ctx, q, chunk...); err != nil {
			return err
		}
	}
	return nil
}

// valuesRows is the rows of a VALUES list: n rows of width placeholders.
func valuesRows(n, width int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", width), ", ") + ")"
	return strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

// anys converts strings to query arguments.
func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// tombstone marks the live entities of type t matching where as deleted, and
// drops their links; the caller computes the scopes again if any was.
func (c *CentralDB) tombstone(ctx context.Context, tx *sql.Tx, t taosync.Type, version int64, where string) (int64, error) {
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
