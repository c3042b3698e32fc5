package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// ErrUnknownOperator is returned for an operator name not registered.
var ErrUnknownOperator = errors.New("unknown operator")

// AddOperator registers an operator of the web view with the argon2id
// hash of its password.
func (c *CentralDB) AddOperator(ctx context.Context, name, hash string) error {
	_, err := c.DB.ExecContext(ctx, "INSERT INTO operators (name, hash, created_at) VALUES (?, ?, ?)", name, hash, now())
	if err != nil {
		var one int
		if c.DB.QueryRowContext(ctx, "SELECT 1 FROM operators WHERE name = ?", name).Scan(&one) == nil {
			return fmt.Errorf("operator %q already exists (remove it first to set a new password)", name)
		}
		return fmt.Errorf("add operator %s: %w", name, err)
	}
	return nil
}

// RemoveOperator removes an operator; its sessions end at their next
// request.
func (c *CentralDB) RemoveOperator(ctx context.Context, name string) error {
	r, err := c.DB.ExecContext(ctx, "DELETE FROM operators WHERE name = ?", name)
	if err != nil {
		return fmt.Errorf("remove operator %s: %w", name, err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return fmt.Errorf("%w %q", ErrUnknownOperator, name)
	}
	return nil
}

// OperatorHash returns an operator's password hash.
func (c *CentralDB) OperatorHash(ctx context.Context, name string) (string, error) {
	var hash string
	err := c.DB.QueryRowContext(ctx, "SELECT hash FROM operators WHERE name = ?", name).Scan(&hash)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("%w %q", ErrUnknownOperator, name)
	}
	return hash, err
}
