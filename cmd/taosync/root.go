package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/taosync/taosync/bundle"
	"github.com/taosync/taosync/internal/central"
	"github.com/taosync/taosync/internal/client"
	"github.com/taosync/taosync/internal/home"
	"github.com/taosync/taosync/internal/ioerr"
	"github.com/taosync/taosync/internal/store"
	"github.com/taosync/taosync/internal/version"
)

// Exit codes, documented in docs/cli.md.
const (
	exitOK      = 0
	exitFailure = 1 // anything not below: I/O, database, a peer that failed
	exitUsage   = 2 // unknown command or flag, bad argument
	exitHome    = 3 // no home, home not initialised or already, its database not ours, wrong role
	exitRefused = 4 // input refused: a bundle, a row, a package that does not pass
	exitBusy    = 5 // another command kept the home locked for longer than --wait
	// A command stopped by a signal exits 128 + the signal's number, as
	// shells report a process the signal killed: 130 for Ctrl-C (SIGINT),
	// 143 for SIGTERM.
	exitSignal = 128
)

// defaultWait is how long a command that writes to the home waits for
// another to finish: long enough for a small import or an export of results
// to end, short enough that a technician is not left staring at a command
// that does nothing.
const defaultWait = 30 * time.Second

// app is what every command shares: the streams, the global flags, and the
// logger. Commands reach the home through open.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	homeDir        string
	// db is where central's database is, if not where its home says:
	// --db or TAOSYNC_DB.
	db       string
	blobs    string
	json     bool
	logLevel string
	log      *slog.Logger
	// wait is how long a writing command waits for the home's lock.
	wait time.Duration
}

// run is main without the process: tests drive the whole CLI through it.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	version.Current = shortVersion()
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr}
	root := a.rootCommand()
	root.SetArgs(normaliseArgs(args))
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	ctx, stop := notifyContext()
	defer stop()
	err := root.ExecuteContext(ctx)
	if err == nil {
		// serve ends this way on a signal: its stop is its normal end.
		return exitOK
	}
	var in interrupted
	if !errors.As(context.Cause(ctx), &in) {
		return a.report(err)
	}
	if err == context.Canceled {
		err = in
	}
	a.report(err)
	return exitSignal + int(in.sig)
}

// interrupted is the cause of the command context's end when a signal
// stopped the command; it is a context.Canceled, as the context's error is.
type interrupted struct{ sig syscall.Signal }

func (e interrupted) Error() string {
	if e.sig == syscall.SIGTERM {
		return "stopped by SIGTERM"
	}
	return "interrupted (Ctrl-C)"
}

func (e interrupted) Is(target error) bool { return target == context.Canceled }

