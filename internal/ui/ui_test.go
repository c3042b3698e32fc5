package ui_test

import (
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/internal/api"
	"github.com/taosync/taosync/internal/clientaddr"
	"github.com/taosync/taosync/internal/password"
	"github.com/taosync/taosync/internal/testfixture"
)

// TestLogin: the right password opens the view with a session cookie that
// is HttpOnly, SameSite=Strict and (under TLS) Secure; anyone else is sent
// to the login page; logging out ends the session.
func TestLogin(t *testing.T) {
	for _, secure := range []bool{false, true} {
		f := setup(t, secure)
		b := newBrowser(t, f)
		if resp, _ := b.do(http.MethodGet, "/ui/", nil, nil); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/login" {
			t.Fatalf("no session: %d to %q, want 303 to /ui/login", resp.StatusCode, resp.Header.Get("Location"))
		}
		token := b.csrf("/ui/login")
		resp, _ := b.do(http.MethodPost, "/ui/login", url.Values{"csrf": {token}, "name": {operator}, "password": {secret}}, nil)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("login: status %d", resp.StatusCode)
		}
		var session *http.Cookie
		for _, c := range resp.Cookies() {
			if c.Name == "taosync_session" {
				session = c
			}
		}
		if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Secure != secure || session.Path != "/ui/" {
			t.Fatalf("secure %v: session cookie %+v", secure, session)
		}
		resp, page := b.do(http.MethodGet, "/ui/", nil, nil)
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, "<h1>Centres</h1>") {
			t.Fatalf("centres: status %d:\n%s", resp.StatusCode, page)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("Content-Security-Policy %q", csp)
		}
		token = b.csrf("/ui/")
		if resp, _ := b.do(http.MethodPost, "/ui/logout", url.Values{"csrf": {token}}, nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("logout: status %d", resp.StatusCode)
		}
		if resp, _ := b.do(http.MethodGet, "/ui/", nil, nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("after logout: status %d, want 303", resp.StatusCode)
		}
		// The old session cookie, replayed, opens nothing.
		replay := newBrowser(t, f)
		if resp, _ := replay.do(http.MethodGet, "/ui/", nil, http.Header{"Cookie": {session.Name + "=" + session.Value}}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("a replayed session after logout: status %d, want 303", resp.StatusCode)
		}
	}
}

// TestCSRF: a form posted without the CSRF token, or with another
// session's, is refused and changes nothing; a login form without its token
// is refused too.
func TestCSRF(t *testing.T) {
	f := setup(t, false)
	f.Register("ca", "A")
	mallory, alice := newBrowser(t, f), newBrowser(t, f)
	for _, b := range []*browser{mallory, alice} {
		if status := b.login(operator, secret); status != http.StatusSeeOther {
			t.Fatalf("login: status %d", status)
		}
	}
	other := mallory.csrf("/ui/centres/ca/revoke")
	for name, form := range map[string]url.Values{
		"no token":                {"confirm": {"ca"}},
		"another session's token": {"confirm": {"ca"}, "csrf": {other}},
		"empty token":             {"confirm": {"ca"}, "csrf": {""}},
	} {
		if resp, _ := alice.do(http.MethodPost, "/ui/centres/ca/revoke", form, nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", name, resp.StatusCode)
		}
	}
	if _, revoked, _ := f.C.Store.Credential(f.Ctx, "ca"); revoked != "" {
		t.Fatal("a refused form revoked the credential")
	}
	// The login form wants its own token.
	fresh := newBrowser(t, f)
	if resp, _ := fresh.do(http.MethodPost, "/ui/login", url.Values{"name": {operator}, "password": {secret}}, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("login without its token: status %d, want 403", resp.StatusCode)
	}
	// Without typing the id, nothing is revoked; with it, the credential is.
	token := alice.csrf("/ui/centres/ca/revoke")
	if resp, _ := alice.do(http.MethodPost, "/ui/centres/ca/revoke", url.Values{"csrf": {token}, "confirm": {"cb"}}, nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a wrong confirmation: status %d, want 400", resp.StatusCode)
	}
	if _, revoked, _ := f.C.Store.Credential(f.Ctx, "ca"); revoked != "" {
		t.Fatal("a wrong confirmation revoked the credential")
	}
	if resp, _ := alice.do(http.MethodPost, "/ui/centres/ca/revoke", url.Values{"csrf": {token}, "confirm": {"ca"}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("confirmed: status %d, want 303", resp.StatusCode)
	}
	if _, revoked, _ := f.C.Store.Credential(f.Ctx, "ca"); revoked == "" {
		t.Fatal("the confirmed form did not revoke the credential")
	}
}

// TestLoginLimited: ten wrong passwords from an address, and the eleventh
// attempt is refused even with the right one; an unknown operator fails
// like a wrong password.
func TestLoginLimited(t *testing.T) {
	f := setup(t, false)
	b := newBrowser(t, f)
	if status := b.login("nobody", secret); status != http.StatusUnauthorized {
		t.Fatalf("an unknown operator: status %d, want 401", status)
	}
	for i := 2; i <= 10; i++ {
		if status := b.login(operator, "wrong"); status != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: status %d, want 401", i, status)
		}
	}
	if status := b.login(operator, secret); status != http.StatusTooManyRequests {
		t.Fatalf("after ten failures: status %d, want 429", status)
	}
}

