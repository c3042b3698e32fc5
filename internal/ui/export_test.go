package ui

import (
	"context"
	"time"

	"github.com/taosync/taosync/internal/password"
)

// MaxSessions is the session table's bound.
const MaxSessions = maxSessions

// PutSession holds a session of an operator under id, as a login does, with
// its expiry: a test fills the session table without a login each.
func (u *UI) PutSession(id, operator, hash string, expires time.Time) error {
	_, err := u.c.Store.DB.ExecContext(context.Background(),
		"INSERT INTO operator_sessions (hash, operator, csrf, password_hash, expires) VALUES (?, ?, ?, ?, ?) ON CONFLICT (hash) DO UPDATE SET expires = excluded.expires",
		password.HashSecret(id), operator, random(), hash, expires.UnixMilli())
	return err
}

// Sessions counts the sessions held, live or expired.
func (u *UI) Sessions() int {
	var n int
	u.c.Store.DB.QueryRowContext(context.Background(), "SELECT count(*) FROM operator_sessions").Scan(&n)
	return n
}
