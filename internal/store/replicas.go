package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// What the replicas of central's server share, so that a request may land
// on any of them: the access tokens issued and the failed logins per
// address (the leases, locks that expire when the replica holding them
// dies, are in leases.go). Times are stored as Unix milliseconds.

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
