// Package balancer is a small load balancer for tests and the bench: a
// reverse proxy on loopback in front of several `taosync serve` replicas,
// as an exam body runs them behind its own balancer.
//
// It appends the address each request came from to its X-Forwarded-For,
// as balancers do.
//
// RoundRobin sends each request to the next replica, so that consecutive
// requests of one client land on different replicas. Sticky sends every
// request carrying a token to the replica that issued it (it reads the
// token answers as they pass), and the other requests round robin: for
// replicas that still keep some state in one process.
package balancer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Mode is how the balancer picks a replica.
type Mode int

const (
	// RoundRobin: each request to the next replica.
	RoundRobin Mode = iota
	// Sticky: a request with a bearer token to the replica that issued
	// it, the others round robin.
	Sticky
)

// ParseMode reads a mode's name: "round-robin" or "sticky".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "round-robin":
		return RoundRobin, nil
	case "sticky":
		return Sticky, nil
	}
	return 0, fmt.Errorf("balancer mode %q: want round-robin or sticky", s)
}

func (m Mode) String() string {
	if m == Sticky {
		return "sticky"
	}
	return "round-robin"
}

// Balancer is a running proxy.
type Balancer struct {
	// URL is where clients reach it: http://127.0.0.1:PORT.
	URL string

	mode    Mode
	proxies []*httputil.ReverseProxy
	counts  []atomic.Int64
	next    atomic.Uint64
	srv     *http.Server
	done    chan struct{}

	mu     sync.Mutex
	tokens map[string]int // access token -> the replica that issued it
}

// tokenPath is where clients ask for a token (OAuth 2 client credentials).
const tokenPath = "/oauth2/token"

// maxToken bounds the token answers read when sticky.
const maxToken = 64 << 10

// Start listens on a free loopback port and proxies to the replicas at
// the URLs backends (http://HOST:PORT each).
func Start(backends []string, mode Mode) (*Balancer, error) {
	if len(backends) == 0 {
		return nil, errors.New("balancer: no replica to send requests to")
	}
	b := &Balancer{mode: mode, counts: make([]atomic.Int64, len(backends)), tokens: map[string]int{}, done: make(chan struct{})}
	tr := &http.Transport{MaxIdleConnsPerHost: 512, DisableCompression: true, IdleConnTimeout: time.Minute}
	for i, s := range backends {
		u, err := url.Parse(s)
		if err != nil || u.Scheme != "http" || u.Host == "" {
			return nil, fmt.Errorf("balancer: replica %q: want http://HOST:PORT", s)
		}
		p := &httputil.ReverseProxy{
			Rewrite: func(r *httputil.ProxyRequest) {
				r.SetURL(u)
				r.Out.Host = r.In.Host
				// As a real balancer does: the address the request came
				// from appended to the X-Forwarded-For it came with,
				// which Rewrite took off.
				if xff := r.In.Header.Values("X-Forwarded-For"); len(xff) > 0 {
					r.Out.Header["X-Forwarded-For"] = xff
				}
				r.SetXForwarded()
			},
			Transport:     tr,
			FlushInterval: -1, // stream answers as they come: downloads, 102 Processing
			// A replica down (killed, restarting) is answered 502, which
			// clients retry: expected, not worth a line each.
			ErrorLog: log.New(io.Discard, "", 0),
		}
		if mode == Sticky {
			p.ModifyResponse = func(resp *http.Response) error { return b.learn(resp, i) }
		}
		b.proxies = append(b.proxies, p)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("balancer: %w", err)
	}
	b.URL = "http://" + ln.Addr().String()
	b.srv = &http.Server{Handler: b, ReadHeaderTimeout: 30 * time.Second}
	go func() {
		defer close(b.done)
		b.srv.Serve(ln)
	}()
	return b, nil
}

// ServeHTTP sends r to the replica the mode picks.
func (b *Balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i := b.pick(r)
	b.counts[i].Add(1)
	b.proxies[i].ServeHTTP(w, r)
}

func (b *Balancer) pick(r *http.Request) int {
	if b.mode == Sticky {
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			b.mu.Lock()
			i, known := b.tokens[tok]
			b.mu.Unlock()
			if known {
				return i
			}
		}
	}
	return int((b.next.Add(1) - 1) % uint64(len(b.proxies)))
}

// learn notes which replica issued the token a token answer carries, and
// hands the answer on unchanged.
func (b *Balancer) learn(resp *http.Response, i int) error {
	if resp.Request.URL.Path != tokenPath || resp.StatusCode != http.StatusOK {
		return nil
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxToken))
	resp.Body.Close()
	if err != nil {
		return err
	}
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	var t struct {
		AccessToken string `json:"access_token"`
	}
	if json.Unmarshal(raw, &t) == nil && t.AccessToken != "" {
		b.mu.Lock()
		b.tokens[t.AccessToken] = i
		b.mu.Unlock()
	}
	return nil
}

// Counts is the number of requests sent to each replica so far.
func (b *Balancer) Counts() []int64 {
	out := make([]int64, len(b.counts))
	for i := range b.counts {
		out[i] = b.counts[i].Load()
	}
	return out
}

// Close stops listening and ends the connections at once.
func (b *Balancer) Close() error {
	err := b.srv.Close()
	<-b.done
	return err
}
