package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/taosync/taosync/internal/home"
)

func (a *app) keysCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "keys",
		Short: "Show this home's public keys and key files",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runKeys(cmd.Context())
		},
	}
}

// keysReport is the JSON form of `taosync keys`; its field names are part of
// the contract.
type keysReport struct {
	AgeRecipient      string `json:"age_recipient"`
	SignPublicKey     string `json:"sign_public_key"`
	ClientKey         string `json:"client_key"`
	AgeIdentityFile   string `json:"age_identity_file"`
	SignPublicKeyFile string `json:"sign_public_key_file"`
	SignKeyFile       string `json:"sign_key_file"`
	SignKeyID         string `json:"sign_key_id"`
}

func (a *app) runKeys(ctx context.Context) error {
	h, err := a.open(ctx, "")
	if err != nil {
		return err
	}
	defer h.Close()
	k, err := h.PublicKeys()
	if err != nil {
		return err
	}
	r := keysReport{
		AgeRecipient:      k.Age,
		SignPublicKey:     k.Sign.String(),
		ClientKey:         k.String(),
		AgeIdentityFile:   h.Path(home.AgeKeyFile),
		SignPublicKeyFile: h.Path(home.SignPubFile),
		SignKeyFile:       h.Path(home.SignKeyFile),
		SignKeyID:         k.Sign.IDString(),
	}
	return a.printer().object(r, func(w io.Writer) {
		fmt.Fprintf(w, "role:              %s\n", h.Role)
		fmt.Fprintf(w, "age recipient:     %s\n", r.AgeRecipient)
		fmt.Fprintf(w, "signing key:       %s (id %s)\n", r.SignPublicKey, r.SignKeyID)
		fmt.Fprintf(w, "client key:        %s\n", r.ClientKey)
		fmt.Fprintf(w, "age identity file: %s\n", r.AgeIdentityFile)
		fmt.Fprintf(w, "signing key files: %s, %s\n", r.SignPublicKeyFile, r.SignKeyFile)
	})
}
