package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"
)

// Leases are locks in central's database that expire: a replica of
// central's server holds one while it prepares a client's pull or takes
// its uploads, a sweep of the blobs while it sweeps, and one that dies
// holds it no longer than its length. Every time that decides a lease
// (its expiry when taken or renewed, whether it has expired) is the
// database's clock, read in the statement itself: one clock for every
// replica, whatever the clocks of the machines they run on say. The times
// are Unix milliseconds.

// Lease is who holds a lease (TakeLease), and until when by the
// database's clock.
type Lease struct {
	Name    string    `json:"name"`
	Holder  string    `json:"holder"`
	Expires time.Time `json:"expires"`
}

// ErrLeaseLost: a lease expired and another holder took it.
var ErrLeaseLost = errors.New("lease lost")

// clockSkew, in milliseconds, is added to the database's clock as the
// leases read it: only tests set it (SkewClock).
var clockSkew atomic.Int64

// SkewClock makes the leases read the database's clock d ahead of what it
// says, until restore is called. For tests: a database whose clock is not
// the process's.
func SkewClock(d time.Duration) (restore func()) {
	old := clockSkew.Swap(d.Milliseconds())
	return func() { clockSkew.Store(old) }
}

// now is the SQL of the database's clock in Unix milliseconds.
// PostgreSQL's clock_timestamp() is the time when it is read, not the
// transaction's start (now()); SQLite's 'subsec' gives milliseconds.
func (e Engine) now() string {
	clock := "CAST(unixepoch('subsec') * 1000 AS INTEGER)"
	if e == Postgres {
		clock = "(extract(epoch from clock_timestamp()) * 1000)::bigint"
	}
	if d := clockSkew.Load(); d != 0 {
		return "(" + clock + " + " + strconv.FormatInt(d, 10) + ")"
	}
	return clock
}

// leaseTurn takes the turn to write for a lease statement on SQLite,
// ahead of the other writes waiting (Turns), when c.Writes queues them; it
// returns the release. PostgreSQL writes rows at once.
func (c *CentralDB) leaseTurn() (release func()) {
	t, ok := c.Writes.(*Turns)
	if !ok || c.DB.Engine == Postgres {
		return func() {}
	}
	t.LockFirst()
	return t.Unlock
}

// TakeLease takes the lease name for holder for ttl, reserving bytes
// (LeasesHeld sums them), if nobody holds it or its holder let it expire;
// it reports whether it did.
func (c *CentralDB) TakeLease(ctx context.Context, name, holder string, bytes int64, ttl time.Duration) (bool, error) {
	defer c.leaseTurn()()
	now := c.DB.Engine.now()
	r, err := c.DB.ExecContext(ctx, `INSERT INTO leases (name, holder, expires, bytes) VALUES (?, ?, `+now+` + ?, ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires = excluded.expires, bytes = excluded.bytes
		WHERE leases.expires <= `+now, name, holder, ttl.Milliseconds(), bytes)
	if err != nil {
		return false, fmt.Errorf("take lease %s: %w", name, err)
	}
	n, err := r.RowsAffected()
	return n == 1, err
}

// RenewLease extends holder's lease name to ttl from now; ErrLeaseLost if
// holder no longer holds it. A lease that expired and that nobody took
// since is still holder's: nobody worked under it meanwhile.
func (c *CentralDB) RenewLease(ctx context.Context, name, holder string, ttl time.Duration) error {
	defer c.leaseTurn()()
	r, err := c.DB.ExecContext(ctx, "UPDATE leases SET expires = "+c.DB.Engine.now()+" + ? WHERE name = ? AND holder = ?",
		ttl.Milliseconds(), name, holder)
	if err != nil {
		return fmt.Errorf("renew lease %s: %w", name, err)
	}
	n, err := r.RowsAffected()
	if err == nil && n == 0 {
		err = ErrLeaseLost
	}
	if err != nil {
		return fmt.Errorf("renew lease %s: %w", name, err)
	}
	return nil
}

// ReleaseLease lets go of holder's lease name.
func (c *CentralDB) ReleaseLease(ctx context.Context, name, holder string) error {
	defer c.leaseTurn()()
	if _, err := c.DB.ExecContext(ctx, "DELETE FROM leases WHERE name = ? AND holder = ?", name, holder); err != nil {
		return fmt.Errorf("release lease %s: %w", name, err)
	}
	return nil
}

// GetLease returns the lease name as it stands, expired or not;
// ErrNotFound if nobody took it or it was released.
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

// LeasesHeld counts the unexpired leases whose name starts with prefix and
// sums the bytes they reserve. The names are read as a range of the
// table's key (prefix up to the prefix with its last byte the next), which
// its index serves; a prefix that does not end in an ASCII byte is
// compared whole.
func (c *CentralDB) LeasesHeld(ctx context.Context, prefix string) (n, bytes int64, err error) {
	now := c.DB.Engine.now()
	query, args := "SELECT count(*), coalesce(sum(bytes), 0) FROM leases WHERE substr(name, 1, ?) = ? AND expires > "+now,
		[]any{len(prefix), prefix}
	if last := len(prefix) - 1; last >= 0 && prefix[last] < 0x7f {
		query, args = "SELECT count(*), coalesce(sum(bytes), 0) FROM leases WHERE name >= ? AND name < ? AND expires > "+now,
			[]any{prefix, prefix[:last] + string(prefix[last]+1)}
	}
	err = c.DB.QueryRowContext(ctx, query, args...).Scan(&n, &bytes)
	if err != nil {
		return 0, 0, fmt.Errorf("count leases %s: %w", prefix, err)
	}
	return n, bytes, nil
}

// DropExpiredLeases deletes the leases that expired more than age ago: a
// holder that died, or failed to release one, leaves its row, which
// nothing else removes (a lease that expired is free to take anyway). The
// housekeeping calls it.
func (c *CentralDB) DropExpiredLeases(ctx context.Context, age time.Duration) (int64, error) {
	r, err := c.DB.ExecContext(ctx, "DELETE FROM leases WHERE expires < "+c.DB.Engine.now()+" - ?", age.Milliseconds())
	if err != nil {
		return 0, fmt.Errorf("drop expired leases: %w", err)
	}
	return r.RowsAffected()
}
