package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/internal/api"
	"github.com/taosync/taosync/internal/central"
	"github.com/taosync/taosync/internal/home"
	"github.com/taosync/taosync/internal/human"
	"github.com/taosync/taosync/internal/load"
	"github.com/taosync/taosync/internal/store"
)

func (a *app) centralCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "central",
		Short: "Central's commands: master data, packages, clients",
		Args:  noArgs,
	}
	client := &cobra.Command{
		Use:   "client",
		Short: "Register, list and revoke test centres' clients",
		Args:  noArgs,
	}
	client.AddCommand(a.clientAddCommand(), a.clientListCommand(), a.clientRevokeCommand(), a.clientRotateCommand())
	cmd.AddCommand(a.loadCommand(), a.publishCommand(), client, a.operatorCommand(), a.gcCommand())
	return cmd
}

type loadOptions struct {
	typ    string
	format string
	prune  bool
}

func (a *app) loadCommand() *cobra.Command {
	var o loadOptions
	cmd := &cobra.Command{
		Use:   "load --type TYPE FILE",
		Short: "Load master data from CSV or JSON Lines (upsert by id; --prune: the file is the full state)",
		Long:  loadHelp(),
		Example: "  taosync central load --type test-taker exports/test-taker.csv\n" +
			"  taosync central load --type eligibility --prune exports/eligibility.jsonl",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runLoad(cmd.Context(), o, args[0])
		},
	}
	cmd.Flags().StringVar(&o.typ, "type", "", "test-center, administrator, proctor, test-taker, eligibility or delivery (required)")
	cmd.Flags().StringVar(&o.format, "format", "", "csv or jsonl (default: by the file's extension)")
	cmd.Flags().BoolVar(&o.prune, "prune", false, "delete the entities of the type that the file does not hold")
	cmd.RegisterFlagCompletionFunc("type", func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return completeTypes()
	})
	return cmd
}

// loadHelp lists each type's known fields, from the domain's own table, so
// that the help never drifts from what load takes.
func loadHelp() string {
	var b strings.Builder
	b.WriteString("Load master data of one type from CSV (a header row) or JSON Lines (one object a line).\n" +
		"Load the types in this order, so that references name what is already loaded.\n" +
		"Every row has a unique id; * marks a required field, [] a list; other fields are kept as given.\n\n")
	for _, t := range taosync.Types {
		fmt.Fprintf(&b, "  %-14s id*", t)
		for _, f := range taosync.Fields[t] {
			b.WriteString(", " + f.Name)
			if f.Required {
				b.WriteString("*")
			}
			if f.Kind == taosync.List {
				b.WriteString("[]")
			}
		}
		if _, ok := taosync.FieldOf(t, "password_hash"); ok {
			b.WriteString(", password")
		}
		b.WriteString("\n")
	}
	b.WriteString("\nFormats, rules and examples: docs/data.md.")
	return b.String()
}

func (a *app) runLoad(ctx context.Context, o loadOptions, file string) error {
	t, err := taosync.ParseType(o.typ)
	if err != nil {
		return usageError{fmt.Errorf("--type: %w", err)}
	}
	var f load.Format
	if o.format != "" {
		f, err = load.ParseFormat(o.format)
	} else {
		f, err = load.FormatOf(file)
	}
	if err != nil {
		return usageError{err}
	}
	cc, err := a.openCentral(ctx)
	if err != nil {
		return err
	}
	defer cc.Close()
	c := cc.Store
	in, err := os.Open(file)
	if err != nil {
		return err
	}
	defer in.Close()
	// On a terminal, a line counts the rows read.
	read := &countingReader{r: in}
	r, err := load.NewReader(read, file, f, t)
	if err != nil {
		return refusedRow(err)
	}
	var src store.EntitySource = r
	counter := a.newCounter()
	if counter != nil {
		var size int64
		if st, err := in.Stat(); err == nil && st.Mode().IsRegular() {
			size = st.Size()
		}
		src = &countingSource{src: r, read: read, size: size, c: counter, name: filepath.Base(file)}
	}
	res, err := c.Load(ctx, file, t, src, o.prune)
	counter.done()
	if err != nil {
		return refusedRow(fmt.Errorf("%w (nothing of %s was loaded)", err, file))
	}
	return a.printer().object(res, func(w io.Writer) {
		// Only the counts that are not zero, as import says what changed.
		var counts []string
		for _, c := range []struct {
			n    int64
			word string
		}{{res.Created, "created"}, {res.Updated, "updated"}, {res.Unchanged, "unchanged"}, {res.Deleted, "deleted"}} {
			if c.n != 0 {
				counts = append(counts, fmt.Sprintf("%d %s", c.n, c.word))
			}
		}
		if len(counts) == 0 {
			counts = []string{"no rows"}
		}
		writeLines(w, wrapClauses(fmt.Sprintf("loaded %s from %s: %s", res.Type, res.File, strings.Join(counts, ", ")), "", "  ", width))
	})
}

