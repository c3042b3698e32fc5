package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/taosync/taosync/internal/api"
	"github.com/taosync/taosync/internal/password"
	"github.com/taosync/taosync/internal/testfixture"
)

const form = "application/x-www-form-urlencoded"

// TestTokenEndpoint checks the client credentials grant (RFC 6749 §4.4) and
// its errors (§5.2): each case's status, error code and headers.
func TestTokenEndpoint(t *testing.T) { testfixture.OnEngines(t, testTokenEndpoint) }

func testTokenEndpoint(t *testing.T, engine string) {
	f := testfixture.NewOn(t, engine)
	f.Start(nil)
	f.Register("ca", "A")
	f.Register("gone", "A")
	if err := f.C.Store.RevokeClient(f.Ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	// A secret with the characters Basic credentials must form-urlencode.
	f.Register("odd", "A")
	odd := "a+b/c%d e=f&g:h"
	if err := f.C.Store.RotateSecret(f.Ctx, "odd", password.HashSecret(odd)); err != nil {
		t.Fatal(err)
	}
	f.Secrets["odd"] = odd
	secret := f.Secrets["ca"]
	cc := url.Values{"grant_type": {"client_credentials"}}.Encode()

	type request struct {
		body, contentType string
		basic             bool // form-urlencoded Basic credentials
		rawBasic          bool // Basic credentials as they are
		id, secret        string
	}
	for _, tc := range []struct {
		name   string
		req    request
		status int
		code   string // "" for success
	}{
		{"basic", request{body: cc, contentType: form, basic: true, id: "ca", secret: secret}, 200, ""},
		{"form body", request{body: url.Values{"grant_type": {"client_credentials"}, "client_id": {"ca"}, "client_secret": {secret}}.Encode(), contentType: form}, 200, ""},
		{"content type with charset", request{body: cc, contentType: form + "; charset=utf-8", basic: true, id: "ca", secret: secret}, 200, ""},
		{"secret with + / % and space, Basic form-urlencoded", request{body: cc, contentType: form, basic: true, id: "odd", secret: odd}, 200, ""},
		{"secret with + / % and space, form body", request{body: url.Values{"grant_type": {"client_credentials"}, "client_id": {"odd"}, "client_secret": {odd}}.Encode(), contentType: form}, 200, ""},
		{"wrong secret", request{body: cc, contentType: form, basic: true, id: "ca", secret: secret + "x"}, 401, "invalid_client"},
		{"wrong secret in the form", request{body: url.Values{"grant_type": {"client_credentials"}, "client_id": {"ca"}, "client_secret": {"nope"}}.Encode(), contentType: form}, 401, "invalid_client"},
		{"unknown client", request{body: cc, contentType: form, basic: true, id: "nobody", secret: secret}, 401, "invalid_client"},
		{"revoked client", request{body: cc, contentType: form, basic: true, id: "gone", secret: f.Secrets["gone"]}, 401, "invalid_client"},
		{"missing grant_type", request{body: "", contentType: form, basic: true, id: "ca", secret: secret}, 400, "invalid_request"},
		{"grant_type password", request{body: url.Values{"grant_type": {"password"}, "username": {"ca"}, "password": {secret}}.Encode(), contentType: form, basic: true, id: "ca", secret: secret}, 400, "unsupported_grant_type"},
		{"grant_type twice", request{body: cc + "&" + cc, contentType: form, basic: true, id: "ca", secret: secret}, 400, "invalid_request"},
		{"both Basic and form body", request{body: url.Values{"grant_type": {"client_credentials"}, "client_id": {"ca"}, "client_secret": {secret}}.Encode(), contentType: form, basic: true, id: "ca", secret: secret}, 400, "invalid_request"},
		{"no client authentication", request{body: cc, contentType: form}, 401, "invalid_client"},
		{"JSON body", request{body: `{"grant_type":"client_credentials"}`, contentType: "application/json", basic: true, id: "ca", secret: secret}, 400, "invalid_request"},
		{"no content type", request{body: cc, basic: true, id: "ca", secret: secret}, 400, "invalid_request"},
		// '%d' is not a valid escape: Basic credentials that are not
		// form-urlencoded are a bad request, not a guess.
		{"secret with % not form-urlencoded", request{body: cc, contentType: form, rawBasic: true, id: "odd", secret: odd}, 400, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(f.Ctx, http.MethodPost, f.URL+api.TokenPath, strings.NewReader(tc.req.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.req.contentType != "" {
				req.Header.Set("Content-Type", tc.req.contentType)
			}
			switch {
			case tc.req.basic:
				req.SetBasicAuth(url.QueryEscape(tc.req.id), url.QueryEscape(tc.req.secret))
			case tc.req.rawBasic:
				req.SetBasicAuth(tc.req.id, tc.req.secret)
			}
			st, h, body := f.Do(req)
			if st != tc.status {
				t.Fatalf("status %d, want %d (%v)", st, tc.status, body)
			}
			if got := h.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", got)
			}
			if got := h.Get("Content-Type"); !strings.HasPrefix(got, "application/json") {
				t.Errorf("Content-Type %q", got)
			}
			if tc.code != "" {
				if body["error"] != tc.code {
					t.Errorf("error %v, want %s (%v)", body["error"], tc.code, body)
				}
				if _, ok := body["access_token"]; ok {
					t.Errorf("an error with a token: %v", body)
				}
				if st == http.StatusUnauthorized && !strings.HasPrefix(h.Get("WWW-Authenticate"), "Basic ") {
					t.Errorf("401 without a Basic challenge: WWW-Authenticate %q", h.Get("WWW-Authenticate"))
				}
				return
			}
			tok, _ := body["access_token"].(string)
			if len(tok) < 32 {
				t.Errorf("access_token %q", tok)
			}
			if body["token_type"] != "Bearer" {
				t.Errorf("token_type %v, want Bearer", body["token_type"])
			}
			if exp, ok := body["expires_in"].(float64); !ok || exp != 900 {
				t.Errorf("expires_in %v, want 900 (15 minutes)", body["expires_in"])
			}
			// The token works, and is the client's.
			if st, b := f.API(http.MethodGet, api.Prefix+"/receipts", tok, nil, ""); st != 200 || strings.TrimSpace(string(b)) != `{"bundles":[]}` {
				t.Errorf("receipts with the token: %d %s", st, b)
			}
		})
	}

	t.Run("GET is not allowed", func(t *testing.T) {
		st, _ := f.API(http.MethodGet, api.TokenPath+"?grant_type=client_credentials", "", nil, "")
		if st != http.StatusMethodNotAllowed {
			t.Errorf("status %d, want 405", st)
		}
	})
	t.Run("oversized body", func(t *testing.T) {
		st, _, body := f.PostToken(cc+"&pad="+strings.Repeat("x", 32<<10), form, "ca", secret)
		if st != http.StatusBadRequest || body["error"] != "invalid_request" {
			t.Errorf("status %d %v, want 400 invalid_request", st, body)
		}
	})
}

// TestTokenRateLimit: ten failed authentications from one address, and the
// address is refused for the rest of the minute, even with the right secret.
func TestTokenRateLimit(t *testing.T) { testfixture.OnEngines(t, testTokenRateLimit) }

func testTokenRateLimit(t *testing.T, engine string) {
	f := testfixture.NewOn(t, engine)
	f.Start(nil)
	f.Register("ca", "A")
	cc := url.Values{"grant_type": {"client_credentials"}}.Encode()
	for i := range 10 {
		if st, _, body := f.PostToken(cc, form, "ca", "wrong"); st != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d %v, want 401", i+1, st, body)
		}
	}
	st, h, body := f.PostToken(cc, form, "ca", f.Secrets["ca"])
	if st != http.StatusTooManyRequests {
		t.Fatalf("after 10 failures: %d %v, want 429", st, body)
	}
	ra, err := strconv.Atoi(h.Get("Retry-After"))
	if err != nil || ra < 1 || ra > 61 {
		t.Errorf("Retry-After %q, want 1 to 61 seconds", h.Get("Retry-After"))
	}
	if h.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", h.Get("Cache-Control"))
	}
	if body["error"] == nil || body["access_token"] != nil {
		t.Errorf("429 body %v", body)
	}
	// Another central (another database) is not affected: the limit is
	// per address and per central, and the right secret works.
	g := testfixture.NewOn(t, engine)
	g.Start(nil)
	g.Register("ca", "A")
	if st, _, body := g.PostToken(cc, form, "ca", g.Secrets["ca"]); st != http.StatusOK {
		t.Errorf("fresh server: %d %v", st, body)
	}
}

