package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"

	"github.com/taosync/taosync/internal/store"
)

// DefaultLeaseTTL is how long a lease outlives the replica holding it: a
// replica that dies holds a client's pull or uploads no longer than this,
// well within the retries of a client answered 429 (fourteen, two seconds
// apart). A replica alive renews its leases at a third of it.
const DefaultLeaseTTL = 15 * time.Second

// leaseRetry is how often a pull waiting for its client's lease asks again.
const leaseRetry = 50 * time.Millisecond

// lease is a lock in central's database, held by one request of one
// replica: a client's pull being prepared, one of its uploads running (and
// the bytes it reserved), a bundle being uploaded. Every replica sees it;
// it expires if its replica dies, and is renewed while it lives.
type lease struct {
	s            *Server
	name, holder string
	stop, done   chan struct{}
}

// takeLease takes the lease name, reserving bytes, if nobody holds it.
func (s *Server) takeLease(ctx context.Context, name string, bytes int64) (*lease, bool, error) {
	var b [16]byte
	rand.Read(b[:])
	l := &lease{s: s, name: name, holder: hex.EncodeToString(b[:]), stop: make(chan struct{}), done: make(chan struct{})}
	ok, err := s.c.Store.TakeLease(ctx, name, l.holder, bytes, s.LeaseTTL, time.Now())
	if !ok || err != nil {
		return nil, false, err
	}
	go l.renew()
	return l, true, nil
}

// waitLease takes the lease name once its holder lets go or dies.
func (s *Server) waitLease(ctx context.Context, name string) (*lease, error) {
	for {
		l, ok, err := s.takeLease(ctx, name, 0)
		if ok || err != nil {
			return l, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(leaseRetry):
		}
	}
}

func (l *lease) renew() {
	defer close(l.done)
	t := time.NewTicker(l.s.LeaseTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), l.s.LeaseTTL/3)
		err := l.s.c.Store.RenewLease(ctx, l.name, l.holder, l.s.LeaseTTL, time.Now())
		cancel()
		if errors.Is(err, store.ErrLeaseLost) {
			l.s.log.Warn("lease lost: renewed too late", "lease", l.name)
			return
		}
		if err != nil {
			l.s.log.Warn("renew lease: again", "lease", l.name, "err", err)
		}
	}
}

// release lets go of the lease; a failure leaves it to expire.
func (l *lease) release() {
	close(l.stop)
	<-l.done
	ctx, cancel := context.WithTimeout(context.Background(), l.s.LeaseTTL/3)
	defer cancel()
	if err := l.s.c.Store.ReleaseLease(ctx, l.name, l.holder); err != nil {
		l.s.log.Warn("release lease: it expires", "lease", l.name, "err", err)
	}
}
