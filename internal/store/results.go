package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/bundle"
)

// Central execution states.
const (
	Received = "received"
	Conflict = "conflict"
)

// BeginResults starts importing one result bundle of a client, in one
// transaction. A bundle whose state names a data bundle or a receipt batch
// that central never made for the client is refused (ErrOutOfRange).
func (c *CentralDB) BeginResults(ctx context.Context, client string, state taosync.ClientState) (taosync.ResultApply, error) {
	tx, err := c.beginResultsTx(ctx, client)
	if err != nil {
		return nil, err
	}
	cl, err := c.GetClient(ctx, tx, client)
	if err == nil {
		err = cmp.Or(cl.CheckDataSeq("state data_seq", state.DataSeq), cl.CheckReceiptSeq("state receipt_seq", state.ReceiptSeq))
	}
	if err != nil {
		tx.Rollback()
		return nil, err
	}
	reported := state.ReceiptSeq
	// Batches are numbered above what the client reported holding too (in
	// this bundle or before), so that after central is restored from a
	// backup it does not hand out a number the client already holds.
	return &resultApply{tx: tx, engine: c.DB.Engine, client: cl, batch: max(cl.ReceiptSeq, cl.AckedReceiptSeq, reported) + 1,
		inScope: map[scopeKey]bool{}, stmts: map[string]*sql.Stmt{}}, nil
}

// beginResultsTx begins the transaction of a client's result import: the
// results of different clients are imported at once on PostgreSQL
// (BeginClientTx). The executions are checked against the scopes, which
// must be current: stale ones (after an upgrade) are refreshed first, by a
// transaction of all writers' (a load, which makes them stale, waits for
// the imports running).
func (c *CentralDB) beginResultsTx(ctx context.Context, client string) (*sql.Tx, error) {
	for {
		tx, err := c.DB.BeginClientTx(ctx, client)
		if err != nil {
			return nil, err
		}
		stale, err := scopesStale(ctx, tx)
		if err == nil && stale && c.DB.Engine != Postgres {
			err = refreshScopes(ctx, tx)
		} else if err == nil && stale {
			tx.Rollback()
			if err := c.DB.Tx(ctx, func(tx *sql.Tx) error { return refreshStaleScopes(ctx, tx) }); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			tx.Rollback()
			return nil, err
		}
		return tx, nil
	}
}

// insertExecutions is the head of the statements that store execution
// revisions.
const insertExecutions = `INSERT INTO executions (id, content_hash, revision, client, delivery, test_taker,
	test_center, status, started_at, finished_at, result_xml, result_zst, state, bundle_id, received_at)`

// The statements of a result import run once per execution (put).
const (
	findExecution = `SELECT e.content_hash, e.revision, e.client, COALESCE(c.org, '') FROM executions e
		LEFT JOIN clients c ON c.id = e.client WHERE e.id = ?`
	reviseExecution = "UPDATE executions SET revision = ? WHERE id = ? AND content_hash = ?"
	// insertExecution stores an execution revision: id, content hash,
	// revision, client, the execution's fields, its compressed document,
	// state, bundle, time.
	insertExecution = insertExecutions + `
	SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, '', ?11, ?12, ?13, ?14`
	// An id central has never seen, the common case, is stored by one
	// statement: it inserts nothing when the id is known.
	insertNewExecution = insertExecution + " WHERE NOT EXISTS (SELECT 1 FROM executions WHERE id = ?1)"
)

// insertNewExecutions is insertNewExecution of several executions at once:
// it returns the ids it stored. On PostgreSQL, arrays: a statement of one
// text whatever the chunk's size, which the server parses once per
// connection. Arguments: client, state, bundle, time, then the arrays of
// ids, content hashes, revisions, the executions' fields and their
// compressed documents.
const insertNewExecutions = insertExecutions + `
	SELECT x.id, x.content_hash, x.revision, ?1, x.delivery, x.test_taker, x.test_center, x.status,
		x.started_at, x.finished_at, '', x.result_zst, ?2, ?3, ?4
	FROM unnest(?5::text[], ?6::text[], ?7::bigint[], ?8::text[], ?9::text[], ?10::text[], ?11::text[], ?12::text[],
		?13::text[], ?14::bytea[])
		AS x(id, content_hash, revision, delivery, test_taker, test_center, status, started_at, finished_at, result_zst)
	WHERE NOT EXISTS (SELECT 1 FROM executions e WHERE e.id = x.id)
	RETURNING id`

