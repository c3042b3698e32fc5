package client

import (
	"context"
	"io"
	"slices"
	"strings"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/internal/config"
	"github.com/taosync/taosync/internal/results"
	"github.com/taosync/taosync/internal/store"
)

// AddResults takes in the delivery executions of a JSON Lines file, all or
// nothing; each must name a delivery, a test taker and a test centre this
// client holds. name is the file's name, for messages.
func (c *Client) AddResults(ctx context.Context, name string, in io.Reader) (store.ExecutionsAdded, error) {
	known := func(t taosync.Type, id string) (bool, error) {
		return store.EntityExists(ctx, c.Home.DB, t, id)
	}
	return c.Local.AddExecutions(ctx, name, results.NewReader(in, name, known))
}

// OutboxLine is an execution of the outbox with its state as a person reads
// it (Shown), which JSON leaves out: there the state is the stored one.
type OutboxLine struct {
	store.OutboxEntry
	Shown string `json:"-"`
}

// Outbox lists the executions of the outbox, without their result
// documents.
func (c *Client) Outbox(ctx context.Context) ([]OutboxLine, error) {
	entries, err := c.Local.Outbox(ctx)
	if err != nil {
		return nil, err
	}
	send, err := config.Get(ctx, c.Home.DB, "results.sendStatuses")
	if err != nil {
		return nil, err
	}
	lines := make([]OutboxLine, len(entries))
	for i, e := range entries {
		lines[i] = OutboxLine{e, shownState(e, strings.Split(send, ","))}
	}
	return lines, nil
}

// shownState is an execution's outbox state as a person reads it: a queued
// one that is not on its way says why (send holds the statuses that
// results.sendStatuses sends).
func shownState(e store.OutboxEntry, send []string) string {
	if e.State != store.Queued {
		return e.State
	}
	switch e.Status {
	case taosync.StatusActive, taosync.StatusPaused:
		return "in progress"
	case taosync.StatusTerminated:
		if !slices.Contains(send, e.Status) {
			return "kept (terminated)"
		}
	}
	return e.State
}
