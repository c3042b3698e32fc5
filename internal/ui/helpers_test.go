package ui_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/internal/clientaddr"
	"github.com/taosync/taosync/internal/load"
	"github.com/taosync/taosync/internal/password"
	"github.com/taosync/taosync/internal/server"
	"github.com/taosync/taosync/internal/testfixture"
	"github.com/taosync/taosync/internal/ui"
)

// Operator accounts of the tests.
const (
	operator = "desk"
	secret   = "correct horse battery staple"
)

// setup starts central's server with the operator view mounted as serve
// mounts it, and adds an operator.
func setup(t *testing.T, secure bool) *testfixture.Fixture {
	return setupLogged(t, secure, nil)
}

// setupLogged is setup with the view's requests logged on log, if not nil,
// as serve's access log does.
func setupLogged(t *testing.T, secure bool, log *slog.Logger) *testfixture.Fixture {
	t.Helper()
	f, _ := setupOn(t, "sqlite", secure, log, nil)
	return f
}

// setupOn is setupLogged with central's database on engine, behind the
// trusted proxies given, and also returns the view.
func setupOn(t *testing.T, engine string, secure bool, log *slog.Logger, proxies clientaddr.Proxies) (*testfixture.Fixture, *ui.UI) {
	t.Helper()
	f := testfixture.NewOn(t, engine)
	u := ui.New(f.C, server.NewLimiter(f.C.Store, "operator", nil), secure, f.Log)
	view := u.Handler()
	if log != nil {
		view = server.LogRequests(view, log)
	}
	f.Start(func(h http.Handler) http.Handler { return proxies.Wrap(ui.Mount(h, view)) })
	hash, err := password.Hash(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.C.Store.AddOperator(f.Ctx, operator, hash); err != nil {
		t.Fatal(err)
	}
	return f, u
}

// loadCSV loads CSV text as central's entities of type typ.
func loadCSV(t *testing.T, f *testfixture.Fixture, typ taosync.Type, csv string) {
	t.Helper()
	r, err := load.NewReader(strings.NewReader(csv), string(typ)+".csv", load.CSV, typ)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.C.Store.Load(f.Ctx, string(typ)+".csv", typ, r, false); err != nil {
		t.Fatal(err)
	}
}

// browser is an HTTP client with its own cookies that does not follow
// redirects.
type browser struct {
	t    *testing.T
	f    *testfixture.Fixture
	http *http.Client
	// header is sent with every request, as a proxy adds it.
	header http.Header
}

func newBrowser(t *testing.T, f *testfixture.Fixture) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, f: f, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

func (b *browser) do(method, path string, form url.Values, header http.Header) (*http.Response, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(b.f.Ctx, method, b.f.URL+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, h := range []http.Header{b.header, header} {
		for k, v := range h {
			req.Header[k] = v
		}
	}
	resp, err := b.http.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, string(out)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the CSRF token of the form on the page at path.
func (b *browser) csrf(path string) string {
	b.t.Helper()
	_, page := b.do(http.MethodGet, path, nil, nil)
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		b.t.Fatalf("no CSRF token on %s:\n%s", path, page)
	}
	return m[1]
}

// login logs in and returns the status of the answer to the form.
func (b *browser) login(name, pw string) int {
	b.t.Helper()
	token := b.csrf("/ui/login")
	resp, _ := b.do(http.MethodPost, "/ui/login", url.Values{"csrf": {token}, "name": {name}, "password": {pw}}, nil)
	return resp.StatusCode
}
