package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// OperatorSession is a login session of the operator view, kept in
// central's database so that any replica serves it.
type OperatorSession struct {
	Operator, CSRF string
	// PasswordHash is the operator's password hash at login: a password
	// reset ends the session.
	PasswordHash string
	Expires      time.Time
}

// AddOperatorSession keeps a session under hash (of its cookie), in a table
// of at most max: the expired ones go first, then, if all are live, the
// oldest.
func (c *CentralDB) AddOperatorSession(ctx context.Context, hash string, s OperatorSession, max int, now time.Time) error {
	return c.DB.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM operator_sessions WHERE expires <= ?", now.UnixMilli()); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM operator_sessions").Scan(&n); err != nil {
			return err
		}
		if n >= max {
			if _, err := tx.ExecContext(ctx, `DELETE FROM operator_sessions WHERE hash IN
				(SELECT hash FROM operator_sessions ORDER BY expires, hash LIMIT ?)`, n-max+1); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO operator_sessions (hash, operator, csrf, password_hash, expires) VALUES (?, ?, ?, ?, ?)",
			hash, s.Operator, s.CSRF, s.PasswordHash, s.Expires.UnixMilli())
		return err
	})
}

// OperatorSession returns the live session kept under hash; ErrNotFound if
// there is none.
func (c *CentralDB) OperatorSession(ctx context.Context, hash string, now time.Time) (OperatorSession, error) {
	var s OperatorSession
	var expires int64
	err := c.DB.QueryRowContext(ctx, "SELECT operator, csrf, password_hash, expires FROM operator_sessions WHERE hash = ? AND expires > ?",
		hash, now.UnixMilli()).Scan(&s.Operator, &s.CSRF, &s.PasswordHash, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return s, fmt.Errorf("operator session: %w", ErrNotFound)
	}
	s.Expires = time.UnixMilli(expires)
	return s, err
}

// EndOperatorSession forgets the session kept under hash.
func (c *CentralDB) EndOperatorSession(ctx context.Context, hash string) error {
	_, err := c.DB.ExecContext(ctx, "DELETE FROM operator_sessions WHERE hash = ?", hash)
	return err
}

// ShowOnce keeps a client's new secret, sealed, in the session under hash
// until TakeShown.
func (c *CentralDB) ShowOnce(ctx context.Context, hash, client, sealed string) error {
	_, err := c.DB.ExecContext(ctx, "UPDATE operator_sessions SET shown_client = ?, shown = ? WHERE hash = ?", client, sealed, hash)
	return err
}

// TakeShown returns the sealed secret of client the session under hash
// keeps, and forgets it: of two requests at once, one gets it. It returns
// "" if there is none.
func (c *CentralDB) TakeShown(ctx context.Context, hash, client string) (string, error) {
	var sealed string
	err := c.DB.QueryRowContext(ctx, "SELECT shown FROM operator_sessions WHERE hash = ? AND shown_client = ? AND shown <> ''",
		hash, client).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	r, err := c.DB.ExecContext(ctx, "UPDATE operator_sessions SET shown_client = '', shown = '' WHERE hash = ? AND shown = ?", hash, sealed)
	if err != nil {
		return "", err
	}
	if n, err := r.RowsAffected(); err != nil || n != 1 {
		return "", err
	}
	return sealed, nil
}
