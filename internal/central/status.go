package central

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/taosync/taosync/internal/store"
)

// StatusFilter picks clients out of central's status: one client by id
// (all when empty), and those central has not heard from since a time
// (never, or before it; all when zero).
type StatusFilter struct {
	Client string
	Since  time.Time
}

// SelectStatus is Status of the clients the filter picks: on exam week,
// the centres to call. An unknown client is store.ErrUnknownClient.
func (c *Central) SelectStatus(ctx context.Context, f StatusFilter) ([]store.ClientStatus, string, error) {
	clients, min, err := c.Status(ctx)
	if err != nil {
		return nil, "", err
	}
	clients, err = f.apply(clients)
	return clients, min, err
}

func (f StatusFilter) apply(clients []store.ClientStatus) ([]store.ClientStatus, error) {
	if f.Client != "" {
		i := slices.IndexFunc(clients, func(s store.ClientStatus) bool { return s.ID == f.Client })
		if i < 0 {
			return nil, fmt.Errorf("%w %q", store.ErrUnknownClient, f.Client)
		}
		clients = clients[i : i+1]
	}
	var out []store.ClientStatus
	for _, s := range clients {
		if at, ok := LastContact(s); f.Since.IsZero() || !ok || at.Before(f.Since) {
			out = append(out, s)
		}
	}
	return out, nil
}

// LastContact is when central last heard from a client: its last report of
// what it holds (with every pull, and in every result bundle) or its last
// result bundle, both by central's clock.
func LastContact(s store.ClientStatus) (time.Time, bool) {
	var last time.Time
	for _, v := range []string{s.AckedAt, s.LastResult} {
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil && t.After(last) {
			last = t
		}
	}
	return last, !last.IsZero()
}
