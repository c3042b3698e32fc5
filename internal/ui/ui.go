// Package ui is central's operator web view, which serve shows under /ui/:
// every centre's readiness at a glance, a centre's history and credential,
// and the deliveries. Pages are rendered on the server from html/template
// (which escapes whatever the data holds), embedded in the binary, and
// need no JavaScript.
//
// Operators log in with a name and password (`taosync central operator
// add`); a session is a random cookie (HttpOnly, Secure under TLS,
// SameSite=Strict) kept in central's database by its hash, so that any
// replica of serve serves it, and every form carries the session's CSRF
// token. No page shows a secret, a hash, a key, or a candidate's
// personal data beyond counts, but for one: the new secret of a centre
// whose secret the operator has just rotated, shown once to that operator.
package ui

import (
	"cmp"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/taosync/taosync/internal/central"
	"github.com/taosync/taosync/internal/clientaddr"
	"github.com/taosync/taosync/internal/password"
	"github.com/taosync/taosync/internal/store"
)

// Prefix is where the view is served.
const Prefix = "/ui/"

// Cookie names: the session, and the login form's CSRF token before there
// is a session.
const (
	sessionCookie = "taosync_session"
	loginCookie   = "taosync_login"
)

// Session bounds: a working day, and a table that a flood of logins
// cannot grow without end.
const (
	sessionTTL  = 12 * time.Hour
	maxSessions = 1024
	maxFormBody = 8 << 10
)

//go:embed templates/*.html templates/style.css
var files embed.FS

// Limiter refuses a client's address (clientaddr.Of) for a while once its
// logins failed too often. serve gives the view the token endpoint's kind
// (server.Limiter), counting the operators' failures apart.
type Limiter interface {
	Blocked(r *http.Request) time.Duration
	Fail(r *http.Request)
	Forgive(r *http.Request)
}

// UI serves the operator view of a central home.
type UI struct {
	c      *central.Central
	log    *slog.Logger
	limit  Limiter
	secure bool
	pages  map[string]*template.Template

	// checks bounds the password checks running at once: each costs
	// argon2id's memory and time, and the login page is open to anyone.
	checks chan struct{}
}

// maxChecks is how many password checks run at once; a login beyond them
// is told to come back.
const maxChecks = 2

// session is an operator's login, kept in central's database by the hash
// of its cookie (store.OperatorSession), so that any replica of serve
// serves it.
type session struct {
	operator, csrf string
	// hash is the operator's password hash at login: a password reset
	// (operator remove, then add) ends the sessions of the old one.
	hash string
}

// newSecret is a client's new OAuth secret, to be shown once.
type newSecret struct{ client, secret string }

// New returns the view; secure marks its cookies Secure (serve under TLS).
// A nil log means slog.Default().
func New(c *central.Central, limit Limiter, secure bool, log *slog.Logger) *UI {
	u := &UI{c: c, log: cmp.Or(log, slog.Default()), limit: limit, secure: secure, pages: map[string]*template.Template{},
		checks: make(chan struct{}, maxChecks)}
	for _, p := range []string{"login", "centres", "centre", "revoke", "rotate", "rotated", "deliveries"} {
		u.pages[p] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/"+p+".html"))
	}
	return u
}

// Mount serves the view under Prefix beside api, which serves the rest.
func Mount(api, view http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", api)
	mux.Handle(Prefix, view)
	return mux
}

// Handler returns the view's handler, for paths under Prefix.
func (u *UI) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ui/style.css", func(w http.ResponseWriter, r *http.Request) {
		b, _ := fs.ReadFile(files, "templates/style.css")
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Write(b)
	})
	mux.HandleFunc("GET /ui/login", u.loginPage)
	mux.HandleFunc("POST /ui/login", u.login)
	mux.HandleFunc("POST /ui/logout", u.authed(u.logout))
	mux.HandleFunc("GET /ui/{$}", u.authed(u.centres))
	mux.HandleFunc("GET /ui/centres/{id}", u.authed(u.centre))
	mux.HandleFunc("GET /ui/centres/{id}/revoke", u.authed(u.revokePage))
	mux.HandleFunc("POST /ui/centres/{id}/revoke", u.authed(u.revoke))
	mux.HandleFunc("GET /ui/centres/{id}/rotate", u.authed(u.rotatePage))
	mux.HandleFunc("POST /ui/centres/{id}/rotate", u.authed(u.rotate))
	mux.HandleFunc("GET /ui/centres/{id}/rotated", u.authed(u.rotated))
	mux.HandleFunc("GET /ui/deliveries", u.authed(u.deliveries))
	return headers(mux)
}

