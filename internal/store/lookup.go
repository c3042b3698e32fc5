package store

import (
	"context"

	"github.com/taosync/taosync"
)

// EntityExists says whether a live entity of type t has the id: what a
// row taken in may name.
func EntityExists(ctx context.Context, q Querier, t taosync.Type, id string) (bool, error) {
	var live bool
	err := q.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM entities WHERE type = ? AND id = ? AND deleted = 0)", string(t), id).Scan(&live)
	return live, err
}
