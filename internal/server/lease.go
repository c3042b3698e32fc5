package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/taosync/taosync/internal/central"
)

// DefaultLeaseTTL is how long a lease outlives the replica holding it: a
// replica that dies holds a client's pull or uploads no longer than this,
// well within the retries of a client answered 429 (fourteen, two seconds
// apart). A replica alive renews its leases at a third of it.
const DefaultLeaseTTL = 15 * time.Second

// takeLease takes the lease name, reserving bytes, if nobody holds it: a
// lock in central's database held by one request of one replica (a
// client's pull being prepared, one of its uploads running and the bytes
// it reserved, a bundle being uploaded or committed), which every replica
// sees. The work it guards runs under its Context, which ends if the
// lease is lost.
func (s *Server) takeLease(ctx context.Context, name string, bytes int64) (*central.Lease, bool, error) {
	return s.c.TakeLease(ctx, name, leaseHolder(), bytes, s.LeaseTTL)
}

// waitLease takes the lease name once its holder lets go or dies.
func (s *Server) waitLease(ctx context.Context, name string) (*central.Lease, error) {
	return s.c.WaitLease(ctx, name, leaseHolder(), s.LeaseTTL)
}

// leaseHolder names one take of a lease.
func leaseHolder() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
