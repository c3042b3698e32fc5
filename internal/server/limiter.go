package server

import (
	"net/http"
	"time"
)

// Limiter is the token endpoint's failure limiter, for another login (the
// operator view's): ten failures a minute per address.
type Limiter struct{ l limiter }

// NewLimiter returns a limiter with the token endpoint's bounds.
func NewLimiter() *Limiter {
	return &Limiter{limiter{max: 10, window: time.Minute, m: map[string]*failures{}}}
}

// Blocked says how long the request's address is still refused.
func (l *Limiter) Blocked(r *http.Request) time.Duration {
	return l.l.blocked(remoteHost(r), time.Now())
}

// Fail counts a failed login from the request's address.
func (l *Limiter) Fail(r *http.Request) { l.l.fail(remoteHost(r), time.Now()) }

// Forgive takes back one failure of the request's address: a login counted
// as failed before its check, which then passed.
func (l *Limiter) Forgive(r *http.Request) { l.l.forgive(remoteHost(r)) }
