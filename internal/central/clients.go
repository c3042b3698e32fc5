package central

import (
	"context"
	"errors"

	"github.com/taosync/taosync/internal/config"
	"github.com/taosync/taosync/internal/home"
	"github.com/taosync/taosync/internal/password"
	"github.com/taosync/taosync/internal/store"
)

// ErrOwnKey refuses a client registered with central's own key, as when
// `taosync keys` was run on central instead of the client.
var ErrOwnKey = errors.New("the client's key is central's own")

// AddClient registers the client id of org, with its public keys, and
// returns the secret it authenticates with: made here, shown once, kept
// only as its hash.
func (c *Central) AddClient(ctx context.Context, id, org string, keys home.PublicKeys) (secret string, err error) {
	own, err := c.Home.PublicKeys()
	if err != nil {
		return "", err
	}
	if keys.Sign.IDString() == own.Sign.IDString() {
		return "", ErrOwnKey
	}
	secret = password.NewSecret()
	err = c.Store.AddClient(ctx, store.RegisteredClient{ID: id, Org: org, AgeRecipient: keys.Age, SignKey: keys.Sign.String(),
		KeyID: keys.Sign.IDString()}, password.HashSecret(secret))
	if err != nil {
		return "", err
	}
	return secret, nil
}

// RotateSecret gives the client a new secret, which it returns, and lifts
// a revocation: the old secret, and every token obtained with it, is
// refused from now on.
func (c *Central) RotateSecret(ctx context.Context, id string) (string, error) {
	secret := password.NewSecret()
	if err := c.Store.RotateSecret(ctx, id, password.HashSecret(secret)); err != nil {
		return "", err
	}
	return secret, nil
}

// ServerURL is the URL clients reach central at (the server.url setting),
// and whether it was set rather than left at its default.
func (c *Central) ServerURL(ctx context.Context) (url string, set bool, err error) {
	if url, err = config.Get(ctx, c.Home.DB, "server.url"); err != nil {
		return "", false, err
	}
	set, err = config.IsSet(ctx, c.Home.DB, "server.url")
	return url, set, err
}
