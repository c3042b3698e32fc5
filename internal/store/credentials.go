package store

import (
	"context"
	"database/sql"
)

// Credentials are what central registered a client with: the id and the
// secret of its OAuth 2 client credentials, and where it reaches central.
type Credentials struct {
	ClientID string
	Secret   string
	TokenURL string
	RootURL  string
}

// SaveCredentials keeps a client's credentials and trusts central's key, in
// one transaction: a client never holds the one without the other.
func (l *ClientDB) SaveCredentials(ctx context.Context, c Credentials, central TrustedKey) error {
	central.Party = "central"
	return l.DB.Tx(ctx, func(tx *sql.Tx) error {
		for k, v := range map[string]string{
			"client_id": c.ClientID, "oauth_secret": c.Secret, "token_url": c.TokenURL, "root_url": c.RootURL,
		} {
			if err := SetMeta(ctx, tx, k, v); err != nil {
				return err
			}
		}
		return AddTrustedKey(ctx, tx, central)
	})
}
