package server

import (
	"context"
	"errors"
	"time"

	"github.com/taosync/taosync/internal/central"
	"github.com/taosync/taosync/internal/config"
)

// Collect is serve's housekeeping, at once, then every gc.interval (or a
// quarter of Quota.Lifetime if that is shorter, at least a minute), until
// ctx is done: each replica sweeps its own inbox of the uploads nobody
// committed (Sweep), and tries to sweep central's blobs (central.GC), their
// uploads after Quota.Lifetime as its inbox's: the one that takes the
// lease sweeps them while the others skip that round.
// The settings are read each round, so that `config set` takes effect
// without a restart.
func (s *Server) Collect(ctx context.Context) {
	holder := central.Holder("serve")
	for {
		n, err := s.Sweep(time.Now())
		if err != nil && ctx.Err() == nil {
			s.log.Warn("housekeeping of the inbox", "err", err)
		}
		if n > 0 {
			s.log.Info("removed uploads nobody committed", "bundles", n, "lifetime", s.Quota.Lifetime)
		}
		every, err := s.collect(ctx, holder)
		if err != nil && ctx.Err() == nil {
			s.log.Warn("housekeeping of the blobs", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(min(every, max(s.Quota.Lifetime/4, time.Minute))):
		}
	}
}

func (s *Server) collect(ctx context.Context, holder string) (every time.Duration, err error) {
	every = time.Hour
	db := s.c.Home.DB
	if d, err := config.Duration(ctx, db, "gc.interval"); err == nil {
		every = d
	}
	age, err := config.Duration(ctx, db, "gc.age")
	if err != nil {
		return every, err
	}
	rep, err := s.c.GC(ctx, central.GCOptions{Age: age, UploadAge: s.Quota.Lifetime, Holder: holder, Lock: s.lockInbox})
	var held *central.LeaseHeldError
	if errors.As(err, &held) {
		s.log.Debug("housekeeping: another replica sweeps", "holder", held.Lease.Holder)
		return every, nil
	}
	if len(rep.Removed) > 0 {
		s.log.Info("removed leftovers from the blobs", "prepared", rep.Prepared.Count, "uploads", rep.Uploads.Count,
			"partial", rep.Partial.Count, "bytes", rep.Prepared.Bytes+rep.Uploads.Bytes+rep.Partial.Bytes, "age", age)
	}
	return every, err
}