// TestTokenWithCurl: a token obtained with plain curl, used with curl.
func TestTokenWithCurl(t *testing.T) { testfixture.OnEngines(t, testTokenWithCurl) }

func testTokenWithCurl(t *testing.T, engine string) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("curl is not installed")
		}
		t.Skip("curl is not installed")
	}
	f := testfixture.NewOn(t, engine)
	f.Start(nil)
	f.Register("ca", "A")
	ctx, cancel := context.WithTimeout(f.Ctx, 30*time.Second)
	defer cancel()
	run := func(args ...string) []byte {
		t.Helper()
		out, err := exec.CommandContext(ctx, curl, append([]string{"-s", "--max-time", "10"}, args...)...).Output()
		if err != nil {
			t.Fatalf("curl %v: %v\n%s", args, err, out)
		}
		return out
	}
	out := run("-u", "ca:"+f.Secrets["ca"], "-d", "grant_type=client_credentials", f.URL+api.TokenPath)
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.Unmarshal(out, &tok); err != nil || tok.AccessToken == "" || tok.TokenType != "Bearer" || tok.ExpiresIn <= 0 {
		t.Fatalf("curl token: %s (%v)", out, err)
	}
	out = run("-w", "\n%{http_code}", "-H", "Authorization: Bearer "+tok.AccessToken, f.URL+api.Prefix+"/receipts")
	if got := strings.Join(strings.Fields(string(out)), " "); got != `{"bundles":[]} 200` {
		t.Errorf("curl receipts: %q", got)
	}
	// Without the token, or with a wrong one: 401 with a Bearer challenge.
	out = run("-i", f.URL+api.Prefix+"/receipts", "-H", "Authorization: Bearer x"+tok.AccessToken)
	if !strings.HasPrefix(string(out), "HTTP/1.1 401") || !strings.Contains(strings.ToLower(string(out)), `www-authenticate: bearer realm="taosync", error="invalid_token"`) {
		t.Errorf("curl with a wrong token:\n%s", out)
	}
	// The form body road, with curl too.
	out = run("-d", "grant_type=client_credentials", "-d", "client_id=ca", "--data-urlencode", "client_secret="+f.Secrets["ca"], f.URL+api.TokenPath)
	if !strings.Contains(string(out), `"token_type":"Bearer"`) {
		t.Errorf("curl form body: %s", out)
	}
}

