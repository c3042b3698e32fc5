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
		(at, direction, transport, peer, bundle_id, bundle, kind, stream, seq, full, counts, bytes, duration_ms, outcome, error)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.At.UTC().Format(time.RFC3339Nano), e.Direction, e.Transport, e.Peer, e.BundleID, e.Bundle, e.Kind,
		e.Stream, e.Seq, e.Full, string(counts), e.Bytes, e.DurationMS, e.Outcome, e.Error)
	if err != nil {
		return fmt.Errorf("record history: %w", err)
	}
	return nil
}

// History lists every exchange, oldest first.
func History(ctx context.Context, q Querier) ([]taosync.HistoryEntry, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, at, direction, transport, peer, bundle_id, bundle, kind, stream,
		seq, full, counts, bytes, duration_ms, outcome, error FROM history ORDER BY id`)
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
