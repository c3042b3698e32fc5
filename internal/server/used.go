package server

import (
	"context"
	"time"
)

// Bounds of recording a credential's use: at most once a minute per
// client (the operator view shows it to the minute, and a sync of many
// requests writes it once), and never holding a request up for long. It
// does not queue behind central's other writes (an export can take a
// while): a write that cannot be made at once is tried again at the
// client's next request.
const (
	usedEvery = time.Minute
	usedWait  = 200 * time.Millisecond
)

// used records that a client's credential served a request.
func (s *Server) used(ctx context.Context, client string) {
	now := time.Now()
	s.mu.Lock()
	due := now.Sub(s.lastUsed[client]) >= usedEvery
	if due {
		s.lastUsed[client] = now
	}
	s.mu.Unlock()
	if !due {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, usedWait)
	defer cancel()
	if err := s.c.Store.CredentialUsed(ctx, client); err != nil {
		s.log.Debug("record a credential's use: next time", "client", client, "err", err)
		s.mu.Lock()
		delete(s.lastUsed, client)
		s.mu.Unlock()
	}
}