// TestLoginLimitedBehindProxy: behind a trusted proxy, failed logins are
// counted by the address X-Forwarded-For names, and the access log names
// it: ten wrong passwords of one desk leave another desk behind the same
// proxy free to log in.
func TestLoginLimitedBehindProxy(t *testing.T) {
	proxies, err := clientaddr.Parse([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	var buf testfixture.LogBuffer
	f, _ := setupOn(t, "sqlite", false, slog.New(slog.NewTextHandler(&buf, nil)), proxies)
	a, b := newBrowser(t, f), newBrowser(t, f)
	a.header = http.Header{"X-Forwarded-For": {"198.51.100.1"}}
	b.header = http.Header{"X-Forwarded-For": {"198.51.100.2"}}
	for i := 1; i <= 10; i++ {
		if status := a.login(operator, "wrong"); status != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: status %d, want 401", i, status)
		}
	}
	if status := a.login(operator, secret); status != http.StatusTooManyRequests {
		t.Errorf("after ten failures: status %d, want 429", status)
	}
	if status := b.login(operator, secret); status != http.StatusSeeOther {
		t.Errorf("another desk behind the proxy: status %d, want 303", status)
	}
	got := buf.String()
	if n := strings.Count(got, "method=POST route=/ui/login client=\"\" addr=198.51.100.1 status=4"); n != 11 {
		t.Errorf("%d login lines of 198.51.100.1 in the access log, want 11:\n%s", n, got)
	}
	if !strings.Contains(got, "method=POST route=/ui/login client=\"\" addr=198.51.100.2 status=303") {
		t.Errorf("no login line of 198.51.100.2 in the access log:\n%s", got)
	}
}

// TestRoadsApart: a client's bearer token does not open the view, and an
// operator's session does not open the client API.
func TestRoadsApart(t *testing.T) {
	f := setup(t, false)
	f.Register("ca", "A")
	token := f.TokenFor("ca")
	b := newBrowser(t, f)
	if resp, _ := b.do(http.MethodGet, "/ui/", nil, http.Header{"Authorization": {"Bearer " + token}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("a bearer token on /ui/: status %d, want 303 to the login", resp.StatusCode)
	}
	if status := b.login(operator, secret); status != http.StatusSeeOther {
		t.Fatalf("login: status %d", status)
	}
	for _, path := range []string{api.Prefix + "/receipts", api.Prefix + "/data/pull"} {
		method := http.MethodGet
		if strings.HasSuffix(path, "pull") {
			method = http.MethodPost
		}
		if resp, _ := b.do(method, path, url.Values{}, nil); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("an operator's session on %s: status %d, want 401", path, resp.StatusCode)
		}
	}
}

// TestHostileNames: centre and delivery names from CSV with markup and
// quotes are shown as text on every page.
func TestHostileNames(t *testing.T) {
	f := setup(t, false)
	loadCSV(t, f, taosync.TestCenter, "id,label,org_id\nevil,\"<script>alert(\"\"c\"\")</script> O'Brien \"\"Hall\"\"\",A\n")
	loadCSV(t, f, taosync.Delivery, "id,label\nd9,\"<img src=x onerror=alert(1)> \"\"Quoted\"\"\"\n")
	f.Register("ca", "A")
	if _, err := f.Syncer("ca").Data(f.Ctx, nil, false); err != nil {
		t.Fatal(err)
	}
	// An error naming a chunk by its hash: no page shows a hash.
	if err := f.C.Store.RecordLastError(f.Ctx, "ca", "chunk "+strings.Repeat("ab", 32)+": chunk hash mismatch", false); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, f)
	if status := b.login(operator, secret); status != http.StatusSeeOther {
		t.Fatalf("login: status %d", status)
	}
	digest := regexp.MustCompile(`[0-9a-fA-F]{64}`)
	for _, path := range []string{"/ui/", "/ui/centres/ca", "/ui/deliveries"} {
		_, page := b.do(http.MethodGet, path, nil, nil)
		for _, bad := range []string{"<script>", "<img"} {
			if strings.Contains(page, bad) {
				t.Errorf("%s holds %s unescaped:\n%s", path, bad, page)
			}
		}
		if h := digest.FindString(page); h != "" {
			t.Errorf("%s shows a hash, %s", path, h)
		}
	}
	_, page := b.do(http.MethodGet, "/ui/", nil, nil)
	if !strings.Contains(page, "&lt;script&gt;alert(&#34;c&#34;)&lt;/script&gt; O&#39;Brien &#34;Hall&#34;") {
		t.Errorf("the centre's name is not shown as text:\n%s", page)
	}
	_, page = b.do(http.MethodGet, "/ui/deliveries", nil, nil)
	if !strings.Contains(page, "&lt;img src=x onerror=alert(1)&gt; &#34;Quoted&#34;") {
		t.Errorf("the delivery's name is not shown as text:\n%s", page)
	}
}

