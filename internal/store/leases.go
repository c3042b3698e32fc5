package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Lease is who holds a lease (TakeLease), and until when. Times are the
// holders' clocks, so replicas' clocks must agree to well within a lease's
// length (NTP does).
type Lease struct {
	Name    string    `json:"name"`
	Holder  string    `json:"holder"`
	Expires time.Time `json:"expires"`
}

// GetLease returns the lease name as it stands, ErrNotFound if nobody took
// it or it was released.
func (c *CentralDB) GetLease(ctx context.Context, name string) (Lease, error) {
	l := Lease{Name: name}
	var ms int64
	err := c.DB.QueryRowContext(ctx, "SELECT holder, expires FROM leases WHERE name = ?", name).Scan(&l.Holder, &ms)
	if errors.Is(err, sql.ErrNoRows) {
		return l, fmt.Errorf("lease %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return l, fmt.Errorf("read lease %s: %w", name, err)
	}
	l.Expires = time.UnixMilli(ms)
	return l, nil
}
