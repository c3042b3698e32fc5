package main

import (
	"context"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/internal/central"
	"github.com/taosync/taosync/internal/store"
)

// Dynamic shell completion: `taosync completion bash|zsh|fish|powershell`
// writes the script, and the script asks the binary for the candidates of
// the word being typed. Ids come from the home given by --home or
// TAOSYNC_HOME; without one, or on any error, nothing is offered.

func typeNames() string {
	names := make([]string, len(taosync.Types))
	for i, t := range taosync.Types {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}

func completeTypes() ([]cobra.Completion, cobra.ShellCompDirective) {
	var out []cobra.Completion
	for _, t := range taosync.Types {
		out = append(out, string(t))
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeCentral offers what list gives from central's home.
func (a *app) completeCentral(ctx context.Context, list func(context.Context, *central.Central) ([]string, error)) ([]cobra.Completion, cobra.ShellCompDirective) {
	if a.homeDir == "" {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	cc, err := central.OpenAt(ctx, a.homeDir, a.db, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	defer cc.Close()
	ids, err := list(ctx, cc)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return ids, cobra.ShellCompDirectiveNoFileComp
}

func (a *app) completeClients(cmd *cobra.Command, _ []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return a.completeCentral(cmd.Context(), func(ctx context.Context, cc *central.Central) ([]string, error) {
		clients, err := cc.Store.Clients(ctx)
		var ids []string
		for _, c := range clients {
			ids = append(ids, c.ID)
		}
		return ids, err
	})
}

func (a *app) completeDeliveries(cmd *cobra.Command, _ []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return a.completeCentral(cmd.Context(), func(ctx context.Context, cc *central.Central) ([]string, error) {
		return store.EntityIDs(ctx, cc.Home.DB, taosync.Delivery)
	})
}

// oneClientID completes the single ID argument of a command on a client.
func (a *app) oneClientID(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return a.completeClients(cmd, args, toComplete)
}
