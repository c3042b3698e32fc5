package server

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/taosync/taosync/internal/ioerr"
	"github.com/taosync/taosync/internal/password"
	"github.com/taosync/taosync/internal/store"
)

// token is what the server remembers of an access token it issued. Only
// its hash is kept as the key.
type token struct {
	client  string
	secret  string // the hash of the secret it was obtained with
	expires time.Time
}

// tokens holds the access tokens issued, in memory: a restart of the
// server makes clients fetch new ones, which x/oauth2 does by itself.
type tokens struct {
	mu sync.Mutex
	m  map[string]token
}

func (t *tokens) issue(client, secretHash string, ttl time.Duration, now time.Time) string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, v := range t.m {
		if now.After(v.expires) {
			delete(t.m, k)
		}
	}
	t.m[password.HashSecret(tok)] = token{client: client, secret: secretHash, expires: now.Add(ttl)}
	return tok
}

func (t *tokens) lookup(tok string, now time.Time) (token, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	v, ok := t.m[password.HashSecret(tok)]
	if !ok || now.After(v.expires) {
		return token{}, false
	}
	return v, true
}

// limiter counts failed authentications per remote address, and refuses
// an address for the rest of a window once it failed too often: guessing
// secrets is slowed to a handful a minute.
type limiter struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	m      map[string]*failures
}

type failures struct {
	n     int
	since time.Time
}

func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// blocked reports how long the address is still refused.
func (l *limiter) blocked(addr string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.m[addr]
	if f == nil || now.Sub(f.since) > l.window {
		return 0
	}
	if f.n >= l.max {
		return l.window - now.Sub(f.since)
	}
	return 0
}

func (l *limiter) fail(addr string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.m[addr]
	if f == nil || now.Sub(f.since) > l.window {
		if len(l.m) > 4096 {
			// Forget the windows that are over, so that the table is
			// bounded by the addresses failing in one window.
			for a, old := range l.m {
				if now.Sub(old.since) > l.window {
					delete(l.m, a)
				}
			}
		}
		f = &failures{since: now}
		l.m[addr] = f
	}
	f.n++
}

func (l *limiter) forgive(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if f := l.m[addr]; f != nil && f.n > 0 {
		f.n--
	}
}

// oauthError answers with an RFC 6749 §5.2 error.
func oauthError(w http.ResponseWriter, status int, code, description string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="taosync", charset="UTF-8"`)
	}
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": description})
}

// clientAuth reads the client's credentials, by HTTP Basic (id and secret
// form-urlencoded first, as RFC 6749 §2.3.1 requires) or by the form body;
// using both is an error.
func clientAuth(r *http.Request) (id, secret string, err error) {
	user, pass, basic := r.BasicAuth()
	formID, formSecret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	switch {
	case basic && formSecret != "":
		return "", "", errors.New("use one client authentication method, not both")
	case basic:
		if id, err = url.QueryUnescape(user); err == nil {
			secret, err = url.QueryUnescape(pass)
		}
		if err != nil {
			return "", "", errors.New("the Basic credentials are not form-urlencoded")
		}
		return id, secret, nil
	}
	return formID, formSecret, nil
}

// token is the token endpoint: the client credentials grant of RFC 6749
// §4.4.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	addr := remoteHost(r)
	if wait := s.limit.blocked(addr, now); wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		oauthError(w, http.StatusTooManyRequests, "invalid_client", "too many failed attempts; try again later")
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "the body must be application/x-www-form-urlencoded")
		return
	}
	if len(r.Header.Values("Authorization")) > 1 {
		oauthError(w, http.StatusBadRequest, "invalid_request", "more than one Authorization header")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	s.bodyDeadline(w)
	if err := r.ParseForm(); isTimeout(err) {
		oauthError(w, http.StatusRequestTimeout, "invalid_request", "the request body was not received in time")
		return
	} else if err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "unreadable form")
		return
	}
	for k, v := range r.PostForm {
		if len(v) > 1 {
			oauthError(w, http.StatusBadRequest, "invalid_request", "parameter "+k+" given more than once")
			return
		}
	}
	id, secret, err := clientAuth(r)
	if err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	switch gt := r.PostForm.Get("grant_type"); {
	case gt == "":
		oauthError(w, http.StatusBadRequest, "invalid_request", "grant_type is missing")
		return
	case gt != "client_credentials":
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "only client_credentials is supported")
		return
	}
	if id == "" || secret == "" {
		s.limit.fail(addr, now)
		oauthError(w, http.StatusUnauthorized, "invalid_client", "client authentication is missing")
		return
	}
	hash, revoked, err := s.c.Store.Credential(r.Context(), id)
	// The same answer, and a comparison all the same, whether the client
	// is unknown, revoked, or the secret wrong.
	if err != nil && !errors.Is(err, store.ErrUnknownClient) {
		s.log.Error("token: read credential", "err", err)
		status := http.StatusInternalServerError
		if ioerr.Unavailable(err) {
			status = http.StatusServiceUnavailable
			w.Header().Set("Retry-After", unavailableRetry)
		}
		oauthError(w, status, "server_error", "try again later")
		return
	}
	ok := subtle.ConstantTimeCompare([]byte(password.HashSecret(secret)), []byte(hash)) == 1
	if err != nil || revoked != "" || !ok {
		s.limit.fail(addr, now)
		s.log.Info("token: refused", "client", id, "addr", addr)
		oauthError(w, http.StatusUnauthorized, "invalid_client", "unknown client, wrong secret, or revoked credential")
		return
	}
	tok := s.tokens.issue(id, hash, s.TokenTTL, now)
	noteClient(r, id)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	json.NewEncoder(w).Encode(map[string]any{
		"access_token": tok, "token_type": "Bearer", "expires_in": int(s.TokenTTL.Seconds()),
	})
}

// authenticate checks a request's bearer token (RFC 6750) and returns the
// client it was issued to. The credential is checked again on every
// request, so that a revoked or rotated one stops working at once.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (string, bool) {
	fail := func(code, desc string) (string, bool) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="taosync", error="`+code+`", error_description="`+desc+`"`)
		writeError(w, http.StatusUnauthorized, desc)
		return "", false
	}
	// Two headers could each be read as the one that counts.
	if len(r.Header.Values("Authorization")) > 1 {
		writeError(w, http.StatusBadRequest, "more than one Authorization header")
		return "", false
	}
	// The scheme is case-insensitive (RFC 7235 §2.1).
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || tok == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="taosync"`)
		writeError(w, http.StatusUnauthorized, "a bearer token is required")
		return "", false
	}
	t, ok := s.tokens.lookup(tok, time.Now())
	if !ok {
		return fail("invalid_token", "the token is unknown or expired")
	}
	hash, revoked, err := s.c.Store.Credential(r.Context(), t.client)
	switch {
	case err != nil && !errors.Is(err, store.ErrUnknownClient):
		s.fail(w, "authenticate", err)
		return "", false
	case err != nil || revoked != "" || subtle.ConstantTimeCompare([]byte(hash), []byte(t.secret)) != 1:
		return fail("invalid_token", "the credential was revoked or rotated")
	}
	return t.client, true
}
