package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/taosync/taosync"
)

// Outbox states on a client.
const (
	Queued       = "queued"
	Packaged     = "packaged"
	Sent         = "sent"
	Acknowledged = "acknowledged"
)

// ExecutionSource yields executions with the line each came from;
// results.Reader is one.
type ExecutionSource interface {
	Next() (taosync.Execution, int, error)
}

// ExecutionsAdded counts what `results add` did.
type ExecutionsAdded struct {
	File      string `json:"file"`
	Added     int64  `json:"added"`
	Updated   int64  `json:"updated"`
	Revised   int64  `json:"revised"`
	Unchanged int64  `json:"unchanged"`
}

func now() string { return time.Now().UTC().Format(time.RFC3339Nano) }

// AddExecutions takes in a file of executions, all or nothing. A new id is
// queued; an id already queued is updated in place; an id already packaged,
// sent or acknowledged whose content changed becomes a new revision, queued
// to be sent again; the same content again changes nothing.
func (l *ClientDB) AddExecutions(ctx context.Context, file string, src ExecutionSource) (ExecutionsAdded, error) {
	res := ExecutionsAdded{File: file}
	err := l.DB.Tx(ctx, func(tx *sql.Tx) error {
		get, err := tx.PrepareContext(ctx, "SELECT revision, content_hash, state FROM outbox WHERE id = ?")
		if err != nil {
			return err
		}
		defer get.Close()
		put, err := tx.PrepareContext(ctx, `INSERT INTO outbox (id, revision, delivery, test_taker, test_center, status,
			started_at, finished_at, content_hash, state, added_at, updated_at)
			VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'queued', ?10, ?10)
			ON CONFLICT (id) DO UPDATE SET revision = ?2, delivery = ?3, test_taker = ?4, test_center = ?5,
			status = ?6, started_at = ?7, finished_at = ?8, content_hash = ?9,
			state = 'queued', updated_at = ?10, acked_at = ''`)
		if err != nil {
			return err
		}
		defer put.Close()
		payload, err := tx.PrepareContext(ctx, `INSERT INTO outbox_payloads (id, result_xml) VALUES (?, ?)
			ON CONFLICT (id) DO UPDATE SET result_xml = excluded.result_xml`)
		if err != nil {
			return err
		}
		defer payload.Close()
		outer := ctx
		ctx = rowContext(ctx)
		for n := 0; ; n++ {
			if n%1024 == 0 && outer.Err() != nil {
				return outer.Err()
			}
			e, _, err := src.Next()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			hash := e.ContentHash()
			var rev int64
			var have, state string
			err = get.QueryRowContext(ctx, e.ID).Scan(&rev, &have, &state)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				rev = 1
				res.Added++
			case err != nil:
				return err
			case have == hash:
				res.Unchanged++
				continue
			case state == Queued:
				res.Updated++
			default:
				rev++
				res.Revised++
			}
			if _, err := put.ExecContext(ctx, e.ID, rev, e.Delivery, e.TestTaker, e.TestCenter, e.Status,
				e.StartedAt, e.FinishedAt, hash, now()); err != nil {
				return err
			}
			if _, err := payload.ExecContext(ctx, e.ID, e.ResultXML); err != nil {
				return err
			}
		}
	})
	return res, err
}

// OutboxEntry is an execution in a client's outbox, as `results list` shows
// it.
type OutboxEntry struct {
	taosync.Execution
	// ResultXML hides the execution's document, which listings do not read.
	ResultXML   *string `json:"result_xml,omitempty"`
	State       string  `json:"state"`
	Revision    int64   `json:"revision"`
	ContentHash string  `json:"content_hash"`
	Bundle      string  `json:"bundle_id,omitempty"`
	Payload     bool    `json:"payload"`
	UpdatedAt   string  `json:"updated_at"`
	AckedAt     string  `json:"acknowledged_at,omitempty"`
}