// refusedRow gives a bad row exit code 4.
func refusedRow(err error) error {
	var re *load.RowError
	if errors.As(err, &re) {
		return refused(err)
	}
	return err
}

type publishOptions struct {
	delivery string
}

func (a *app) publishCommand() *cobra.Command {
	var o publishOptions
	cmd := &cobra.Command{
		Use:     "publish --delivery ID PACKAGE.zip",
		Short:   "Validate a QTI content package and publish it as the delivery's test",
		Example: "  taosync central publish --delivery maths-2027 maths-2027.zip",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runPublish(cmd.Context(), o, args[0])
		},
	}
	cmd.Flags().StringVar(&o.delivery, "delivery", "", "the delivery's id (required)")
	cmd.RegisterFlagCompletionFunc("delivery", a.completeDeliveries)
	return cmd
}

func (a *app) runPublish(ctx context.Context, o publishOptions, path string) error {
	if o.delivery == "" {
		return usageError{errors.New("--delivery is required")}
	}
	cc, err := a.openCentral(ctx)
	if err != nil {
		return err
	}
	defer cc.Close()
	res, pkg, err := cc.Publish(ctx, o.delivery, path)
	var pe *central.PackageError
	if errors.As(err, &pe) || errors.Is(err, store.ErrUnknownDelivery) {
		return refused(err)
	}
	if err != nil {
		return err
	}
	return a.printer().object(res, func(w io.Writer) {
		if res.Unchanged {
			fmt.Fprintf(w, "delivery %s already has this package (%s)\n", o.delivery, res.SHA256)
			return
		}
		writeLines(w, wrapClauses(fmt.Sprintf("published %s as delivery %s: test %s, %s, %s in %s (%d shared with the previous snapshot)",
			filepath.Base(path), o.delivery, pkg.Test, plural(int64(pkg.Items), "item"), human.Bytes(res.Size),
			plural(int64(res.Chunks), "chunk"), res.Shared), "", "  ", width))
	})
}

type clientAddOptions struct {
	org        string
	clientKey  string
	cmd        bool
	clientHome string
}

// defaultClientHome is the client home the README's session uses, and what
// the printed credentials command names unless told otherwise.
const defaultClientHome = "/var/lib/taosync"

func (a *app) clientAddCommand() *cobra.Command {
	var o clientAddOptions
	cmd := &cobra.Command{
		Use:   "add ID --org ORG --client-key KEY [--cmd]",
		Short: "Register a test centre's client and print its credentials (the secret is shown once)",
		Example: "  taosync central client add lyon-3 --org org-fr --client-key KEY --cmd\n" +
			"  # KEY: what `taosync keys` printed on the centre's box; --cmd prints\n" +
			"  # the one command to run there",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runClientAdd(cmd.Context(), o, args[0])
		},
	}
	cmd.Flags().StringVar(&o.org, "org", "", "the organisation id whose test centres the client serves (required)")
	cmd.Flags().StringVar(&o.clientKey, "client-key", "", "the client_key string that 'taosync keys' prints on the client (required)")
	cmd.Flags().BoolVar(&o.cmd, "cmd", false, "print the command to run on the client")
	cmd.Flags().StringVar(&o.clientHome, "client-home", defaultClientHome, "the client's home, for the command that --cmd prints")
	return cmd
}

// clientIDPattern keeps client ids short and safe in folder names, URLs and
// shell commands.
// "central" is not a client id: it names central in bundles and keys.
var clientIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// credentials is the JSON form of `central client add`; its field names are
// part of the contract.
type credentials struct {
	ClientID   string `json:"client_id"`
	Key        string `json:"key"`
	Secret     string `json:"secret"`
	TokenURL   string `json:"token_url"`
	RootURL    string `json:"root_url"`
	CentralKey string `json:"central_key"`
	Command    string `json:"command,omitempty"`
}

// newCredentials gives client id's credentials with secret, as central
// hands them out now: its server.url setting and its key. set says whether
// server.url was set rather than left at its default.
func newCredentials(ctx context.Context, cc *central.Central, id string) (cr credentials, set bool, err error) {
	own, err := cc.Home.PublicKeys()
	if err != nil {
		return credentials{}, false, err
	}
	root, set, err := cc.ServerURL(ctx)
	if err != nil {
		return credentials{}, false, err
	}
	return credentials{ClientID: id, Key: id, TokenURL: root + api.TokenPath, RootURL: root,
		CentralKey: own.String()}, set, nil
}

