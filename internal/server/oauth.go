package server

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/taosync/taosync/internal/clientaddr"
	"github.com/taosync/taosync/internal/ioerr"
	"github.com/taosync/taosync/internal/password"
	"github.com/taosync/taosync/internal/store"
)

// newToken makes an access token.
func newToken() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// tokenUnavailable answers a token request that central's database could
// not serve.
func (s *Server) tokenUnavailable(w http.ResponseWriter, what string, err error) {
	s.log.Error("token: "+what, "err", err)
	status := http.StatusInternalServerError
	if ioerr.Unavailable(err) {
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", unavailableRetry)
	}
	oauthError(w, status, "server_error", "try again later")
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
	if wait := s.limit.Blocked(r); wait > 0 {
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
		s.limit.Fail(r)
		oauthError(w, http.StatusUnauthorized, "invalid_client", "client authentication is missing")
		return
	}
	hash, revoked, err := s.c.Store.Credential(r.Context(), id)
	// The same answer, and a comparison all the same, whether the client
	// is unknown, revoked, or the secret wrong.
	if err != nil && !errors.Is(err, store.ErrUnknownClient) {
		s.tokenUnavailable(w, "read credential", err)
		return
	}
	ok := subtle.ConstantTimeCompare([]byte(password.HashSecret(secret)), []byte(hash)) == 1
	if err != nil || revoked != "" || !ok {
		s.limit.Fail(r)
		s.log.Info("token: refused", "client", id, "addr", clientaddr.Of(r))
		oauthError(w, http.StatusUnauthorized, "invalid_client", "unknown client, wrong secret, or revoked credential")
		return
	}
	// Every replica finds the token in central's database: a request may
	// land on any of them.
	now := time.Now()
	tok := newToken()
	if err := s.c.Store.IssueToken(r.Context(), password.HashSecret(tok), id, hash, now.Add(s.TokenTTL), now); err != nil {
		s.tokenUnavailable(w, "issue", err)
		return
	}
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
	// One query: the token, and whether its credential is still the one
	// it was issued under, so that a revoked or rotated one stops working
	// at once.
	client, live, err := s.c.Store.Token(r.Context(), password.HashSecret(tok), time.Now())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fail("invalid_token", "the token is unknown or expired")
	case err != nil:
		s.fail(w, "authenticate", err)
		return "", false
	case !live:
		return fail("invalid_token", "the credential was revoked or rotated")
	}
	return client, true
}