// headers sets what every page of the view needs: no caching (pages hold
// the state of now), no framing, no script, nothing sent elsewhere.
func headers(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.ServeHTTP(w, r)
	})
}

func random() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (u *UI) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: Prefix, MaxAge: maxAge, HttpOnly: true,
		Secure: u.secure, SameSite: http.SameSiteStrictMode}
}

// page is what every page's template gets.
type page struct {
	Title    string
	Operator string
	CSRF     string
	Error    string
	Data     any
}

func (u *UI) render(w http.ResponseWriter, status int, name string, p page) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := u.pages[name].Execute(w, p); err != nil {
		u.log.Error("ui: render", "page", name, "err", err)
	}
}

func (u *UI) fail(w http.ResponseWriter, what string, err error) {
	u.log.Error("ui: "+what, "err", err)
	http.Error(w, what+" failed; see central's log", http.StatusInternalServerError)
}

// authed serves h to an operator with a live session, and sends anyone else
// to the login page. A POST must carry the session's CSRF token.
func (u *UI) authed(h func(w http.ResponseWriter, r *http.Request, s session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, ok := u.session(r)
		if ok {
			// An operator removed since, or whose password was reset,
			// loses the session at once.
			// A database out of reach ends no session: the operator is
			// told to try again.
			hash, err := u.c.Store.OperatorHash(r.Context(), s.operator)
			if err != nil && !errors.Is(err, store.ErrUnknownOperator) {
				u.fail(w, "check the session", err)
				return
			}
			if err != nil || subtle.ConstantTimeCompare([]byte(hash), []byte(s.hash)) != 1 {
				u.end(r)
				ok = false
			}
		}
		if !ok {
			if r.Method != http.MethodGet {
				http.Error(w, "log in first", http.StatusForbidden)
				return
			}
			http.Redirect(w, r, Prefix+"login", http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
			if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(s.csrf)) != 1 {
				http.Error(w, "the form's token is missing or not this session's: reload the page and try again", http.StatusForbidden)
				return
			}
		}
		h(w, r, s)
	}
}

// sessionKey is the hash under which the request's session is kept, from
// its cookie.
func sessionKey(r *http.Request) (cookie, key string, ok bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return "", "", false
	}
	return c.Value, password.HashSecret(c.Value), true
}

func (u *UI) session(r *http.Request) (session, bool) {
	_, key, ok := sessionKey(r)
	if !ok {
		return session{}, false
	}
	s, err := u.c.Store.OperatorSession(r.Context(), key, time.Now())
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			u.log.Error("ui: read session", "err", err)
		}
		return session{}, false
	}
	return session{operator: s.Operator, csrf: s.CSRF, hash: s.PasswordHash}, true
}

// keep holds a new secret in the request's session until take, sealed
// with a key made from the session's cookie: central's database never
// holds a secret in clear.
func (u *UI) keep(r *http.Request, n newSecret) error {
	cookie, key, ok := sessionKey(r)
	if !ok {
		return nil
	}
	return u.c.Store.ShowOnce(r.Context(), key, n.client, seal(cookie, n))
}

// take returns the new secret the request's session holds for client, and
// forgets it.
func (u *UI) take(r *http.Request, client string) (newSecret, error) {
	cookie, key, ok := sessionKey(r)
	if !ok {
		return newSecret{}, nil
	}
	sealed, err := u.c.Store.TakeShown(r.Context(), key, client)
	if err != nil || sealed == "" {
		return newSecret{}, err
	}
	secret, err := unseal(cookie, client, sealed)
	return newSecret{client: client, secret: secret}, err
}

// sealer is the AEAD that seals a session's shown secret.
func sealer(cookie string) cipher.AEAD {
	k := sha256.Sum256([]byte("taosync operator session: shown secret\x00" + cookie))
	b, _ := aes.NewCipher(k[:])
	g, _ := cipher.NewGCM(b)
	return g
}