// insertNewRows is insertNewExecutions on SQLite, which has no arrays: a
// multi-row VALUES list (%s) of the executions, each row the id, content
// hash, revision, the executions' fields and the compressed document,
// after the same first four arguments.
const insertNewRows = insertExecutions + `
	SELECT x.column1, x.column2, x.column3, ?1, x.column4, x.column5, x.column6, x.column7,
		x.column8, x.column9, '', x.column10, ?2, ?3, ?4
	FROM (VALUES %s) AS x
	WHERE NOT EXISTS (SELECT 1 FROM executions e WHERE e.id = x.column1)
	RETURNING id`

type resultApply struct {
	tx     *sql.Tx
	engine Engine
	client RegisteredClient
	// batch answers the bundle; a bundle of no execution gets one too,
	// whose receipt names the bundle (receipts).
	batch uint64
	// stmts are the statements of put, by their SQL, each prepared at its
	// first use (prepared).
	stmts map[string]*sql.Stmt
	// inScope caches the scope check of each (test centre, test taker,
	// delivery) seen in the bundle: its executions name few.
	inScope map[scopeKey]bool
	done    bool
}

type scopeKey struct{ center, taker, delivery string }

func (a *resultApply) Received(ctx context.Context, bundleID string) (uint64, bool, error) {
	var seq uint64
	err := a.tx.QueryRowContext(ctx, "SELECT receipt_seq FROM result_bundles WHERE client = ? AND bundle_id = ?",
		a.client.ID, bundleID).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	return seq, err == nil, err
}

// Prepare compresses the documents of a chunk's execution revisions; the
// importer calls it in the bundle reader's workers, ahead of Put.
func (a *resultApply) Prepare(xs []taosync.OutgoingExecution) any {
	docs := make([][]byte, len(xs))
	for i, x := range xs {
		docs[i] = compressDocument(x.ResultXML)
	}
	return docs
}

// Put stores the execution revisions of a chunk, in order, with their
// documents as Prepare compressed them.
func (a *resultApply) Put(ctx context.Context, xs []taosync.OutgoingExecution, prepared any, bundleID string) ([]string, error) {
	ctx = rowContext(ctx) // the importer checks cancellation between chunks
	docs, ok := prepared.([][]byte)
	if !ok || len(docs) != len(xs) {
		return nil, fmt.Errorf("store results: %d executions with %T", len(xs), prepared)
	}
	if err := a.lockExecutions(ctx, xs); err != nil {
		return nil, err
	}
	stored, err := a.putNew(ctx, xs, docs, bundleID)
	if err != nil {
		return nil, err
	}
	statuses := make([]string, 0, len(xs))
	for i, x := range xs {
		status := taosync.ReceiptReceived
		if stored[x.ID] {
			delete(stored, x.ID) // a second of the id is put's
		} else if status, err = a.put(ctx, x, docs[i], bundleID); err != nil {
			return statuses, err
		}
		statuses = append(statuses, status)
	}
	return statuses, a.putReceipts(ctx, xs, statuses)
}

// putReceipts stores the receipts of a chunk's executions, given their
// statuses, in one statement (on PostgreSQL, one round trip to the server
// rather than one an execution): multi-row VALUES on SQLite; on
// PostgreSQL arrays, a statement of one text whatever the chunk's size,
// which the server parses once per connection rather than its thousands
// of values each time.
func (a *resultApply) putReceipts(ctx context.Context, xs []taosync.OutgoingExecution, statuses []string) error {
	if a.engine == Postgres {
		ids, revisions, hashes := make([]string, len(xs)), make([]int64, len(xs)), make([]string, len(xs))
		for i, x := range xs {
			ids[i], revisions[i], hashes[i] = x.ID, x.Revision, x.ContentHash
		}
		_, err := preparedTx{a}.ExecContext(ctx, `INSERT INTO receipts (client, seq, id, revision, content_hash, status)
			SELECT ?1, ?2, r.id, r.revision, r.content_hash, r.status
			FROM unnest(?3::text[], ?4::bigint[], ?5::text[], ?6::text[]) AS r(id, revision, content_hash, status)
			ON CONFLICT DO NOTHING`, a.client.ID, a.batch, ids, revisions, hashes, statuses)
		return err
	}
	values := make([]any, 0, 6*len(xs))
	for i, x := range xs {
		values = append(values, a.client.ID, a.batch, x.ID, x.Revision, x.ContentHash, statuses[i])
	}
	return insertRows(ctx, preparedTx{a}, "INSERT INTO receipts (client, seq, id, revision, content_hash, status) VALUES %s", 6,
		values, "ON CONFLICT DO NOTHING")
}

