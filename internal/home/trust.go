package home

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/taosync/taosync/bundle"
	"github.com/taosync/taosync/internal/store"
	"github.com/taosync/taosync/manifest"
	"github.com/taosync/taosync/minisign"
)

// ClientID is the id central registered this client under, set when the
// client imports its credentials; empty before.
func (h *Home) ClientID(ctx context.Context) (string, error) {
	if h.Role != RoleClient {
		return "", nil
	}
	id, err := store.Meta(ctx, h.DB, "client_id")
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	return id, err
}

// Trust is what this home checks bundles against: the keys it trusts (its
// own and those in trusted_keys), and itself as the recipient.
func (h *Home) Trust(ctx context.Context, now time.Time) (bundle.Trust, error) {
	keys, err := h.PublicKeys()
	if err != nil {
		return bundle.Trust{}, err
	}
	client, err := h.ClientID(ctx)
	if err != nil {
		return bundle.Trust{}, err
	}
	own := keys.Sign
	t := bundle.Trust{
		Keys:    []minisign.PublicKey{own},
		Own:     &own,
		Parties: map[string]string{},
		Self:    bundle.Self{Role: string(h.Role), Client: client, AgeRecipient: keys.Age},
		Now:     now,
	}
	trusted, err := store.TrustedKeys(ctx, h.DB)
	if err != nil {
		return bundle.Trust{}, err
	}
	for _, k := range trusted {
		pk, err := minisign.ParsePublicKey(k.SignKey)
		if err != nil {
			return bundle.Trust{}, fmt.Errorf("trusted key of %s: %w", k.Party, err)
		}
		t.Keys = append(t.Keys, pk)
		t.Parties[pk.IDString()] = k.Party
	}
	return t, nil
}

// Central is the central this client trusts, as a bundle names its
// recipient; an error tells the technician to import the credentials.
func (h *Home) Central(ctx context.Context) (manifest.Party, error) {
	keys, err := store.TrustedKeys(ctx, h.DB)
	if err != nil {
		return manifest.Party{}, err
	}
	for _, k := range keys {
		if k.Party == "central" {
			return manifest.Party{Role: "central", KeyID: k.KeyID, AgeRecipient: k.AgeRecipient}, nil
		}
	}
	return manifest.Party{}, ErrNoCredentials
}

// ErrNoCredentials: a client that has not imported its credentials knows no
// central.
var ErrNoCredentials = errors.New("this client has no credentials yet: run the taosync credentials import command central printed for it")