// importCommand is the command that imports these credentials on the client
// whose home is clientHome.
func (cr credentials) importCommand(clientHome string) string {
	return fmt.Sprintf("taosync --home %s credentials import -k %s -s %s -tu %s -u %s --central-key %s",
		shellQuote(clientHome), cr.Key, cr.Secret, cr.TokenURL, cr.RootURL, cr.CentralKey)
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+:=@,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func (a *app) runClientAdd(ctx context.Context, o clientAddOptions, id string) error {
	if id == "central" {
		return usageError{errors.New(`client id "central" is reserved: it names central in bundles and keys`)}
	}
	if !clientIDPattern.MatchString(id) {
		return usageError{fmt.Errorf("client id %q: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit", id)}
	}
	if strings.TrimSpace(o.org) == "" {
		return usageError{errors.New("--org is required")}
	}
	keys, err := home.ParsePublicKeys(o.clientKey)
	if err != nil {
		return usageError{fmt.Errorf("--client-key: %w", err)}
	}
	cc, err := a.openCentral(ctx)
	if err != nil {
		return err
	}
	defer cc.Close()
	cr, set, err := newCredentials(ctx, cc, id)
	if err != nil {
		return err
	}
	cr.Secret, err = cc.AddClient(ctx, id, o.org, keys)
	if errors.Is(err, central.ErrOwnKey) {
		return usageError{errors.New("--client-key is central's own key: run `taosync keys` on the client")}
	}
	if err != nil {
		return err
	}
	if o.cmd {
		cr.Command = cr.importCommand(o.clientHome)
	}
	// Left at its default, server.url names this machine's loopback: say so
	// before such credentials reach a centre. One set on purpose is trusted.
	if !set {
		fmt.Fprintf(a.stderr, "taosync: warning: these credentials name central at %s, the default, a loopback address that no other machine reaches: set server.url first (taosync config set server.url https://CENTRAL, then rotate)\n", cr.RootURL)
	}
	return a.printer().object(cr, func(w io.Writer) {
		if o.cmd {
			fmt.Fprintln(w, cr.Command)
			return
		}
		fmt.Fprintf(w, "registered client %s (org %s); the secret is shown only now:\n", id, o.org)
		fmt.Fprintf(w, "key:         %s\nsecret:      %s\ntokenUrl:    %s\nrootUrl:     %s\ncentral key: %s\n",
			cr.Key, cr.Secret, cr.TokenURL, cr.RootURL, cr.CentralKey)
	})
}

func (a *app) clientListCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the registered clients",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cc, err := a.openCentral(ctx)
			if err != nil {
				return err
			}
			defer cc.Close()
			c := cc.Store
			clients, err := c.Clients(ctx)
			if err != nil {
				return err
			}
			// When a client was revoked goes under its row: two times
			// side by side do not fit 80 columns.
			return detailTable(a.printer(), clients, []string{"CLIENT", "ORG", "KEY ID", "DATA SEQ", "LAST EXPORT", "REVOKED"},
				func(c store.RegisteredClient) []any {
					return []any{c.ID, c.Org, c.KeyID, c.DataSeq, toSecond(c.DataAt), map[bool]string{true: "yes", false: "-"}[c.RevokedAt != ""]}
				},
				func(c store.RegisteredClient) []string {
					if c.RevokedAt == "" {
						return nil
					}
					return []string{"    revoked " + toSecond(c.RevokedAt)}
				}, 0)
		},
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (a *app) clientRevokeCommand() *cobra.Command {
	return &cobra.Command{
		Use:               "revoke ID",
		Short:             "Revoke a client's credential at once",
		Args:              exactArgs(1),
		ValidArgsFunction: a.oneClientID,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cc, err := a.openCentral(ctx)
			if err != nil {
				return err
			}
			defer cc.Close()
			c := cc.Store
			if err := c.RevokeClient(ctx, args[0]); err != nil {
				return err
			}
			return a.printer().object(map[string]string{"client_id": args[0], "revoked": "true"}, func(w io.Writer) {
				fmt.Fprintf(w, "revoked the credential of client %s\n", args[0])
			})
		},
	}
}

func (a *app) clientRotateCommand() *cobra.Command {
	var printCmd bool
	var clientHome string
	cmd := &cobra.Command{
		Use:               "rotate ID [--cmd]",
		Short:             "Give a client a new secret (shown once); the old one, and its tokens, stop working at once",
		Args:              exactArgs(1),
		ValidArgsFunction: a.oneClientID,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			id := args[0]
			cc, err := a.openCentral(ctx)
			if err != nil {
				return err
			}
			defer cc.Close()
			cr, _, err := newCredentials(ctx, cc, id)
			if err != nil {
				return err
			}
			secret, err := cc.RotateSecret(ctx, id)
			if err != nil {
				return err
			}
			cr.Secret = secret
			out := map[string]string{"client_id": id, "key": id, "secret": secret}
			if printCmd {
				out["command"] = cr.importCommand(clientHome)
			}
			return a.printer().object(out, func(w io.Writer) {
				if printCmd {
					fmt.Fprintln(w, out["command"])
					return
				}
				fmt.Fprintf(w, "new secret of client %s (shown only now): %s\n", id, secret)
				fmt.Fprintf(w, "on the client: taosync credentials import again with -s %s (or rotate with --cmd)\n", secret)
			})
		},
	}
	cmd.Flags().BoolVar(&printCmd, "cmd", false, "print the command to run on the client")
	cmd.Flags().StringVar(&clientHome, "client-home", defaultClientHome, "the client's home, for the command that --cmd prints")
	return cmd
}