// lockExecutions takes, on PostgreSQL, the lock of each execution id of a
// chunk until the transaction ends, in the order of the ids: another
// client's import storing one of the ids waits, and then finds it, as one
// after the other would. The lock is the id's row in execution_ids: new
// ids are inserted (an insert of an id that another import inserted and
// has not committed waits for it), then every id's row is locked, by a
// second statement, which sees the rows that imports committed meanwhile.
// Row locks take no room in PostgreSQL's lock table, however many
// executions a bundle holds. (Two clients whose bundles share ids in
// several chunks may deadlock: PostgreSQL then fails one import, which its
// client sends again.)
func (a *resultApply) lockExecutions(ctx context.Context, xs []taosync.OutgoingExecution) error {
	if a.engine != Postgres || len(xs) == 0 {
		return nil
	}
	ids := make([]string, len(xs))
	for i, x := range xs {
		ids[i] = x.ID
	}
	list, stmts := strings.Join(ids, "\n"), preparedTx{a}
	for _, q := range []string{
		`INSERT INTO execution_ids (id) SELECT DISTINCT id FROM unnest(string_to_array(?, E'\n')) AS id ORDER BY id
			ON CONFLICT DO NOTHING`,
		`SELECT 1 FROM execution_ids WHERE id = ANY(string_to_array(?, E'\n')) ORDER BY id FOR UPDATE`,
	} {
		if _, err := stmts.ExecContext(ctx, q, list); err != nil {
			return fmt.Errorf("lock the executions: %w", err)
		}
	}
	return nil
}

// putNew stores the execution revisions of a chunk whose ids central has
// never seen, the common case, by chunk rather than one by one (on
// PostgreSQL a round trip to the server each, on SQLite a statement
// through cgo each), once their scopes are checked, also at once. It
// returns the ids it stored; put stores the others, one by one. Of an id
// twice in the chunk, put stores the second, which the first may make a
// duplicate or a conflict.
func (a *resultApply) putNew(ctx context.Context, xs []taosync.OutgoingExecution, docs [][]byte, bundleID string) (map[string]bool, error) {
	if len(xs) == 0 {
		return nil, nil
	}
	if err := a.checkScopes(ctx, xs); err != nil {
		return nil, err
	}
	var first []int // the index of each id's first execution
	seen := make(map[string]bool, len(xs))
	for i, x := range xs {
		if !seen[x.ID] {
			seen[x.ID] = true
			first = append(first, i)
		}
	}
	batch := len(first)
	if a.engine != Postgres {
		batch = inChunk // SQLite's bound on a statement's variables
	}
	stored := make(map[string]bool, len(first))
	for rows := range slices.Chunk(first, batch) {
		if err := a.insertNew(ctx, xs, docs, rows, bundleID, stored); err != nil {
			return nil, fmt.Errorf("store the new executions: %w", err)
		}
	}
	return stored, nil
}

