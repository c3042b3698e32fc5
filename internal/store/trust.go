package store

import (
	"context"
	"fmt"
	"time"
)

// TrustedKey is a party whose signed bundles this home accepts.
type TrustedKey struct {
	KeyID        string
	Party        string // "central" or a client id
	SignKey      string // minisign public key, base64 line
	AgeRecipient string
}

// AddTrustedKey records (or replaces) a trusted key for a party.
func AddTrustedKey(ctx context.Context, q Querier, k TrustedKey) error {
	if _, err := q.ExecContext(ctx, "DELETE FROM trusted_keys WHERE party = ? OR key_id = ?", k.Party, k.KeyID); err != nil {
		return fmt.Errorf("trust key: %w", err)
	}
	_, err := q.ExecContext(ctx, "INSERT INTO trusted_keys (key_id, party, sign_key, age_recipient, added_at) VALUES (?, ?, ?, ?, ?)",
		k.KeyID, k.Party, k.SignKey, k.AgeRecipient, time.Now().UTC().Format(time.RFC3339))
	if err != nil {
		return fmt.Errorf("trust key: %w", err)
	}
	return nil
}

// TrustedKeys lists the trusted keys.
func TrustedKeys(ctx context.Context, q Querier) ([]TrustedKey, error) {
	rows, err := q.QueryContext(ctx, "SELECT key_id, party, sign_key, age_recipient FROM trusted_keys ORDER BY party")
	if err != nil {
		return nil, fmt.Errorf("read trusted keys: %w", err)
	}
	defer rows.Close()
	var out []TrustedKey
	for rows.Next() {
		var k TrustedKey
		if err := rows.Scan(&k.KeyID, &k.Party, &k.SignKey, &k.AgeRecipient); err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}