// notifyContext is signal.NotifyContext with a cause that says which
// signal came (os.Interrupt is syscall.SIGINT on every system), so that
// run can exit with its code. Work stops cleanly:
// commands see the context cancelled, as they would on a timeout.
func notifyContext() (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case s := <-sigs:
			cancel(interrupted{s.(syscall.Signal)})
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		cancel(nil)
	}
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "taosync",
		Short: "Keep offline exam test centres in sync with central",
		Long: `taosync moves exam data from central to test centres, and candidates' results back,
as signed, encrypted, compressed, chunked bundles: on a USB stick or over HTTP.`,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(a.logLevel)); err != nil {
				return usageError{fmt.Errorf("--log-level %q: want debug, info, warn or error", a.logLevel)}
			}
			a.log = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
			return nil
		},
	}
	root.Version = buildVersion()
	root.SetVersionTemplate("taosync {{.Version}}\n")
	// Shell completion for bash, zsh, fish and PowerShell (cobra's), with
	// the home's client and delivery ids completed where a command takes
	// them.
	root.CompletionOptions.HiddenDefaultCmd = false
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	f := root.PersistentFlags()
	f.StringVar(&a.homeDir, "home", os.Getenv("TAOSYNC_HOME"), "home folder of this installation (default $TAOSYNC_HOME)")
	f.StringVar(&a.db, "db", os.Getenv("TAOSYNC_DB"), "central's database, a postgres:// URL (default $TAOSYNC_DB, else the one init stored in the home)")
	f.StringVar(&a.blobs, "blobs", os.Getenv("TAOSYNC_BLOBS"), "central: where prepared bundles and uploads live, file:// or s3://bucket?endpoint=... (default $TAOSYNC_BLOBS, else the blobs.url setting)")
	f.BoolVar(&a.json, "json", false, "print JSON (JSON Lines for listings, one object for reports)")
	f.StringVar(&a.logLevel, "log-level", "warn", "diagnostics on stderr: debug, info, warn or error")
	root.AddCommand(
		a.initCommand(),
		a.keysCommand(),
		a.centralCommand(),
		a.credentialsCommand(),
		a.exportCommand(),
		a.importCommand(),
		a.verifyCommand(),
		a.listCommand(),
		a.resultsCommand(),
		a.statusCommand(),
		a.packageCommand(),
		a.configCommand(),
		a.historyCommand(),
		a.serveCommand(),
		a.syncCommand(),
	)
	// A group (central, export, ...) run without one of its commands, or
	// with an unknown one, is a usage error, not a help page and success.
	var groups func(*cobra.Command)
	groups = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.HasSubCommands() && sub.RunE == nil {
				sub.Args = cobra.ArbitraryArgs
				sub.RunE = groupRun
			}
			groups(sub)
		}
	}
	root.InitDefaultCompletionCmd()
	groups(root)
	// The root too, so that an unknown command is our usage error rather
	// than cobra's untyped one; alone, it shows its help as before.
	root.Args = cobra.ArbitraryArgs
	root.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return cmd.Help()
		}
		return groupRun(cmd, args)
	}
	return root
}

func groupRun(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		err := usageError{fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())}
		// cobra's distance for suggestions, which its zero value disables.
		cmd.SuggestionsMinimumDistance = cmp.Or(cmd.SuggestionsMinimumDistance, 2)
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			return hinted{err, fmt.Sprintf("did you mean %s %s? see %s --help", cmd.CommandPath(), s[0], cmd.CommandPath())}
		}
		return err
	}
	var names []string
	for _, sub := range cmd.Commands() {
		names = append(names, sub.Name())
	}
	return usageError{fmt.Errorf("%s needs a command: %s", cmd.CommandPath(), strings.Join(names, ", "))}
}

// open opens the home, checking its role when role is not empty: the one
// way a command reaches a home. A command that needs no role's work (keys,
// config, list) uses the home as it is; the others open it through
// openRole.
func (a *app) open(ctx context.Context, role home.Role) (*home.Home, error) {
	if a.homeDir == "" {
		return nil, errNoHome
	}
	if a.db != "" && role == home.RoleClient {
		return nil, errClientDB
	}
	h, err := home.OpenAt(ctx, a.homeDir, a.db)
	if err != nil {
		return nil, err
	}
	if role != "" {
		if err := h.Require(role); err != nil {
			h.Close()
			return nil, err
		}
	}
	return h, nil
}

// opened is a home open for its role: central set on central's home,
// client on a client's, the other nil.
type opened struct {
	home    *home.Home
	central *central.Central
	client  *client.Client
}

// openRole opens the home for a command of the role want, or of either
// role when want is empty, with what that role does.
func (a *app) openRole(ctx context.Context, want home.Role) (opened, error) {
	h, err := a.open(ctx, want)
	if err != nil {
		return opened{}, err
	}
	o := opened{home: h}
	if h.Role == home.RoleCentral {
		o.central, err = central.New(h, a.log)
		if err == nil {
			if err = o.central.UseBlobs(ctx, a.blobs); err != nil {
				o.central.Close()
				return opened{}, err
			}
		}
	} else {
		o.client, err = client.New(ctx, h, a.log)
	}
	if err != nil {
		h.Close()
		return opened{}, err
	}
	return o, nil
}

// openCentral opens central's home.
func (a *app) openCentral(ctx context.Context) (*central.Central, error) {
	o, err := a.openRole(ctx, home.RoleCentral)
	return o.central, err
}

