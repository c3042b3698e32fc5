package store

import (
	"context"
	"fmt"
	"strings"
)

// Unsent counts, by execution status, the executions queued on a client
// that its send setting keeps from central: those whose status is not
// among send ("finished", maybe "terminated"). Active and paused ones are
// counted too: they wait to finish.
func (l *ClientDB) Unsent(ctx context.Context, send []string) (map[string]int64, error) {
	query := "SELECT status, COUNT(*) FROM outbox WHERE state = ?"
	args := []any{Queued}
	if len(send) > 0 {
		query += " AND status NOT IN (?" + strings.Repeat(", ?", len(send)-1) + ")"
		for _, s := range send {
			args = append(args, s)
		}
	}
	rows, err := l.DB.QueryContext(ctx, query+" GROUP BY status", args...)
	if err != nil {
		return nil, fmt.Errorf("count unsent executions: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var status string
		var n int64
		if err := rows.Scan(&status, &n); err != nil {
			return nil, err
		}
		out[status] = n
	}
	return out, rows.Err()
}
