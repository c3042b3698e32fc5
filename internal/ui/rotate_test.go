package ui_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/taosync/taosync/internal/password"
)

var secretShown = regexp.MustCompile(`<code id="secret">([^<]+)</code>`)

// TestRotate: rotating a centre's secret on its page wants the session's
// CSRF token and the centre's id typed; it then shows the new secret once,
// to that session only, on a page no cache keeps. The new secret is the
// one central holds; the old one is refused.
func TestRotate(t *testing.T) {
	f := setup(t, false)
	f.Register("ca", "A")
	f.Register("cb", "A")
	old := f.Secrets["ca"]
	before, _, err := f.C.Store.Credential(f.Ctx, "ca")
	if err != nil {
		t.Fatal(err)
	}
	alice, bob := newBrowser(t, f), newBrowser(t, f)
	for _, b := range []*browser{alice, bob} {
		if status := b.login(operator, secret); status != http.StatusSeeOther {
			t.Fatalf("login: status %d", status)
		}
	}
	token := alice.csrf("/ui/centres/ca/rotate")
	for name, tc := range map[string]struct {
		form   url.Values
		status int
	}{
		"no token":                {url.Values{"confirm": {"ca"}}, http.StatusForbidden},
		"another session's token": {url.Values{"confirm": {"ca"}, "csrf": {bob.csrf("/ui/centres/ca/rotate")}}, http.StatusForbidden},
		"a wrong confirmation":    {url.Values{"confirm": {"cb"}, "csrf": {token}}, http.StatusBadRequest},
		"no confirmation":         {url.Values{"csrf": {token}}, http.StatusBadRequest},
	} {
		if resp, _ := alice.do(http.MethodPost, "/ui/centres/ca/rotate", tc.form, nil); resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", name, resp.StatusCode, tc.status)
		}
		if hash, _, _ := f.C.Store.Credential(f.Ctx, "ca"); hash != before {
			t.Fatalf("%s: the secret changed", name)
		}
	}

	resp, _ := alice.do(http.MethodPost, "/ui/centres/ca/rotate", url.Values{"confirm": {"ca"}, "csrf": {token}}, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/centres/ca/rotated" {
		t.Fatalf("confirmed: %d to %q, want 303 to /ui/centres/ca/rotated", resp.StatusCode, resp.Header.Get("Location"))
	}
	// Another session sees no secret.
	if resp, page := bob.do(http.MethodGet, "/ui/centres/ca/rotated", nil, nil); resp.StatusCode != http.StatusGone || secretShown.MatchString(page) {
		t.Errorf("another session's page after the rotation: status %d, want 410 and no secret", resp.StatusCode)
	}
	// Another centre's page neither shows the secret nor loses it.
	if resp, page := alice.do(http.MethodGet, "/ui/centres/cb/rotated", nil, nil); resp.StatusCode != http.StatusGone || secretShown.MatchString(page) {
		t.Errorf("another centre's rotated page: status %d, want 410 and no secret", resp.StatusCode)
	}
	resp, page := alice.do(http.MethodGet, "/ui/centres/ca/rotated", nil, nil)
	m := secretShown.FindStringSubmatch(page)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("the rotated page: status %d, no secret:\n%s", resp.StatusCode, page)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("the page with the secret has Cache-Control %q, want no-store", cc)
	}
	if strings.Contains(page, before) {
		t.Errorf("the page shows the old secret's hash")
	}
	if hash, _, _ := f.C.Store.Credential(f.Ctx, "ca"); hash != password.HashSecret(m[1]) {
		t.Fatalf("the secret shown is not the one central holds")
	}
	// Shown once: a reload shows it no more.
	if resp, page := alice.do(http.MethodGet, "/ui/centres/ca/rotated", nil, nil); resp.StatusCode != http.StatusGone || secretShown.MatchString(page) {
		t.Errorf("the rotated page again: status %d, want 410 and no secret", resp.StatusCode)
	}
	grant := url.Values{"grant_type": {"client_credentials"}}.Encode()
	if st, _, _ := f.PostToken(grant, "application/x-www-form-urlencoded", "ca", old); st != http.StatusUnauthorized {
		t.Errorf("a token for the old secret: status %d, want 401", st)
	}
	if st, _, body := f.PostToken(grant, "application/x-www-form-urlencoded", "ca", m[1]); st != http.StatusOK {
		t.Errorf("a token for the new secret: status %d %v, want 200", st, body)
	}
}
