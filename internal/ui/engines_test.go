package ui_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/taosync/taosync/internal/pgtest"
	"github.com/taosync/taosync/internal/testfixture"
)

// TestMain stops the PostgreSQL cluster the tests on central's engines
// started.
func TestMain(m *testing.M) { pgtest.Main(m) }

// TestPagesOnEngines: every page of the view shows the same on both of
// central's engines: a centre that pulled and reported, the deliveries,
// and a revocation from the page.
func TestPagesOnEngines(t *testing.T) { testfixture.OnEngines(t, testPagesOnEngines) }

func testPagesOnEngines(t *testing.T, engine string) {
	f, _ := setupOn(t, engine, false, nil, nil)
	f.Register("ca", "A")
	if _, err := f.Syncer("ca").Data(f.Ctx, nil, false); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, f)
	if st := b.login(operator, secret); st != http.StatusSeeOther {
		t.Fatalf("login: %d", st)
	}
	for _, p := range []struct{ path, want string }{
		{"/ui/", "ca"},
		{"/ui/centres/ca", "Lycée A1"},
		{"/ui/deliveries", "Maths"},
		{"/ui/centres/ca/revoke", "ca"},
	} {
		resp, page := b.do(http.MethodGet, p.path, nil, nil)
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, p.want) {
			t.Errorf("%s: %d, want 200 naming %q:\n%s", p.path, resp.StatusCode, p.want, page)
		}
	}
	token := b.csrf("/ui/centres/ca/revoke")
	if resp, _ := b.do(http.MethodPost, "/ui/centres/ca/revoke", url.Values{"csrf": {token}, "confirm": {"ca"}}, nil); resp.StatusCode >= 400 {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if _, revoked, err := f.C.Store.Credential(f.Ctx, "ca"); err != nil || revoked == "" {
		t.Errorf("after the revocation from the page: revoked %q, %v", revoked, err)
	}
}
