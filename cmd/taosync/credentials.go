package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"

	"github.com/spf13/cobra"

	"github.com/taosync/taosync/internal/client"
	"github.com/taosync/taosync/internal/home"
	"github.com/taosync/taosync/internal/store"
)

type credentialsOptions struct {
	key, secret, tokenURL, rootURL, centralKey string
}

func (a *app) credentialsCommand() *cobra.Command {
	var o credentialsOptions
	imp := &cobra.Command{
		Use:   "import -k KEY -s SECRET -tu TOKENURL -u ROOTURL --central-key KEY",
		Short: "Store the credentials central registered this client with, and trust central's key",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runCredentialsImport(cmd.Context(), o)
		},
	}
	f := imp.Flags()
	f.StringVarP(&o.key, "key", "k", "", "the OAuth key (the client id central registered)")
	f.StringVarP(&o.secret, "secret", "s", "", "the OAuth secret")
	f.StringVar(&o.tokenURL, "token-url", "", "central's OAuth 2 token URL (also -tu)")
	f.StringVarP(&o.rootURL, "root-url", "u", "", "central's root URL")
	f.StringVar(&o.centralKey, "central-key", "", "central's public key, as `central client add` printed it")
	cmd := &cobra.Command{Use: "credentials", Short: "Credentials for reaching central", Args: noArgs}
	cmd.AddCommand(imp)
	return cmd
}

// normaliseArgs maps the contract's two-letter single-dash flag -tu, which
// pflag cannot declare, to its long name.
func normaliseArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		switch {
		case a == "-tu":
			a = "--token-url"
		case len(a) > 4 && a[:4] == "-tu=":
			a = "--token-url=" + a[4:]
		}
		out[i] = a
	}
	return out
}

func (a *app) runCredentialsImport(ctx context.Context, o credentialsOptions) error {
	for _, f := range []struct{ name, v string }{{"-k", o.key}, {"-s", o.secret}, {"-tu", o.tokenURL}, {"-u", o.rootURL}, {"--central-key", o.centralKey}} {
		if f.v == "" {
			return usageError{fmt.Errorf("%s is required", f.name)}
		}
	}
	if !clientIDPattern.MatchString(o.key) {
		return usageError{fmt.Errorf("-k %q is not a client key as central prints it", o.key)}
	}
	for _, u := range []struct{ name, v string }{{"-tu", o.tokenURL}, {"-u", o.rootURL}} {
		p, err := url.Parse(u.v)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return usageError{fmt.Errorf("%s %q is not an http or https URL", u.name, u.v)}
		}
	}
	central, err := home.ParsePublicKeys(o.centralKey)
	if err != nil {
		return usageError{fmt.Errorf("--central-key: %w", err)}
	}
	cl, err := a.openClient(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	err = cl.ImportCredentials(ctx, store.Credentials{ClientID: o.key, Secret: o.secret, TokenURL: o.tokenURL, RootURL: o.rootURL}, central)
	var re *client.RegisteredError
	if errors.As(err, &re) {
		return hinted{err, "initialise a new home for another test centre"}
	}
	if err != nil {
		return err
	}
	return a.printer().object(map[string]string{"client_id": o.key, "root_url": o.rootURL, "central_key_id": central.Sign.IDString()},
		func(w io.Writer) {
			writeLines(w, wrapClauses(fmt.Sprintf("stored the credentials of client %s for %s; trusting central's key %s",
				o.key, o.rootURL, central.Sign.IDString()), "", "  ", width))
		})
}
