package server

import (
	"cmp"
	"log/slog"
	"net/http"
	"time"

	"github.com/taosync/taosync/internal/store"
)

// Limiter is the token endpoint's failure limiter, for another login (the
// operator view's): ten failures a minute per address, counted in
// central's database as the token endpoint's are, apart from them.
type Limiter struct {
	f   store.LoginFailures
	log *slog.Logger
}

// NewLimiter returns a limiter with the token endpoint's bounds, counting
// the failures of scope; a nil log means slog.Default().
func NewLimiter(db *store.CentralDB, scope string, log *slog.Logger) *Limiter {
	return &Limiter{loginFailures(db, scope), cmp.Or(log, slog.Default())}
}

// loginFailures counts the failures of scope, ten a minute per address:
// enough for a technician's typos, too few to guess a 256-bit secret, or
// even to annoy.
func loginFailures(db *store.CentralDB, scope string) store.LoginFailures {
	return store.LoginFailures{DB: db, Scope: scope, Max: 10, Window: time.Minute}
}

// Blocked says how long the request's address is still refused. A database
// out of reach refuses nobody here: the login's own check reads it next,
// and fails.
func (l *Limiter) Blocked(r *http.Request) time.Duration {
	d, err := l.f.Blocked(r.Context(), remoteHost(r), time.Now())
	if err != nil {
		l.log.Error("login", "err", err)
	}
	return d
}

// Fail counts a failed login from the request's address.
func (l *Limiter) Fail(r *http.Request) {
	if err := l.f.Fail(r.Context(), remoteHost(r), time.Now()); err != nil {
		l.log.Error("login", "err", err)
	}
}

// Forgive takes back one failure of the request's address: a login counted
// as failed before its check, which then passed.
func (l *Limiter) Forgive(r *http.Request) {
	if err := l.f.Forgive(r.Context(), remoteHost(r)); err != nil {
		l.log.Error("login", "err", err)
	}
}
