package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/taosync/taosync/internal/config"
	"github.com/taosync/taosync/internal/ioerr"
	"github.com/taosync/taosync/internal/store"
)

// Link bounds every wait of a sync on its line to central. A thin line (a
// 3G modem, a satellite dish) loses minutes at a time and changes address
// under a transfer: a step is tried again until its waits add up to
// RetryWait, and a transfer that moves no byte for StallTimeout is dropped
// and resumed on a new connection.
type Link struct {
	// RetryWait is the sum of the waits between the attempts of one step.
	RetryWait time.Duration
	// StallTimeout drops a request or an answer that moves no byte.
	StallTimeout time.Duration
	// ConnectTimeout bounds a connection and its TLS handshake.
	ConnectTimeout time.Duration
	// PullWait is how long a pull (or a commit) may wait for its answer
	// while central prepares it; no other request waits longer than
	// StallTimeout.
	PullWait time.Duration
	// Parallel is how many files of a bundle are downloaded at once: on a
	// line of long delay the round trips, not the bytes, take the time.
	Parallel int
}

// LinkSettings reads a home's link settings (sync.retryWait, ...).
func LinkSettings(ctx context.Context, q store.Querier) (Link, error) {
	var l Link
	for _, d := range []struct {
		key string
		v   *time.Duration
	}{{"sync.retryWait", &l.RetryWait}, {"sync.stallTimeout", &l.StallTimeout},
		{"sync.connectTimeout", &l.ConnectTimeout}, {"sync.pullWait", &l.PullWait}} {
		v, err := config.Duration(ctx, q, d.key)
		if err != nil {
			return Link{}, err
		}
		*d.v = v
	}
	n, err := config.Int(ctx, q, "sync.parallel")
	l.Parallel = n
	return l, err
}

// transport is the HTTP transport of a sync: one per command, so that its
// connections (and the token) serve every request of the run. Only
// connecting is bounded here; the waits for bytes are the watchdog's (see
// exchange), which knows which request may wait for central.
func (l Link) transport() *http.Transport {
	return &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: l.ConnectTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout: l.ConnectTimeout,
		IdleConnTimeout:     90 * time.Second,
		MaxIdleConnsPerHost: l.Parallel + 1,
	}
}

// MaxWait bounds one wait between two attempts, a Retry-After included;
// minWait is the least, after an attempt that took longer than its wait.
const (
	MaxWait = 30 * time.Second
	minWait = 100 * time.Millisecond
)

// backoff is the wait after the n-th failed attempt (from 1): 0.5 s,
// doubling, at most MaxWait.
func backoff(n int) time.Duration {
	if n > 8 {
		return MaxWait
	}
	return min(500*time.Millisecond<<(n-1), MaxWait)
}

// Attempts is how many attempts a step gets when the waits between them
// may add up to total.
func Attempts(total time.Duration) int {
	n, sum := 1, time.Duration(0)
	for sum+backoff(n) <= total {
		sum += backoff(n)
		n++
	}
	return n
}

// Retry is one wait between two attempts of a step.
type Retry struct {
	What    string        // the step: "download data-cA-000001-…/9f86…"
	Err     error         // why the attempt failed
	Attempt int           // the attempt that failed, from 1
	Of      int           // attempts in all
	Wait    time.Duration // before the next attempt
}

// GaveUpError is a step whose attempts are all spent on transient
// failures: what it kept (part files, result bundles) waits for the next
// run.
type GaveUpError struct {
	What     string
	Attempts int
	Err      error
}

func (e *GaveUpError) Error() string {
	return fmt.Sprintf("%s: %v (after %d attempts)", e.What, e.Err, e.Attempts)
}

func (e *GaveUpError) Unwrap() error { return e.Err }

// ErrStalled is a transfer dropped because no byte moved.
var ErrStalled = errors.New("no byte moved")

// transient says whether a failed attempt may succeed if tried again:
// any network error or timeout, unless the command itself is stopped (a
// dial timeout matches context.DeadlineExceeded too: only ctx tells).
func transient(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var se *StatusError
	if errors.As(err, &se) {
		// 401 from the API (not the token endpoint: that is a
		// RetrieveError) means the token is no longer known; the retry
		// gets a new one (see status).
		return se.Status >= 500 || se.Status == http.StatusTooManyRequests || se.Status == http.StatusRequestTimeout ||
			se.Status == http.StatusUnauthorized
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.Response != nil && re.Response.StatusCode >= 500
	}
	// A certificate central's name or authority does not vouch for does
	// not heal by waiting either: said at once, not after minutes.
	var cve *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	if errors.As(err, &cve) || errors.As(err, &unknown) || errors.As(err, &host) || errors.As(err, &invalid) {
		return false
	}
	// The home's own files (a full disk, a rename) and its database do not
	// heal by waiting.
	var pe *fs.PathError
	var le *os.LinkError
	return !errors.As(err, &pe) && !errors.As(err, &le) && !ioerr.Local(err)
}

