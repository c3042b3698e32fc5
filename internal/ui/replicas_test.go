package ui_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/taosync/taosync/internal/central"
	"github.com/taosync/taosync/internal/pgtest"
	"github.com/taosync/taosync/internal/server"
	"github.com/taosync/taosync/internal/ui"
)

// TestSessionAcrossReplicas: an operator's session and the secret a
// rotation shows once live in central's database: logged in at one
// replica, rotated there, the secret is shown once at the other, and a
// logout at the other ends the session at the first.
func TestSessionAcrossReplicas(t *testing.T) {
	for _, engine := range pgtest.Engines {
		t.Run(engine, func(t *testing.T) {
			f, _ := setupOn(t, engine, false, nil, nil)
			f.Register("ca", "A")
			cb, err := central.Open(f.Ctx, f.C.Home.Dir, f.Log)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cb.Close() })
			view := ui.New(cb, server.NewLimiter(cb.Store, "operator", nil), false, f.Log).Handler()
			b := httptest.NewServer(ui.Mount(server.New(cb, f.Log).Handler(), view))
			t.Cleanup(b.Close)
			a := f.URL
			alice := newBrowser(t, f)
			if status := alice.login(operator, secret); status != http.StatusSeeOther {
				t.Fatalf("login at A: status %d", status)
			}
			token := alice.csrf("/ui/centres/ca/rotate")
			if resp, _ := alice.do(http.MethodPost, "/ui/centres/ca/rotate", url.Values{"confirm": {"ca"}, "csrf": {token}}, nil); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("rotate at A: status %d", resp.StatusCode)
			}

			f.URL = b.URL
			resp, page := alice.do(http.MethodGet, "/ui/centres/ca/rotated", nil, nil)
			if resp.StatusCode != http.StatusOK || !secretShown.MatchString(page) {
				t.Fatalf("the rotated page at B: status %d, no secret", resp.StatusCode)
			}
			if resp, _ := alice.do(http.MethodGet, "/ui/centres/ca/rotated", nil, nil); resp.StatusCode != http.StatusGone {
				t.Errorf("the rotated page again at B: status %d, want 410", resp.StatusCode)
			}
			u, _ := url.Parse(b.URL + "/ui/")
			var cookie string
			for _, c := range alice.http.Jar.Cookies(u) {
				if c.Name == "taosync_session" {
					cookie = c.Value
				}
			}
			f.URL = a
			if resp, _ := newBrowser(t, f).do(http.MethodGet, "/ui/", nil, http.Header{"Cookie": {"taosync_session=" + cookie}}); resp.StatusCode != http.StatusOK {
				t.Fatalf("the session's cookie at A: status %d, want 200", resp.StatusCode)
			}
			f.URL = b.URL
			if resp, _ := alice.do(http.MethodPost, "/ui/logout", url.Values{"csrf": {alice.csrf("/ui/")}}, nil); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("logout at B: status %d", resp.StatusCode)
			}

			f.URL = a
			if resp, _ := newBrowser(t, f).do(http.MethodGet, "/ui/", nil, http.Header{"Cookie": {"taosync_session=" + cookie}}); resp.StatusCode != http.StatusSeeOther {
				t.Errorf("A after a logout at B: status %d, want 303 to the login", resp.StatusCode)
			}
		})
	}
}