// openClient opens a client's home.
func (a *app) openClient(ctx context.Context) (*client.Client, error) {
	o, err := a.openRole(ctx, home.RoleClient)
	return o.client, err
}

// waitFlag gives a command that writes to the home its --wait flag.
func (a *app) waitFlag(f *pflag.FlagSet) {
	f.DurationVar(&a.wait, "wait", defaultWait, "how long to wait for another command writing to this home")
}

// lock takes the home's writer lock for the command what, saying on stderr
// what it waits for, if it must.
func (a *app) lock(ctx context.Context, h *home.Home, what string) (unlock func(), err error) {
	return h.Lock(ctx, what, a.wait, func(holder string) {
		fmt.Fprintf(a.stderr, "taosync: waiting up to %s for %s to finish writing to this home\n", a.wait, holder)
	})
}

var errNoHome = hinted{errors.New("no home given"), "pass --home DIR or set TAOSYNC_HOME"}

// errClientDB: --db (or TAOSYNC_DB) given to a command of the client.
var errClientDB = usageError{errors.New("--db (or TAOSYNC_DB) is for central: a client's database is its home's taosync.db")}

// diskHint follows an error of a full or failing disk: what was being
// written was rolled back or left unpublished, so the same command can run
// again.
const diskHint = "free space on the disk or stick named (or replace it), then run the same command again: nothing was half written"

// usageError marks a command-line mistake.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// hinted carries a hint for the user beside an error.
type hinted struct {
	error
	hint string
}

func (e hinted) Unwrap() error { return e.error }

// exitCoded gives an error its exit code.
type exitCoded struct {
	error
	code int
}

func (e exitCoded) Unwrap() error { return e.error }

// refused marks input that was refused (exit 4).
func refused(err error) error { return exitCoded{err, exitRefused} }

// report prints err as one error line and maybe a hint, and returns the exit
// code for it.
func (a *app) report(err error) int {
	code := exitFailure
	var hint string
	var h hinted
	if errors.As(err, &h) {
		hint = h.hint
	}
	var u usageError
	var c exitCoded
	switch {
	case errors.As(err, &c):
		code = c.code
	case errors.As(err, &u):
		code = exitUsage
		if hint == "" {
			hint = "see taosync --help"
		}
	case errors.Is(err, home.ErrNotInitialised):
		code = exitHome
		if hint == "" {
			hint = "run taosync init --role central|client first"
		}
	case errors.Is(err, store.ErrBadLocation):
		code = exitUsage
		if hint == "" {
			hint = "give --db (or TAOSYNC_DB) a URL such as postgres://taosync@db.example.org/central, or leave it out for the home's SQLite file"
		}
	case errors.Is(err, store.ErrUnreachable):
		if hint == "" {
			hint = "check that PostgreSQL runs at the address named and takes this user, and the URL in --db, TAOSYNC_DB or the home's db.url"
		}
	case errors.Is(err, store.ErrNotOurs):
		code = exitHome
		if hint == "" {
			hint = "move it away, or use another home folder; then run taosync init --role central|client"
		}
	case errors.Is(err, home.ErrBusy):
		code = exitBusy
		if hint == "" {
			hint = "run it again once the other command has finished, or give it longer with --wait"
		}
	case errors.Is(err, home.ErrInitialised), errors.Is(err, home.ErrWrongRole), errors.Is(err, errNoHome):
		code = exitHome
	case errors.Is(err, bundle.ErrUnpublished):
		code = exitRefused
	case ioerr.Local(err) && hint == "":
		// Exit 1: this machine failed, not the input (a full disk does
		// not refuse a bundle).
		hint = diskHint
	}
	fmt.Fprintf(a.stderr, "taosync: error: %s\n", oneLine(err.Error()))
	if hint != "" {
		fmt.Fprintf(a.stderr, "taosync: hint: %s\n", oneLine(hint))
	}
	return code
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// cobra's argument checks, as usage errors.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}

func noArgs(cmd *cobra.Command, args []string) error {
	if err := cobra.NoArgs(cmd, args); err != nil {
		return usageError{err}
	}
	return nil
}
