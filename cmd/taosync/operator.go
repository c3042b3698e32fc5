package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/taosync/taosync/internal/password"
)

func (a *app) operatorCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "operator add|remove",
		Short: "Accounts of the operator web view that serve shows under /ui/",
		Args:  noArgs,
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "add NAME",
		Short: "Add an operator: the password is read from standard input, or generated and printed once on a terminal",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runOperatorAdd(cmd.Context(), args[0])
		},
	}, &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove an operator; its sessions end at once",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cc, err := a.openCentral(ctx)
			if err != nil {
				return err
			}
			defer cc.Close()
			if err := cc.Store.RemoveOperator(ctx, args[0]); err != nil {
				return err
			}
			return a.printer().object(map[string]string{"operator": args[0], "removed": "true"}, func(w io.Writer) {
				fmt.Fprintf(w, "removed operator %s\n", args[0])
			})
		},
	})
	return cmd
}

// Operator names and passwords: short enough for a form, long enough.
const (
	maxOperatorName = 64
	minPassword     = 12
	maxPassword     = 1024
)

func (a *app) runOperatorAdd(ctx context.Context, name string) error {
	if name == "" || len(name) > maxOperatorName || strings.ContainsFunc(name, func(c rune) bool { return c <= ' ' || c == 0x7f }) {
		return usageError{fmt.Errorf("operator name %q: use 1 to %d characters without spaces", name, maxOperatorName)}
	}
	pw, generated, err := a.operatorPassword()
	if err != nil {
		return err
	}
	hash, err := password.Hash(pw)
	if err != nil {
		return err
	}
	cc, err := a.openCentral(ctx)
	if err != nil {
		return err
	}
	defer cc.Close()
	if err := cc.Store.AddOperator(ctx, name, hash); err != nil {
		return err
	}
	out := map[string]string{"operator": name}
	if generated {
		out["password"] = pw
	}
	return a.printer().object(out, func(w io.Writer) {
		if generated {
			fmt.Fprintf(w, "added operator %s; the password is shown only now: %s\n", name, pw)
			return
		}
		fmt.Fprintf(w, "added operator %s\n", name)
	})
}

// operatorPassword reads the password from standard input (its first
// line) when that is not a terminal, else generates one.
func (a *app) operatorPassword() (string, bool, error) {
	if f, ok := a.stdin.(*os.File); !ok || isTerminal(f) {
		var b [18]byte
		rand.Read(b[:])
		return base64.RawURLEncoding.EncodeToString(b[:]), true, nil
	}
	line, err := bufio.NewReader(io.LimitReader(a.stdin, maxPassword+2)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", false, fmt.Errorf("read the password from standard input: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if len(pw) < minPassword || len(pw) > maxPassword {
		return "", false, usageError{fmt.Errorf("the password on standard input must be %d to %d bytes long", minPassword, maxPassword)}
	}
	return pw, false, nil
}