func seal(cookie string, n newSecret) string {
	g := sealer(cookie)
	nonce := make([]byte, g.NonceSize())
	rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(g.Seal(nonce, nonce, []byte(n.secret), []byte(n.client)))
}

func unseal(cookie, client, sealed string) (string, error) {
	g := sealer(cookie)
	b, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil || len(b) < g.NonceSize() {
		return "", errors.New("a session's shown secret is unreadable")
	}
	out, err := g.Open(nil, b[:g.NonceSize()], b[g.NonceSize():], []byte(client))
	if err != nil {
		return "", fmt.Errorf("open a session's shown secret: %w", err)
	}
	return string(out), nil
}

func (u *UI) end(r *http.Request) {
	if _, key, ok := sessionKey(r); ok {
		if err := u.c.Store.EndOperatorSession(r.Context(), key); err != nil {
			u.log.Error("ui: end session", "err", err)
		}
	}
}

func (u *UI) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, ok := u.session(r); ok {
		http.Redirect(w, r, Prefix, http.StatusSeeOther)
		return
	}
	u.loginForm(w, http.StatusOK, "")
}

// loginForm shows the login form with a fresh CSRF token, also set as a
// cookie: the form's POST must bring both, equal.
func (u *UI) loginForm(w http.ResponseWriter, status int, msg string) {
	token := random()
	http.SetCookie(w, u.cookie(loginCookie, token, 3600))
	u.render(w, status, "login", page{Title: "Log in", CSRF: token, Error: msg})
}

func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	if wait := u.limit.Blocked(r); wait > 0 {
		u.loginForm(w, http.StatusTooManyRequests, "Too many failed logins from this address: try again in a minute.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	c, err := r.Cookie(loginCookie)
	if err != nil || subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(c.Value)) != 1 {
		u.loginForm(w, http.StatusForbidden, "The form's token is missing or stale: try again.")
		return
	}
	name, pw := r.PostFormValue("name"), r.PostFormValue("password")
	// A check is counted as a failure before it runs, and taken back if
	// it passes: attempts in flight count against the address too.
	select {
	case u.checks <- struct{}{}:
	default:
		u.loginForm(w, http.StatusTooManyRequests, "Too many logins at once: try again in a moment.")
		return
	}
	u.limit.Fail(r)
	hash, ok, err := u.check(r.Context(), name, pw)
	<-u.checks
	if err != nil {
		u.fail(w, "log in", err)
		return
	}
	if ok {
		u.limit.Forgive(r)
	}
	if !ok {
		u.log.Warn("ui: login refused", "operator", name, "addr", clientaddr.Of(r))
		u.loginForm(w, http.StatusUnauthorized, "Unknown operator or wrong password.")
		return
	}
	// A full table (a script that drops its cookie makes one a login)
	// lets the oldest session go, rather than every operator be locked
	// out.
	id := random()
	err = u.c.Store.AddOperatorSession(r.Context(), password.HashSecret(id),
		store.OperatorSession{Operator: name, CSRF: random(), PasswordHash: hash, Expires: time.Now().Add(sessionTTL)}, maxSessions, time.Now())
	if err != nil {
		u.fail(w, "log in", err)
		return
	}
	http.SetCookie(w, u.cookie(loginCookie, "", -1))
	http.SetCookie(w, u.cookie(sessionCookie, id, int(sessionTTL/time.Second)))
	http.Redirect(w, r, Prefix, http.StatusSeeOther)
}

// check verifies an operator's password and returns its hash; an unknown
// operator is a wrong password, after the same work, so that names cannot
// be told apart.
func (u *UI) check(ctx context.Context, name, pw string) (string, bool, error) {
	hash, err := u.c.Store.OperatorHash(ctx, name)
	if errors.Is(err, store.ErrUnknownOperator) {
		password.Verify(pw, dummyHash())
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	ok, err := password.Verify(pw, hash)
	return hash, ok, err
}

// dummyHash is checked against for an unknown operator: the same cost as a
// real one. Made once, when first needed.
var dummyHash = sync.OnceValue(func() string {
	h, _ := password.Hash(random())
	return h
})

func (u *UI) logout(w http.ResponseWriter, r *http.Request, _ session) {
	u.end(r)
	http.SetCookie(w, u.cookie(sessionCookie, "", -1))
	http.Redirect(w, r, Prefix+"login", http.StatusSeeOther)
}
