package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// What the replicas of central's server share, so that a request may land
// on any of them: the access tokens issued, the failed logins per address,
// and leases (locks that expire when the replica holding them dies). Times
// are stored as Unix milliseconds.

// expiredTokensPerIssue bounds the expired tokens one issue removes: the
// table stays bounded by the tokens issued in one lifetime.
const expiredTokensPerIssue = 64

// IssueToken keeps an access token by its hash, issued to client under the
// secret hashed as secretHash, until expires; it removes expired ones.
func (c *CentralDB) IssueToken(ctx context.Context, hash, client, secretHash string, expires, now time.Time) error {
	if _, err := c.DB.ExecContext(ctx, "DELETE FROM tokens WHERE hash IN (SELECT hash FROM tokens WHERE expires <= ? LIMIT ?)",
		now.UnixMilli(), expiredTokensPerIssue); err != nil {
		return fmt.Errorf("remove expired tokens: %w", err)
	}
	if _, err := c.DB.ExecContext(ctx, "INSERT INTO tokens (hash, client, secret_hash, expires) VALUES (?, ?, ?, ?)",
		hash, client, secretHash, expires.UnixMilli()); err != nil {
		return fmt.Errorf("keep token: %w", err)
	}
	return nil
}

// Token returns the client an unexpired token was issued to, and whether
// its credential is still the one it was issued under (neither rotated nor
// revoked since); ErrNotFound if there is none.
func (c *CentralDB) Token(ctx context.Context, hash string, now time.Time) (client string, live bool, err error) {
	var n int
	err = c.DB.QueryRowContext(ctx, `SELECT t.client, CASE WHEN c.secret_hash = t.secret_hash AND c.revoked_at = '' THEN 1 ELSE 0 END
		FROM tokens t JOIN clients c ON c.id = t.client WHERE t.hash = ? AND t.expires > ?`,
		hash, now.UnixMilli()).Scan(&client, &n)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, fmt.Errorf("token: %w", ErrNotFound)
	}
	return client, n == 1, err
}

// LoginFailures counts failed logins per address, in windows: an address
// that failed Max times is refused until its window is over.
type LoginFailures struct {
	DB *CentralDB
	// Scope names the login counted (the token endpoint, the operator
	// view): each has its own counts.
	Scope  string
	Max    int
	Window time.Duration
}

// Blocked says how long addr is still refused.
func (f LoginFailures) Blocked(ctx context.Context, addr string, now time.Time) (time.Duration, error) {
	var n, since int64
	err := f.DB.DB.QueryRowContext(ctx, "SELECT n, since FROM auth_failures WHERE scope = ? AND addr = ?", f.Scope, addr).Scan(&n, &since)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read failed logins: %w", err)
	}
	left := time.UnixMilli(since).Add(f.Window).Sub(now)
	if left < 0 || n < int64(f.Max) {
		return 0, nil
	}
	return left, nil
}

// Fail counts a failed login of addr: in its window, or in a new one if
// that is over. It removes a bounded number of windows that are over.
func (f LoginFailures) Fail(ctx context.Context, addr string, now time.Time) error {
	over := now.Add(-f.Window).UnixMilli()
	_, err := f.DB.DB.ExecContext(ctx, `INSERT INTO auth_failures (scope, addr, n, since) VALUES (?, ?, 1, ?)
		ON CONFLICT (scope, addr) DO UPDATE SET
			n = CASE WHEN auth_failures.since < ? THEN 1 ELSE auth_failures.n + 1 END,
			since = CASE WHEN auth_failures.since < ? THEN excluded.since ELSE auth_failures.since END`,
		f.Scope, addr, now.UnixMilli(), over, over)
	if err == nil {
		_, err = f.DB.DB.ExecContext(ctx, `DELETE FROM auth_failures WHERE scope = ? AND since < ? AND addr IN
			(SELECT addr FROM auth_failures WHERE scope = ? AND since < ? LIMIT ?)`, f.Scope, over, f.Scope, over, expiredTokensPerIssue)
	}
	if err != nil {
		return fmt.Errorf("count a failed login: %w", err)
	}
	return nil
}

// Forgive takes back one failure of addr.
func (f LoginFailures) Forgive(ctx context.Context, addr string) error {
	if _, err := f.DB.DB.ExecContext(ctx, "UPDATE auth_failures SET n = n - 1 WHERE scope = ? AND addr = ? AND n > 0", f.Scope, addr); err != nil {
		return fmt.Errorf("forgive a failed login: %w", err)
	}
	return nil
}

// TakeLease takes the lease name for holder until now+ttl, reserving bytes
// (LeasesHeld sums them), if nobody holds it or its holder let it expire;
// it reports whether it did.
func (c *CentralDB) TakeLease(ctx context.Context, name, holder string, bytes int64, ttl time.Duration, now time.Time) (bool, error) {
	r, err := c.DB.ExecContext(ctx, `INSERT INTO leases (name, holder, expires, bytes) VALUES (?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires = excluded.expires, bytes = excluded.bytes
		WHERE leases.expires <= ?`, name, holder, now.Add(ttl).UnixMilli(), bytes, now.UnixMilli())
	if err != nil {
		return false, fmt.Errorf("take lease %s: %w", name, err)
	}
	n, err := r.RowsAffected()
	return n == 1, err
}

// ErrLeaseLost: a lease expired and another holder took it.
var ErrLeaseLost = errors.New("lease lost")

// RenewLease extends holder's lease name to now+ttl; ErrLeaseLost if
// holder no longer holds it.
func (c *CentralDB) RenewLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) error {
	r, err := c.DB.ExecContext(ctx, "UPDATE leases SET expires = ? WHERE name = ? AND holder = ?",
		now.Add(ttl).UnixMilli(), name, holder)
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
	if _, err := c.DB.ExecContext(ctx, "DELETE FROM leases WHERE name = ? AND holder = ?", name, holder); err != nil {
		return fmt.Errorf("release lease %s: %w", name, err)
	}
	return nil
}

// LeasesHeld counts the unexpired leases whose name starts with prefix and
// sums the bytes they reserve. The names are read as a range of the
// table's key (prefix up to the prefix with its last byte the next), which
// its index serves; a prefix that does not end in an ASCII byte is
// compared whole.
func (c *CentralDB) LeasesHeld(ctx context.Context, prefix string, now time.Time) (n, bytes int64, err error) {
	query, args := "SELECT count(*), coalesce(sum(bytes), 0) FROM leases WHERE substr(name, 1, ?) = ? AND expires > ?",
		[]any{len(prefix), prefix, now.UnixMilli()}
	if last := len(prefix) - 1; last >= 0 && prefix[last] < 0x7f {
		query, args = "SELECT count(*), coalesce(sum(bytes), 0) FROM leases WHERE name >= ? AND name < ? AND expires > ?",
			[]any{prefix, prefix[:last] + string(prefix[last]+1), now.UnixMilli()}
	}
	err = c.DB.QueryRowContext(ctx, query, args...).Scan(&n, &bytes)
	if err != nil {
		return 0, 0, fmt.Errorf("count leases %s: %w", prefix, err)
	}
	return n, bytes, nil
}

// DropExpiredLeases deletes the leases that expired before the time
// before: a holder that died, or failed to release one, leaves its row,
// which nothing else removes (a lease that expired is free to take
// anyway). The housekeeping calls it.
func (c *CentralDB) DropExpiredLeases(ctx context.Context, before time.Time) (int64, error) {
	r, err := c.DB.ExecContext(ctx, "DELETE FROM leases WHERE expires < ?", before.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("drop expired leases: %w", err)
	}
	return r.RowsAffected()
}