// insertNew stores the executions xs[i] (documents docs[i]) of the indexes
// given whose ids central has never seen, with one statement, and adds
// the ids it stored to stored.
func (a *resultApply) insertNew(ctx context.Context, xs []taosync.OutgoingExecution, docs [][]byte, indexes []int, bundleID string, stored map[string]bool) error {
	q, args := "", []any{a.client.ID, Received, bundleID, now()}
	if a.engine == Postgres {
		n := len(indexes)
		ids, hashes, deliveries, takers := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		centers, statuses, starts, ends := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		revisions, zst := make([]int64, n), make([][]byte, n)
		for j, i := range indexes {
			x := xs[i]
			ids[j], hashes[j], revisions[j] = x.ID, x.ContentHash, x.Revision
			deliveries[j], takers[j], centers[j] = x.Delivery, x.TestTaker, x.TestCenter
			statuses[j], starts[j], ends[j], zst[j] = x.Status, x.StartedAt, x.FinishedAt, docs[i]
		}
		q, args = insertNewExecutions, append(args, ids, hashes, revisions, deliveries, takers, centers, statuses, starts, ends, zst)
	} else {
		for _, i := range indexes {
			x := xs[i]
			args = append(args, x.ID, x.ContentHash, x.Revision, x.Delivery, x.TestTaker, x.TestCenter, x.Status,
				x.StartedAt, x.FinishedAt, docs[i])
		}
		q = fmt.Sprintf(insertNewRows, valuesRows(len(indexes), 10))
	}
	rows, err := preparedTx{a}.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		stored[id] = true
	}
	return rows.Err()
}

// put stores one execution revision once, if it is the client's to report
// (checkScope): the same content again is a duplicate; the same id and
// revision with other content, or the same id from another client of the
// same organisation, is a conflict, stored aside; anything else is a new
// revision, received.
//
// An execution id stored for a client of another organisation is another
// execution that happens to have the same id: it is neither a duplicate nor
// a conflict of this one. Execution ids are made by each test centre's
// delivery application, and a centre cannot name another organisation's
// test centre (checkScope), so the executions of two organisations never
// meet: a client cannot have another organisation's result set aside as a
// conflict by sending its id first, nor block that organisation's later
// revisions by sending it after.
func (a *resultApply) put(ctx context.Context, x taosync.OutgoingExecution, doc []byte, bundleID string) (string, error) {
	if err := a.checkScope(ctx, x); err != nil {
		return "", err
	}
	n, err := a.store(ctx, insertNewExecution, x, doc, Received, bundleID)
	if err != nil {
		return "", err
	}
	if n == 1 {
		return taosync.ReceiptReceived, nil
	}
	find, err := a.prepared(ctx, findExecution)
	if err != nil {
		return "", err
	}
	rows, err := find.QueryContext(ctx, x.ID)
	if err != nil {
		return "", err
	}
	status := taosync.ReceiptReceived
	for rows.Next() {
		var hash, client, org string
		var rev int64
		if err := rows.Scan(&hash, &rev, &client, &org); err != nil {
			rows.Close()
			return "", err
		}
		switch {
		case hash == x.ContentHash:
			rows.Close()
			// The same content again; as a later revision of the same
			// client (a correction undone), it is the latest again.
			if client == a.client.ID && x.Revision > rev {
				revise, err := a.prepared(ctx, reviseExecution)
				if err == nil {
					_, err = revise.ExecContext(ctx, x.Revision, x.ID, x.ContentHash)
				}
				if err != nil {
					return "", err
				}
			}
			return taosync.ReceiptDuplicate, nil
		case org != a.client.Org:
			// Another organisation's execution of the same id.
		case client != a.client.ID || rev == x.Revision:
			status = taosync.ReceiptConflict
		}
	}
	if err := rows.Close(); err != nil {
		return "", err
	}
	state := Received
	if status == taosync.ReceiptConflict {
		state = Conflict
	}
	if _, err := a.store(ctx, insertExecution, x, doc, state, bundleID); err != nil {
		return "", err
	}
	return status, nil
}