// TestTokenWithOAuth2: golang.org/x/oauth2/clientcredentials, both ways of
// sending the credentials.
func TestTokenWithOAuth2(t *testing.T) { testfixture.OnEngines(t, testTokenWithOAuth2) }

func testTokenWithOAuth2(t *testing.T, engine string) {
	f := testfixture.NewOn(t, engine)
	f.Start(nil)
	f.Register("ca", "A")
	f.Secrets["ca"] = "s+/ %x" // needs form-urlencoding both ways
	if err := f.C.Store.RotateSecret(f.Ctx, "ca", password.HashSecret(f.Secrets["ca"])); err != nil {
		t.Fatal(err)
	}
	for _, style := range []struct {
		name string
		s    oauth2.AuthStyle
	}{{"in header", oauth2.AuthStyleInHeader}, {"in params", oauth2.AuthStyleInParams}, {"auto detect", oauth2.AuthStyleAutoDetect}} {
		t.Run(style.name, func(t *testing.T) {
			cfg := clientcredentials.Config{ClientID: "ca", ClientSecret: f.Secrets["ca"], TokenURL: f.URL + api.TokenPath, AuthStyle: style.s}
			tok, err := cfg.Token(f.Ctx)
			if err != nil {
				t.Fatal(err)
			}
			if tok.TokenType != "Bearer" || tok.Expiry.IsZero() || time.Until(tok.Expiry) > 16*time.Minute {
				t.Errorf("token %+v", tok)
			}
			resp, err := cfg.Client(f.Ctx).Get(f.URL + api.Prefix + "/receipts")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("receipts: %d", resp.StatusCode)
			}
		})
	}
	t.Run("wrong secret", func(t *testing.T) {
		cfg := clientcredentials.Config{ClientID: "ca", ClientSecret: "wrong", TokenURL: f.URL + api.TokenPath, AuthStyle: oauth2.AuthStyleInHeader}
		_, err := cfg.Token(f.Ctx)
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.ErrorCode != "invalid_client" || re.Response.StatusCode != 401 {
			t.Errorf("err %v, want a RetrieveError invalid_client 401", err)
		}
	})
}
