package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Lease is who holds a task that one process of many does at a time, and
// until when. Each call is one statement, the same on both engines; times
// are the callers' clocks, so replicas' clocks must agree to well within a
// lease's length (NTP does).
type Lease struct {
	Name    string    `json:"name"`
	Holder  string    `json:"holder"`
	Expires time.Time `json:"expires"`
}

// TakeLease takes the lease name for holder until now+ttl, or renews it if
// holder has it: it succeeds when nobody holds it, its holder's lease
// expired, or holder holds it. It returns the lease as it stands, and
// whether holder has it.
func (d *DB) TakeLease(ctx context.Context, name, holder string, ttl time.Duration) (Lease, bool, error) {
	now := time.Now()
	until := now.Add(ttl)
	r, err := d.ExecContext(ctx, `INSERT INTO leases (name, holder, expires) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires = excluded.expires
		WHERE leases.holder = excluded.holder OR leases.expires <= ?`,
		name, holder, until.UnixMilli(), now.UnixMilli())
	if err != nil {
		return Lease{}, false, fmt.Errorf("take lease %s: %w", name, err)
	}
	if n, err := r.RowsAffected(); err != nil {
		return Lease{}, false, fmt.Errorf("take lease %s: %w", name, err)
	} else if n == 1 {
		return Lease{Name: name, Holder: holder, Expires: time.UnixMilli(until.UnixMilli())}, true, nil
	}
	l, err := d.GetLease(ctx, name)
	if errors.Is(err, ErrNotFound) {
		// Released between the two statements: try again next time.
		return Lease{Name: name}, false, nil
	}
	return l, false, err
}

// GetLease returns the lease name as it stands, ErrNotFound if nobody took
// it or it was released.
func (d *DB) GetLease(ctx context.Context, name string) (Lease, error) {
	l := Lease{Name: name}
	var ms int64
	err := d.QueryRowContext(ctx, "SELECT holder, expires FROM leases WHERE name = ?", name).Scan(&l.Holder, &ms)
	if errors.Is(err, sql.ErrNoRows) {
		return l, fmt.Errorf("lease %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return l, fmt.Errorf("read lease %s: %w", name, err)
	}
	l.Expires = time.UnixMilli(ms)
	return l, nil
}

// ReleaseLease gives the lease name back if holder has it.
func (d *DB) ReleaseLease(ctx context.Context, name, holder string) error {
	if _, err := d.ExecContext(ctx, "DELETE FROM leases WHERE name = ? AND holder = ?", name, holder); err != nil {
		return fmt.Errorf("release lease %s: %w", name, err)
	}
	return nil
}