// checkScope refuses an execution naming a test centre, test taker or
// delivery outside the client's organisation's scope, or a test taker that
// no eligibility of it names for the delivery, with an
// *taosync.ExecutionError.
func (a *resultApply) checkScope(ctx context.Context, x taosync.OutgoingExecution) error {
	key := scopeKey{x.TestCenter, x.TestTaker, x.Delivery}
	if a.inScope[key] {
		return nil
	}
	var center, taker, delivery, eligible bool
	scope, err := a.prepared(ctx, scopeCheckSQL)
	if err == nil {
		err = scope.QueryRowContext(ctx, a.client.Org, x.TestCenter, x.TestTaker, x.Delivery).Scan(&center, &taker, &delivery, &eligible)
	}
	if err != nil {
		return fmt.Errorf("check the scope of execution %s: %w", x.ID, err)
	}
	refs := []struct {
		in    bool
		field string
		typ   taosync.Type
		id    string
	}{
		{delivery, "delivery", taosync.Delivery, x.Delivery},
		{taker, "test_taker", taosync.TestTaker, x.TestTaker},
		{center, "test_center", taosync.TestCenter, x.TestCenter},
	}
	for _, r := range refs {
		if r.in {
			continue
		}
		live, err := EntityExists(ctx, a.tx, r.typ, r.id)
		if err != nil {
			return fmt.Errorf("check the scope of execution %s: %w", x.ID, err)
		}
		reason := fmt.Sprintf("%s %q is not in the scope of client %s (organisation %s)", r.typ, r.id, a.client.ID, a.client.Org)
		if !live {
			reason = fmt.Sprintf("unknown %s %q", r.typ, r.id)
		}
		return &taosync.ExecutionError{Err: taosync.ErrOutOfScope, ID: x.ID, Field: r.field, Reason: reason}
	}
	if !eligible {
		return &taosync.ExecutionError{Err: taosync.ErrOutOfScope, ID: x.ID, Field: "test_taker",
			Reason: fmt.Sprintf("test-taker %q is not eligible for delivery %q in organisation %s", x.TestTaker, x.Delivery, a.client.Org)}
	}
	a.inScope[key] = true
	return nil
}

// checkScopes checks the scopes of a chunk's executions as checkScope
// does, with two statements for those of its (test centre, test taker,
// delivery) not seen yet in the bundle: which of their ids are in the
// scope, and which eligibilities in the scope name their test takers.
func (a *resultApply) checkScopes(ctx context.Context, xs []taosync.OutgoingExecution) error {
	asked := map[scopeKey]bool{}
	var centers, takers, deliveries []string
	for _, x := range xs {
		key := scopeKey{x.TestCenter, x.TestTaker, x.Delivery}
		if !a.inScope[key] && !asked[key] {
			asked[key] = true
			centers, takers, deliveries = append(centers, x.TestCenter), append(takers, x.TestTaker), append(deliveries, x.Delivery)
		}
	}
	if len(asked) == 0 {
		return nil
	}
	// Each id once, sorted as the indexes they are looked up in.
	for _, ids := range []*[]string{&centers, &takers, &deliveries} {
		slices.Sort(*ids)
		*ids = slices.Compact(*ids)
	}
	eligible, err := a.eligible(ctx, takers)
	if err != nil {
		return fmt.Errorf("check the scopes of the executions: %w", err)
	}
	in, err := a.inScopeIDs(ctx, centers, takers, deliveries)
	if err != nil {
		return fmt.Errorf("check the scopes of the executions: %w", err)
	}
	// The ids the statements return are compared with the executions'
	// own: whatever an array's encoding made of an id (JSON text on
	// SQLite), only the id itself can be found in scope.
	for k := range asked {
		a.inScope[k] = in[scopeID{taosync.TestCenter, k.center}] && in[scopeID{taosync.TestTaker, k.taker}] &&
			in[scopeID{taosync.Delivery, k.delivery}] && eligible[[2]string{k.taker, k.delivery}]
	}
	// The first execution out of scope, in order, is refused as
	// checkScope refuses it, saying why.
	for _, x := range xs {
		if err := a.checkScope(ctx, x); err != nil {
			return err
		}
	}
	return nil
}

// scopeID is an entity in the scope of the client's organisation.
type scopeID struct {
	typ taosync.Type
	id  string
}

// inScopeIDs returns those of the test centres, test takers and
// deliveries given that are in the scope of the client's organisation.
func (a *resultApply) inScopeIDs(ctx context.Context, centers, takers, deliveries []string) (map[scopeID]bool, error) {
	rows, err := preparedTx{a}.QueryContext(ctx, scopeChecksSQL(a.engine), a.client.Org,
		a.engine.textArray(centers), a.engine.textArray(takers), a.engine.textArray(deliveries))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	in := map[scopeID]bool{}
	for rows.Next() {
		var s scopeID
		if err := rows.Scan(&s.typ, &s.id); err != nil {
			return nil, err
		}
		in[s] = true
	}
	return in, rows.Err()
}

