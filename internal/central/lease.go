package central

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/taosync/taosync/internal/store"
)

// leaseRetry is how often WaitLease asks again for a lease held.
const leaseRetry = 50 * time.Millisecond

// Lease is a lease in central's database (store.TakeLease) held by this
// process while it works under it: a replica's pull being prepared or
// upload being taken, a sweep of the blobs. It is renewed in the
// background at a third of its length; its Context is cancelled when it
// is found lost (another holder took it, its expiry passed unrenewed), so
// that the work it guards stops before another starts the same.
type Lease struct {
	c      *Central
	name   string
	holder string
	ttl    time.Duration
	ctx    context.Context
	cancel context.CancelCauseFunc
	stop   chan struct{}
	done   chan struct{}
}

// TakeLease takes the lease name for holder, reserving bytes, if nobody
// holds it; ok is false if another does. Its Context is ctx's, cancelled
// too when the lease is lost; holder must name this one take (two takes
// under one holder renew each other's lease).
func (c *Central) TakeLease(ctx context.Context, name, holder string, bytes int64, ttl time.Duration) (l *Lease, ok bool, err error) {
	taken := time.Now()
	ok, err = c.Store.TakeLease(ctx, name, holder, bytes, ttl)
	if !ok || err != nil {
		return nil, false, err
	}
	l = &Lease{c: c, name: name, holder: holder, ttl: ttl, stop: make(chan struct{}), done: make(chan struct{})}
	l.ctx, l.cancel = context.WithCancelCause(ctx)
	go l.renew(taken)
	return l, true, nil
}

// WaitLease takes the lease name once its holder lets go or it expires.
func (c *Central) WaitLease(ctx context.Context, name, holder string, ttl time.Duration) (*Lease, error) {
	for {
		l, ok, err := c.TakeLease(ctx, name, holder, 0, ttl)
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

// Context is done when the lease is lost, released, or the context it was
// taken under is done; context.Cause then wraps store.ErrLeaseLost if it
// was lost.
func (l *Lease) Context() context.Context { return l.ctx }

// renew renews the lease every third of its length until it is released.
// The lease expires, by the database's clock, ttl after the database ran
// the last renewal, which is after this process sent it: so it is counted
// lost ttl after the last renewal that succeeded was sent, by this
// process's monotonic clock, whatever the clocks say. The count runs on a
// timer of its own, so that it ends the work on time even while a renewal
// waits (for the database, or on SQLite for its turn to write).
func (l *Lease) renew(last time.Time) {
	defer close(l.done)
	tick := time.NewTicker(l.ttl / 3)
	defer tick.Stop()
	expired := make(chan struct{})
	// The take counts as the first renewal: sent at last.
	expiry := time.AfterFunc(time.Until(last.Add(l.ttl)), func() {
		l.lost(fmt.Errorf("lease %s: not renewed before it expired: %w", l.name, store.ErrLeaseLost))
		close(expired)
	})
	defer expiry.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-expired:
			return
		case <-tick.C:
		}
		sent := time.Now()
		ctx, cancel := context.WithDeadline(context.Background(), last.Add(l.ttl))
		err := l.c.Store.RenewLease(ctx, l.name, l.holder, l.ttl)
		cancel()
		switch {
		case err == nil:
			if !expiry.Stop() {
				return // counted lost meanwhile: the work has stopped
			}
			last = sent
			expiry.Reset(time.Until(last.Add(l.ttl)))
		case errors.Is(err, store.ErrLeaseLost):
			l.lost(err)
			return
		default:
			l.c.Log.Warn("renew lease: again", "lease", l.name, "err", err)
		}
	}
}

func (l *Lease) lost(err error) {
	l.c.Log.Warn("lease lost: the work under it stops", "lease", l.name, "err", err)
	l.cancel(err)
}

// Release stops the renewals, cancels the Context and lets go of the
// lease; a failure leaves it to expire.
func (l *Lease) Release() {
	close(l.stop)
	<-l.done
	l.cancel(nil)
	ctx, cancel := context.WithTimeout(context.Background(), l.ttl/3)
	defer cancel()
	if err := l.c.Store.ReleaseLease(ctx, l.name, l.holder); err != nil {
		l.c.Log.Warn("release lease: it expires", "lease", l.name, "err", err)
	}
}
