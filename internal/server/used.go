package server

import (
	"context"
	"time"
)

// usedEvery is how often a client's last use is written: the operator
// view shows it to the minute, and a sync of many requests writes it once.
const usedEvery = time.Minute

// used records that a client's credential served a request, at most once
// per usedEvery per client. A failure is only logged: the request goes on.
func (s *Server) used(ctx context.Context, client string) {
	now := time.Now()
	s.mu.Lock()
	due := now.Sub(s.lastUsed[client]) >= usedEvery
	if due {
		s.lastUsed[client] = now
	}
	s.mu.Unlock()
	if due {
		if err := s.c.CredentialUsed(ctx, client); err != nil {
			s.log.Error("record a credential's use", "client", client, "err", err)
		}
	}
}
