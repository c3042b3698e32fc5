package store

import (
	"context"

	"github.com/taosync/taosync"
)

// EachEntity calls fn with the stored object of every live entity of type t,
// in order of id: the entity as synchronised, id and every field. Both
// roles' databases hold the entities table.
func EachEntity(ctx context.Context, q Querier, t taosync.Type, fn func(data []byte) error) error {
	rows, err := q.QueryContext(ctx, "SELECT data FROM entities WHERE type = ? AND deleted = 0 ORDER BY id", string(t))
	if err != nil {
		return err
	}
	defer rows.Close()
	var data []byte
	for rows.Next() {
		if err := rows.Scan(&data); err != nil {
			return err
		}
		if err := fn(data); err != nil {
			return err
		}
	}
	return rows.Err()
}

// EntityIDs returns the ids of the live entities of type t, in order.
func EntityIDs(ctx context.Context, q Querier, t taosync.Type) ([]string, error) {
	rows, err := q.QueryContext(ctx, "SELECT id FROM entities WHERE type = ? AND deleted = 0 ORDER BY id", string(t))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
