package store

import (
	"context"
	"database/sql"
	"errors"
)

// ResultBundle reports whether central stored the result bundle id of a
// client, and the receipt batch that answered it (0 only for a bundle of
// no execution stored before such bundles got a receipt batch).
func (c *CentralDB) ResultBundle(ctx context.Context, client, id string) (batch uint64, ok bool, err error) {
	err = c.DB.QueryRowContext(ctx, "SELECT receipt_seq FROM result_bundles WHERE bundle_id = ? AND client = ?",
		id, client).Scan(&batch)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	return batch, err == nil, err
}