// Outbox lists the executions of the outbox, without their result
// documents.
func (l *ClientDB) Outbox(ctx context.Context) ([]OutboxEntry, error) {
	rows, err := l.DB.QueryContext(ctx, `SELECT id, delivery, test_taker, test_center, status, started_at, finished_at,
		state, revision, content_hash, bundle_id, EXISTS (SELECT 1 FROM outbox_payloads p WHERE p.id = outbox.id),
		updated_at, acked_at FROM outbox ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []OutboxEntry
	for rows.Next() {
		var e OutboxEntry
		if err := rows.Scan(&e.ID, &e.Delivery, &e.TestTaker, &e.TestCenter, &e.Status, &e.StartedAt, &e.FinishedAt,
			&e.State, &e.Revision, &e.ContentHash, &e.Bundle, &e.Payload, &e.UpdatedAt, &e.AckedAt); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// metaUint reads a numeric meta value, 0 when unset.
func metaUint(ctx context.Context, q Querier, key string) (uint64, error) {
	v, err := Meta(ctx, q, key)
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(v, 10, 64)
}

func metaString(ctx context.Context, q Querier, key string) (string, error) {
	v, err := Meta(ctx, q, key)
	if errors.Is(err, ErrNotFound) {
		return "", nil
	}
	return v, err
}

// BeginResultExport marks the executions to send as packaged in a bundle of
// its own, in a committed transaction: queued and packaged ones (a packaged
// execution is one whose bundle may never have been written) with one of
// the statuses, and with resend the sent ones too. A packaged execution's
// content is frozen: a later change is a new revision.
func (l *ClientDB) BeginResultExport(ctx context.Context, bundleID string, statuses []string, resend bool) (taosync.ResultExport, error) {
	states := []any{Queued, Packaged}
	if resend {
		states = append(states, Sent)
	}
	var seq uint64
	var n int64
	err := l.DB.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		if seq, err = metaUint(ctx, tx, "results_next_seq"); err != nil {
			return err
		}
		seq++
		if err := SetMeta(ctx, tx, "results_next_seq", strconv.FormatUint(seq, 10)); err != nil {
			return err
		}
		args := append([]any{bundleID, now()}, states...)
		for _, s := range statuses {
			args = append(args, s)
		}
		r, err := tx.ExecContext(ctx, `UPDATE outbox SET state = 'packaged', bundle_id = ?, updated_at = ?
			WHERE state IN (?`+strings.Repeat(", ?", len(states)-1)+`)
			AND status IN (?`+strings.Repeat(", ?", len(statuses)-1)+`)`, args...)
		if err != nil {
			return err
		}
		n, err = r.RowsAffected()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("package results: %w", err)
	}
	return &resultExport{l: l, bundleID: bundleID, seq: seq, count: n}, nil
}

type resultExport struct {
	l        *ClientDB
	bundleID string
	seq      uint64
	count    int64
}

func (e *resultExport) Seq() uint64  { return e.seq }
func (e *resultExport) Count() int64 { return e.count }

func (e *resultExport) Prev(ctx context.Context) (string, error) {
	return metaString(ctx, e.l.DB, "results_hash")
}

func (e *resultExport) Each(ctx context.Context, fn func(x taosync.OutgoingExecution) error) error {
	rows, err := e.l.DB.QueryContext(ctx, `SELECT o.id, delivery, test_taker, test_center, status, started_at, finished_at,
		COALESCE(p.result_xml, ''), revision, content_hash FROM outbox o LEFT JOIN outbox_payloads p ON p.id = o.id
		WHERE state = 'packaged' AND bundle_id = ? ORDER BY o.id`, e.bundleID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var x taosync.OutgoingExecution
		if err := rows.Scan(&x.ID, &x.Delivery, &x.TestTaker, &x.TestCenter, &x.Status, &x.StartedAt, &x.FinishedAt,
			&x.ResultXML, &x.Revision, &x.ContentHash); err != nil {
			return err
		}
		if err := fn(x); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Commit marks the bundle's executions sent and records the bundle as the
// head of the client's result stream; the bundle is published inside the
// transaction, so that a kill leaves them packaged (and sent again by the
// next export: central keeps each once).
func (e *resultExport) Commit(ctx context.Context, hash string, h taosync.HistoryEntry, publish func() error) error {
	tx, err := e.l.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "UPDATE outbox SET state = 'sent', updated_at = ? WHERE state = 'packaged' AND bundle_id = ?",
		now(), e.bundleID); err != nil {
		return err
	}
	if err := SetMeta(ctx, tx, "results_hash", hash); err != nil {
		return err
	}
	if err := AddHistory(ctx, tx, h); err != nil {
		return err
	}
	if err := publish(); err != nil {
		return err
	}
	return tx.Commit()
}

// ClientState is what a client reports of itself in each result bundle.
func (l *ClientDB) ClientState(ctx context.Context) (taosync.ClientState, error) {
	var s taosync.ClientState
	var err error
	if s.DataSeq, err = metaUint(ctx, l.DB, "data_seq"); err != nil {
		return s, err
	}
	if s.DataBundle, err = metaString(ctx, l.DB, "data_bundle"); err != nil {
		return s, err
	}
	// The highest batch up to which every receipt batch is applied: central
	// resends the batches after it in every data bundle.
	rows, err := l.DB.QueryContext(ctx, "SELECT seq FROM receipt_batches ORDER BY seq")
	if err != nil {
		return s, err
	}
	defer rows.Close()
	for rows.Next() {
		var seq uint64
		if err := rows.Scan(&seq); err != nil {
			return s, err
		}
		if seq != s.ReceiptSeq+1 {
			break
		}
		s.ReceiptSeq = seq
	}
	return s, rows.Err()
}
