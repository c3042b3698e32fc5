package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/taosync/taosync"
)

// AddHistory records an exchange.
func AddHistory(ctx context.Context, q Querier, e taosync.HistoryEntry) error {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	if e.Counts == nil {
		e.Counts = map[string]taosync.Counts{}
	}
	counts, err := json.Marshal(e.Counts)
	if err != nil {
		return err
	}
	_, err = q.ExecContext(ctx, `INSERT INTO history
		(at, direction, transport, peer, bundle_id, bundle, kind, stream, seq, "full", counts, bytes, duration_ms, outcome, error)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.At.UTC().Format(time.RFC3339Nano), e.Direction, e.Transport, e.Peer, e.BundleID, e.Bundle, e.Kind,
		e.Stream, e.Seq, e.Full, string(counts), e.Bytes, e.DurationMS, e.Outcome, e.Error)
	if err != nil {
		return fmt.Errorf("record history: %w", err)
	}
	return nil
}

// HistoryFilter narrows History: the zero value lists everything.
type HistoryFilter struct {
	// Peer keeps the exchanges with this peer (a client id on central).
	Peer string
	// Since keeps the exchanges at or after this time (to the second).
	Since time.Time
}

// History lists the exchanges that f keeps, oldest first.
func History(ctx context.Context, q Querier, f HistoryFilter) ([]taosync.HistoryEntry, error) {
	query := `SELECT id, at, direction, transport, peer, bundle_id, bundle, kind, stream,
		seq, "full", counts, bytes, duration_ms, outcome, error FROM history WHERE 1 = 1`
	var args []any
	if f.Peer != "" {
		query += " AND peer = ?"
		args = append(args, f.Peer)
	}
	if !f.Since.IsZero() {
		// at is RFC 3339 in UTC with a varying fraction: against the
		// second without its zone, text order is time order.
		query += " AND at >= ?"
		args = append(args, f.Since.UTC().Format("2006-01-02T15:04:05"))
	}
	rows, err := q.QueryContext(ctx, query+" ORDER BY id", args...)
	if err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	defer rows.Close()
	var out []taosync.HistoryEntry
	for rows.Next() {
		var e taosync.HistoryEntry
		var at, counts string
		if err := rows.Scan(&e.ID, &at, &e.Direction, &e.Transport, &e.Peer, &e.BundleID, &e.Bundle, &e.Kind,
			&e.Stream, &e.Seq, &e.Full, &counts, &e.Bytes, &e.DurationMS, &e.Outcome, &e.Error); err != nil {
			return nil, fmt.Errorf("read history: %w", err)
		}
		if e.At, err = time.Parse(time.RFC3339Nano, at); err != nil {
			return nil, fmt.Errorf("read history row %d: %w", e.ID, err)
		}
		if err := json.Unmarshal([]byte(counts), &e.Counts); err != nil {
			return nil, fmt.Errorf("read history row %d: %w", e.ID, err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
