package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/taosync/taosync/internal/client"
	"github.com/taosync/taosync/internal/home"
	"github.com/taosync/taosync/internal/store"
)

func (a *app) resultsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "results add|list",
		Short: "Delivery executions: take them in (client), list them (both)",
		Args:  noArgs,
	}
	add := &cobra.Command{
		Use:   "add FILE.jsonl",
		Short: "Take in delivery executions, one JSON object a line (all or nothing)",
		Long: "Take in delivery executions, one JSON object a line, all or nothing.\n\n" +
			"Fields (strings): id, delivery, test_taker, test_center, status (active, paused,\n" +
			"finished, terminated), started_at and finished_at (RFC 3339), result_xml (an IMS QTI\n" +
			"assessmentResult document). Rules and an example: docs/cli.md, \"results add\".",
		Example: "  taosync results add executions.jsonl",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runResultsAdd(cmd.Context(), args[0])
		},
	}
	a.waitFlag(add.Flags())
	cmd.AddCommand(add, a.resultsListCommand())
	return cmd
}

func (a *app) resultsListCommand() *cobra.Command {
	var documents bool
	cmd := &cobra.Command{
		Use:   "list [--json [--documents]]",
		Short: "List executions and their state",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if documents && !a.json {
				return usageError{errors.New("--documents needs --json: each line then carries its result_xml")}
			}
			return a.runResultsList(cmd.Context(), documents)
		},
	}
	cmd.Flags().BoolVar(&documents, "documents", false, "central: each execution with its result document (result_xml), as JSON Lines")
	return cmd
}

func (a *app) runResultsAdd(ctx context.Context, file string) error {
	cl, err := a.openClient(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	unlock, err := a.lock(ctx, cl.Home, "results add")
	if err != nil {
		return err
	}
	defer unlock()
	in, err := os.Open(file)
	if err != nil {
		return err
	}
	defer in.Close()
	res, err := cl.AddResults(ctx, file, in)
	if err != nil {
		return refusedRow(fmt.Errorf("%w (nothing of %s was taken in)", err, file))
	}
	return a.printer().object(res, func(w io.Writer) {
		fmt.Fprintf(w, "took in %s: %d added, %d updated, %d new revisions, %d unchanged\n",
			file, res.Added, res.Updated, res.Revised, res.Unchanged)
	})
}

func (a *app) runResultsList(ctx context.Context, documents bool) error {
	r, err := a.openRole(ctx, "")
	if err != nil {
		return err
	}
	defer r.home.Close()
	if r.client != nil {
		if documents {
			return fmt.Errorf("%w: --documents lists central's documents; a client's are in its database (outbox_payloads, docs/schema.md)", home.ErrWrongRole)
		}
		return a.outboxList(ctx, r.client)
	}
	cc := r.central
	if documents {
		// Streamed: all the documents of a central do not fit in memory.
		enc := json.NewEncoder(a.stdout)
		return cc.Store.EachExecution(ctx, true, func(e store.ExecutionEntry) error { return enc.Encode(e) })
	}
	entries, err := cc.Store.Executions(ctx)
	if err != nil {
		return err
	}
	return detailTable(a.printer(), entries, []string{"ID", "STATE", "STATUS", "REV", "CLIENT", "RECEIVED"},
		func(e store.ExecutionEntry) []any {
			return []any{e.ID, e.State, e.Status, e.Revision, e.Client, toSecond(e.ReceivedAt)}
		},
		func(e store.ExecutionEntry) []string {
			return wrapClauses(executionDetail(e.Delivery, e.TestTaker), "    ", "    ", width)
		}, 0)
}

// outboxList is results list on a client: its outbox.
func (a *app) outboxList(ctx context.Context, cl *client.Client) error {
	lines, err := cl.Outbox(ctx)
	if err != nil {
		return err
	}
	return detailTable(a.printer(), lines, []string{"ID", "STATE", "STATUS", "REV", "FINISHED"},
		func(e client.OutboxLine) []any {
			return []any{e.ID, e.Shown, e.Status, e.Revision, toSecond(e.FinishedAt)}
		},
		func(e client.OutboxLine) []string {
			d := executionDetail(e.Delivery, e.TestTaker)
			if !e.Payload {
				d += ", payload deleted"
			}
			return wrapClauses(d, "    ", "    ", width)
		}, 0)
}

// executionDetail is the line under an execution in results list: what it
// was taken for, and by whom.
func executionDetail(delivery, testTaker string) string {
	return "delivery " + delivery + ", test taker " + testTaker
}
