package client

import (
	"context"
	"fmt"

	"github.com/taosync/taosync/internal/home"
	"github.com/taosync/taosync/internal/store"
)

// RegisteredError refuses credentials made for another client than the one
// this home is registered as: a home serves one test centre.
type RegisteredError struct {
	Registered, Given string
}

func (e *RegisteredError) Error() string {
	return fmt.Sprintf("this client is registered as %s; the credentials are for %s", e.Registered, e.Given)
}

// ImportCredentials keeps the credentials central registered this client
// with, and trusts central's keys. The same client's credentials again (a
// rotated secret, a new URL) replace the old ones.
func (c *Client) ImportCredentials(ctx context.Context, cr store.Credentials, central home.PublicKeys) error {
	prev, err := c.Home.ClientID(ctx)
	if err != nil {
		return err
	}
	if prev != "" && prev != cr.ClientID {
		return &RegisteredError{Registered: prev, Given: cr.ClientID}
	}
	err = c.Local.SaveCredentials(ctx, cr, store.TrustedKey{KeyID: central.Sign.IDString(),
		SignKey: central.Sign.String(), AgeRecipient: central.Age})
	if err != nil {
		return fmt.Errorf("store credentials: %w", err)
	}
	return nil
}
