package server

import (
	"cmp"
	"log/slog"
	"net/http"
	"time"

	"github.com/taosync/taosync/internal/clientaddr"
	"github.com/taosync/taosync/internal/store"
)

// Limiter is the failure limiter of a login, the token endpoint's or the
// operator view's: ten failures a minute per client address
// (clientaddr.Of), counted in central's database so that every replica
// sees them, each login's apart from the other's. Enough for a
// technician's typos, too few to guess a 256-bit secret, or even to annoy.
type Limiter struct {
	f   store.LoginFailures
	log *slog.Logger
}

// NewLimiter returns the limiter of a login, counting its failures under
// scope; a nil log means slog.Default().
func NewLimiter(db *store.CentralDB, scope string, log *slog.Logger) *Limiter {
	return &Limiter{store.LoginFailures{DB: db, Scope: scope, Max: 10, Window: time.Minute}, cmp.Or(log, slog.Default())}
}

// Blocked says how long the request's address is still refused. A database
// out of reach refuses nobody here: the login's own check reads it next,
// and fails.
func (l *Limiter) Blocked(r *http.Request) time.Duration {
	d, err := l.f.Blocked(r.Context(), clientaddr.Of(r), time.Now())
	if err != nil {
		l.log.Error("failure limiter", "scope", l.f.Scope, "err", err)
	}
	return d
}

// Fail counts a failed login from the request's address; a failure to
// count it is logged.
func (l *Limiter) Fail(r *http.Request) {
	if err := l.f.Fail(r.Context(), clientaddr.Of(r), time.Now()); err != nil {
		l.log.Error("failure limiter", "scope", l.f.Scope, "err", err)
	}
}

// Forgive takes back one failure of the request's address: a login counted
// as failed before its check, which then passed.
func (l *Limiter) Forgive(r *http.Request) {
	if err := l.f.Forgive(r.Context(), clientaddr.Of(r)); err != nil {
		l.log.Error("failure limiter", "scope", l.f.Scope, "err", err)
	}
}