// retry runs fn until it succeeds, fails for good, or the attempts that
// fit Link.RetryWait are spent; each wait is told to Retrying.
func (s *Syncer) retry(ctx context.Context, what string, fn func() (retryAfter time.Duration, err error)) error {
	of := Attempts(s.link.RetryWait)
	for attempt := 1; ; attempt++ {
		began := time.Now()
		after, err := fn()
		if err == nil {
			return nil
		}
		if !transient(ctx, err) {
			if ctx.Err() != nil {
				return fmt.Errorf("%s: %w", what, ctx.Err())
			}
			return fmt.Errorf("%s: %w", what, err)
		}
		if attempt == of {
			return &GaveUpError{What: what, Attempts: of, Err: err}
		}
		// A random part of the wait spreads the clients that a central
		// restart cut at the same moment. The wait counts from the
		// attempt's start: one that stalled has waited already, so that
		// bytes move again within a stall timeout of the line's return.
		base := backoff(attempt)
		d := base - time.Duration(rand.Int64N(int64(base/4)+1))
		d = max(d-time.Since(began), minWait)
		if after > 0 {
			d = min(after, MaxWait)
		}
		if s.Retrying != nil {
			s.Retrying(Retry{What: what, Err: err, Attempt: attempt, Of: of, Wait: d})
		}
		s.c.Log.Debug("retry", "step", what, "err", err, "attempt", attempt, "of", of, "wait", d)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s: %w", what, ctx.Err())
		case <-t.C:
		}
	}
}

// exchange sends one request and hands its answer to read, under a
// watchdog: the request is dropped when no byte of it or of its answer
// moved for Link.StallTimeout, or, when long, when central has not
// answered Link.PullWait after the request was sent. Its error names no
// URL: the step that calls it does.
func (s *Syncer) exchange(ctx context.Context, method, path string, body io.Reader, size int64, long bool, header http.Header, read func(*http.Response) error) error {
	tctx, cancel := context.WithCancelCause(ctx)
	var limit atomic.Int64
	limit.Store(int64(s.link.StallTimeout))
	dog := time.AfterFunc(s.link.StallTimeout, func() {
		cancel(fmt.Errorf("%w for %s", ErrStalled, time.Duration(limit.Load())))
	})
	defer func() { dog.Stop(); cancel(nil) }()
	kick := func(d time.Duration) {
		limit.Store(int64(d))
		dog.Reset(d)
	}
	// The wait for the answer once the request is sent, and the wait
	// before that.
	answer := s.link.StallTimeout
	if long {
		answer = s.link.PullWait
	}
	first := answer
	var rb io.Reader = http.NoBody
	if size > 0 {
		rb = &watched{r: body, kick: func() { kick(s.link.StallTimeout) }, end: func() { kick(answer) }}
		first = s.link.StallTimeout
	}
	// An informational answer (central's "102 Processing" while it works
	// on a commit) shows the line alive, but a central stuck at its work
	// does not hold the sync beyond Link.PullWait from the first of them.
	var workSince atomic.Int64
	trace := &httptrace.ClientTrace{Got1xxResponse: func(int, textproto.MIMEHeader) error {
		now := time.Now().UnixNano()
		workSince.CompareAndSwap(0, now)
		if left := s.link.PullWait - time.Duration(now-workSince.Load()); left > 0 {
			kick(min(answer, left))
		}
		return nil
	}}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(tctx, trace), method, s.root+path, rb)
	if err != nil {
		return err
	}
	req.ContentLength = size
	for k, v := range header {
		req.Header[k] = v
	}
	if err := s.authorize(tctx, req); err != nil {
		return fmt.Errorf("get a token: %w", s.why(ctx, tctx, err))
	}
	kick(first)
	resp, err := s.http.Do(req)
	if err == nil {
		kick(s.link.StallTimeout)
		resp.Body = struct {
			io.Reader
			io.Closer
		}{&watched{r: resp.Body, kick: func() { kick(s.link.StallTimeout) }}, resp.Body}
		err = read(resp)
		resp.Body.Close()
	}
	if err == nil {
		return nil
	}
	return s.why(ctx, tctx, err)
}

// why is the reason an exchange on tctx, under ctx, failed with err: the
// watchdog's if it dropped the exchange, else err bare. A stall drops the
// idle connections too: a line that went silent under one (an address
// that changed) took them all.
func (s *Syncer) why(ctx, tctx context.Context, err error) error {
	if cause := context.Cause(tctx); ctx.Err() == nil && errors.Is(cause, ErrStalled) {
		s.http.CloseIdleConnections()
		return cause
	}
	return bare(err)
}

// bare is err without the method and URL that net/http puts before it: the
// step that failed names itself once.
func bare(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// watched is a reader that tells each byte moved, and its end.
type watched struct {
	r    io.Reader
	kick func()
	end  func()
}

func (w *watched) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	if n > 0 {
		w.kick()
	}
	if err == io.EOF && w.end != nil {
		w.end()
	}
	return n, err
}