// eligible returns the pairs of test taker and delivery that an
// eligibility in the client's scope names, of the test takers given.
func (a *resultApply) eligible(ctx context.Context, takers []string) (map[[2]string]bool, error) {
	rows, err := preparedTx{a}.QueryContext(ctx, eligibleSQL(a.engine), a.client.Org, a.engine.textArray(takers))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	pairs := map[[2]string]bool{}
	for rows.Next() {
		var p [2]string
		if err := rows.Scan(&p[0], &p[1]); err != nil {
			return nil, err
		}
		pairs[p] = true
	}
	return pairs, rows.Err()
}

// prepared returns the statement q prepared in the import's transaction,
// preparing it at its first use: put runs its statements for each
// execution putNew did not store, seldom but for a bundle sent again.
func (a *resultApply) prepared(ctx context.Context, q string) (*sql.Stmt, error) {
	if s, ok := a.stmts[q]; ok {
		return s, nil
	}
	s, err := a.tx.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	a.stmts[q] = s
	return s, nil
}

// preparedTx runs the statements of an import prepared once each, in its
// transaction (prepared): each chunk runs the same statements of hundreds
// of rows, and preparing them again for each was 4 % of a large import's
// time. They are closed, and the copies of their arguments the driver
// keeps freed, when the import ends (close). At most maxPrepared are kept;
// the others run as plain statements of the transaction.
type preparedTx struct{ a *resultApply }

// maxPrepared bounds the statements an import keeps prepared. On SQLite
// the text of an insert changes with its number of rows, so a bundle
// whose chunks all had different sizes would otherwise keep hundreds,
// each with its compiled program and the copy of its largest arguments.
const maxPrepared = 16

// keep says whether q runs as a statement prepared for the import.
func (p preparedTx) keep(q string) bool {
	_, ok := p.a.stmts[q]
	return ok || len(p.a.stmts) < maxPrepared
}

func (p preparedTx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if !p.keep(q) {
		return p.a.tx.ExecContext(ctx, q, args...)
	}
	s, err := p.a.prepared(ctx, q)
	if err != nil {
		return nil, err
	}
	return s.ExecContext(ctx, args...)
}

func (p preparedTx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if !p.keep(q) {
		return p.a.tx.QueryContext(ctx, q, args...)
	}
	s, err := p.a.prepared(ctx, q)
	if err != nil {
		return nil, err
	}
	return s.QueryContext(ctx, args...)
}