// TestFilter: the counts on top filter the centres by state; an unknown
// state shows them all.
func TestFilter(t *testing.T) {
	f := setup(t, false)
	f.Register("a-seen", "A")
	f.Register("b-never", "B")
	if _, err := f.Syncer("a-seen").Data(f.Ctx, nil, false); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, f)
	if status := b.login(operator, secret); status != http.StatusSeeOther {
		t.Fatalf("login: status %d", status)
	}
	for query, want := range map[string][]string{
		"":                  {"a-seen", "b-never"},
		"?state=never_seen": {"b-never"},
		"?state=not_ready":  {"a-seen"},
		"?state=ready":      {},
		"?state=<b>":        {"a-seen", "b-never"},
	} {
		_, page := b.do(http.MethodGet, "/ui/"+query, nil, nil)
		for _, c := range []string{"a-seen", "b-never"} {
			shown := strings.Contains(page, `data-centre="`+c+`"`)
			if shown != slices.Contains(want, c) {
				t.Errorf("%q: centre %s shown %v", query, c, shown)
			}
		}
	}
}

// TestPasswordResetEndsSessions: an operator removed and added again with
// a new password (the way to reset one) loses the sessions opened with the
// old one; a right password does not count against the address.
func TestPasswordResetEndsSessions(t *testing.T) {
	f := setup(t, false)
	var b *browser
	for range 12 {
		b = newBrowser(t, f)
		if status := b.login(operator, secret); status != http.StatusSeeOther {
			t.Fatalf("login: status %d", status)
		}
	}
	if resp, _ := b.do(http.MethodGet, "/ui/", nil, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("centres: status %d", resp.StatusCode)
	}
	if err := f.C.Store.RemoveOperator(f.Ctx, operator); err != nil {
		t.Fatal(err)
	}
	hash, err := password.Hash("a new password for the operator")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.C.Store.AddOperator(f.Ctx, operator, hash); err != nil {
		t.Fatal(err)
	}
	if resp, _ := b.do(http.MethodGet, "/ui/", nil, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the old password's session after a reset: status %d, want 303 to the login", resp.StatusCode)
	}
}

// TestViewAccessLog: the view's requests are in the access log, by route,
// and no password or session is.
func TestViewAccessLog(t *testing.T) {
	var buf testfixture.LogBuffer
	f := setupLogged(t, false, slog.New(slog.NewTextHandler(&buf, nil)))
	b := newBrowser(t, f)
	if status := b.login(operator, secret); status != http.StatusSeeOther {
		t.Fatalf("login: status %d", status)
	}
	got := buf.String()
	if !strings.Contains(got, "method=POST route=/ui/login") || !strings.Contains(got, "status=303") {
		t.Errorf("the access log has no line of the login:\n%s", got)
	}
	if strings.Contains(got, secret) || strings.Contains(got, "taosync_session") {
		t.Errorf("the access log shows a password or a session:\n%s", got)
	}
}