// store runs one of the insert statements for x and returns the number of
// rows inserted.
func (a *resultApply) store(ctx context.Context, q string, x taosync.OutgoingExecution, doc []byte, state, bundleID string) (int64, error) {
	stmt, err := a.prepared(ctx, q)
	if err != nil {
		return 0, err
	}
	res, err := stmt.ExecContext(ctx,
		x.ID, x.ContentHash, x.Revision, a.client.ID, x.Delivery, x.TestTaker, x.TestCenter, x.Status,
		x.StartedAt, x.FinishedAt, doc, state, bundleID, now())
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// Commit records the bundle and the client's state, and returns the receipt
// batch answering it.
func (a *resultApply) Commit(ctx context.Context, b *bundle.Bundle, state taosync.ClientState, h taosync.HistoryEntry) (uint64, error) {
	raw, err := json.Marshal(state)
	if err != nil {
		return 0, err
	}
	m := b.Manifest
	if _, err := a.tx.ExecContext(ctx, `INSERT INTO result_bundles (bundle_id, client, seq, manifest_hash, prev, received_at, receipt_seq)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, m.ID, a.client.ID, m.Seq, b.Hash, m.Prev, now(), a.batch); err != nil {
		return 0, fmt.Errorf("record result bundle: %w", err)
	}
	if _, err := a.tx.ExecContext(ctx, `UPDATE clients SET receipt_seq = MAX(receipt_seq, ?), last_results_at = ?, state = ? WHERE id = ?`,
		a.batch, now(), string(raw), a.client.ID); err != nil {
		return 0, err
	}
	// The report is dated by central's clock, as a pull's is, so that the
	// two compare; the latest received wins.
	reported := time.Now().UTC().Format(time.RFC3339Nano)
	if _, err := a.tx.ExecContext(ctx, `UPDATE clients SET acked_seq = MAX(acked_seq, ?), acked_at = ?,
		acked_receipt_seq = MAX(acked_receipt_seq, ?) WHERE id = ? AND acked_at < ?`,
		state.DataSeq, reported, state.ReceiptSeq, a.client.ID, reported); err != nil {
		return 0, err
	}
	if state.Report != nil {
		if err := RecordReport(ctx, a.tx, a.client.ID, *state.Report, h.Transport, false); err != nil {
			return 0, err
		}
	}
	if err := AddHistory(ctx, a.tx, h); err != nil {
		return 0, err
	}
	a.done = true
	a.close()
	return a.batch, a.tx.Commit()
}

func (a *resultApply) close() {
	for _, s := range a.stmts {
		s.Close()
	}
}

func (a *resultApply) Rollback() error {
	if a.done {
		return nil
	}
	a.done = true
	a.close()
	return a.tx.Rollback()
}

// Receipts calls fn with the receipts of a client's batches from..to
// (inclusive), in order: a batch answering a bundle of no execution holds
// one receipt, naming the bundle.
func (c *CentralDB) Receipts(ctx context.Context, client string, from, to uint64, fn func(taosync.Receipt) error) error {
	return receipts(ctx, c.DB, client, from, to, fn)
}

// Recipient is a client as the receipts it is sent address it.
func (c *CentralDB) Recipient(ctx context.Context, client string) (taosync.Recipient, error) {
	cl, err := c.GetClient(ctx, c.DB, client)
	if err != nil {
		return taosync.Recipient{}, err
	}
	return cl.recipient(), nil
}

func receipts(ctx context.Context, q Querier, client string, from, to uint64, fn func(taosync.Receipt) error) error {
	// A bundle of no execution has no row in receipts: its receipt is
	// made from result_bundles, so that its batch is never empty (a batch
	// of no receipt could never be reported held by the client).
	rows, err := q.QueryContext(ctx, `SELECT seq, id, revision, content_hash, '', status FROM receipts
		WHERE client = ?1 AND seq BETWEEN ?2 AND ?3
		UNION ALL
		SELECT b.receipt_seq, '', 0, '', b.bundle_id, ?4 FROM result_bundles b
		WHERE b.client = ?1 AND b.receipt_seq BETWEEN ?2 AND ?3 AND b.receipt_seq > 0
		AND NOT EXISTS (SELECT 1 FROM receipts r WHERE r.client = ?1 AND r.seq = b.receipt_seq)
		ORDER BY 1, 2`, client, from, to, taosync.ReceiptReceived)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var r taosync.Receipt
		if err := rows.Scan(&r.Batch, &r.ID, &r.Revision, &r.ContentHash, &r.Bundle, &r.Status); err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// ExecutionEntry is an execution revision on central, as `results list`
// shows it.
type ExecutionEntry struct {
	taosync.Execution
	// ResultXML hides the execution's document, which listings read only
	// when asked to (EachExecution).
	ResultXML   *string `json:"result_xml,omitempty"`
	State       string  `json:"state"`
	Revision    int64   `json:"revision"`
	ContentHash string  `json:"content_hash"`
	Client      string  `json:"client"`
	Bundle      string  `json:"bundle_id"`
	ReceivedAt  string  `json:"received_at"`
}

// Executions lists every execution revision received, without the result
// documents.
func (c *CentralDB) Executions(ctx context.Context) ([]ExecutionEntry, error) {
	var out []ExecutionEntry
	err := c.EachExecution(ctx, false, func(e ExecutionEntry) error {
		out = append(out, e)
		return nil
	})
	return out, err
}

// EachExecution calls fn with every execution revision received, in id
// order; with documents, each with its result document (ResultXML),
// decompressed.
func (c *CentralDB) EachExecution(ctx context.Context, documents bool, fn func(ExecutionEntry) error) error {
	docs := "NULL, NULL"
	if documents {
		docs = "result_xml, result_zst"
	}
	rows, err := c.DB.QueryContext(ctx, `SELECT id, delivery, test_taker, test_center, status, started_at, finished_at,
		state, revision, content_hash, client, bundle_id, received_at, `+docs+` FROM executions ORDER BY id, revision, received_at`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var e ExecutionEntry
		var xml sql.NullString
		var zst []byte
		if err := rows.Scan(&e.ID, &e.Delivery, &e.TestTaker, &e.TestCenter, &e.Status, &e.StartedAt, &e.FinishedAt,
			&e.State, &e.Revision, &e.ContentHash, &e.Client, &e.Bundle, &e.ReceivedAt, &xml, &zst); err != nil {
			return err
		}
		if documents {
			doc, err := storedDocument(xml.String, zst)
			if err != nil {
				return fmt.Errorf("execution %s (content %s): %w", e.ID, e.ContentHash, err)
			}
			e.ResultXML = &doc
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return rows.Err()
}

// ClientStatus is central's view of one client, as `status` shows it.
type ClientStatus struct {
	RegisteredClient
	Entities  map[string]int64 `json:"entities"`
	Received  int64            `json:"executions_received"`
	Conflicts int64            `json:"executions_conflicting"`
	Bundles   int64            `json:"result_bundles"`
	// Gaps lists the result bundles (by seq) whose predecessor on the
	// client's result stream never arrived.
	Gaps       []uint64 `json:"result_bundles_after_gap"`
	LastResult string   `json:"last_results_at,omitempty"`
	Lag        uint64   `json:"data_lag"`
	// Report is the client's latest readiness report, if it sent one.
	Report    *ReceivedReport `json:"report,omitempty"`
	LastError *LastError      `json:"last_error,omitempty"`
	// LastUsed is when its credential was last used over HTTP (to the
	// minute).
	LastUsed string `json:"credential_last_used_at,omitempty"`
	// UpgradeNeeded: its last report names a version below the minimum,
	// or the version gate refused it since (set by central.Status).
	UpgradeNeeded bool `json:"upgrade_needed"`
}

// Status reports, per client, what it holds (as last exported), what it
// acknowledged, its results and the gaps in its result stream.
func (c *CentralDB) Status(ctx context.Context) ([]ClientStatus, error) {
	clients, err := c.Clients(ctx)
	if err != nil {
		return nil, err
	}
	reports, err := c.Reports(ctx)
	if err != nil {
		return nil, err
	}
	var out []ClientStatus
	for _, cl := range clients {
		s := ClientStatus{RegisteredClient: cl, Entities: map[string]int64{}, Gaps: []uint64{}}
		if r, ok := reports[cl.ID]; ok {
			s.Report = &r
		}
		if s.LastError, err = c.lastError(ctx, cl.ID); err != nil {
			return nil, err
		}
		err := c.DB.QueryRowContext(ctx, "SELECT at FROM credential_used WHERE client = ?", cl.ID).Scan(&s.LastUsed)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
		if cl.DataSeq > cl.AckedSeq {
			s.Lag = cl.DataSeq - cl.AckedSeq
		}
		rows, err := c.DB.QueryContext(ctx, "SELECT type, count FROM client_held WHERE client = ? AND count > 0", cl.ID)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var t string
			var n int64
			if err := rows.Scan(&t, &n); err != nil {
				rows.Close()
				return nil, err
			}
			s.Entities[t] = n
		}
		rows.Close()
		err = c.DB.QueryRowContext(ctx, `SELECT COUNT(*) FILTER (WHERE state = 'received'), COUNT(*) FILTER (WHERE state = 'conflict')
			FROM executions WHERE client = ?`, cl.ID).Scan(&s.Received, &s.Conflicts)
		if err != nil {
			return nil, err
		}
		if err := c.DB.QueryRowContext(ctx, "SELECT last_results_at FROM clients WHERE id = ?", cl.ID).Scan(&s.LastResult); err != nil {
			return nil, err
		}
		if err := c.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM result_bundles WHERE client = ?", cl.ID).Scan(&s.Bundles); err != nil {
			return nil, err
		}
		gaps, err := c.DB.QueryContext(ctx, `SELECT r.seq FROM result_bundles r WHERE r.client = ?1 AND r.prev <> ''
			AND NOT EXISTS (SELECT 1 FROM result_bundles p WHERE p.client = ?1 AND p.manifest_hash = r.prev) ORDER BY r.seq`, cl.ID)
		if err != nil {
			return nil, err
		}
		for gaps.Next() {
			var seq uint64
			if err := gaps.Scan(&seq); err != nil {
				gaps.Close()
				return nil, err
			}
			s.Gaps = append(s.Gaps, seq)
		}
		gaps.Close()
		out = append(out, s)
	}
	return out, nil
}
