package testfixture

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/internal/api"
	"github.com/taosync/taosync/internal/central"
	"github.com/taosync/taosync/internal/client"
	"github.com/taosync/taosync/internal/home"
	"github.com/taosync/taosync/internal/load"
	"github.com/taosync/taosync/internal/pgtest"
	"github.com/taosync/taosync/internal/server"
	"github.com/taosync/taosync/internal/store"
)

// Fixture is a central home with master data of two organisations (see
// ScopeA and ScopeB), its server, once started, on loopback, and the
// clients registered on it.
type Fixture struct {
	T   *testing.T
	Ctx context.Context
	Log *slog.Logger
	C   *central.Central
	S   *server.Server
	// URL is the root URL of the server, once started.
	URL string
	// Clients and Secrets are the registered clients and their secrets,
	// by client id.
	Clients map[string]*client.Client
	Secrets map[string]string

	srv *httptest.Server
}

// New returns a fixture whose central home, on SQLite, holds the master
// data of two organisations; its server is not started yet. Everything is
// closed when the test ends.
func New(t *testing.T) *Fixture { return NewOn(t, "sqlite") }

// OnEngines runs test once on each database engine of central
// (pgtest.Engines), as a subtest named for it.
func OnEngines(t *testing.T, test func(t *testing.T, engine string)) {
	for _, engine := range pgtest.Engines {
		t.Run(engine, func(t *testing.T) { test(t, engine) })
	}
}

// NewOn is New with central's database on engine: "sqlite", or "postgres"
// (a fresh database on the test binary's throwaway cluster, pgtest).
func NewOn(t *testing.T, engine string) *Fixture {
	t.Helper()
	return NewAt(t, pgtest.Where(t, engine))
}

// NewAt is New with central's database at where (home.InitAt): a
// PostgreSQL URL, or "" for the home's SQLite file.
func NewAt(t *testing.T, where string) *Fixture {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(tlogWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	dir := filepath.Join(t.TempDir(), "central")
	h, err := home.InitAt(ctx, dir, home.RoleCentral, where)
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	c, err := central.Open(ctx, dir, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	f := &Fixture{T: t, Ctx: ctx, Log: log, C: c, S: server.New(c, log),
		Clients: map[string]*client.Client{}, Secrets: map[string]string{}}
	f.twoOrgs()
	return f
}

type tlogWriter struct{ t *testing.T }

func (w tlogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// Start serves the API on loopback, through wrap if not nil.
func (f *Fixture) Start(wrap func(http.Handler) http.Handler) {
	f.T.Helper()
	h := f.S.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	f.srv = httptest.NewServer(h)
	f.T.Cleanup(f.srv.Close)
	f.URL = f.srv.URL
}

// load loads CSV text as the entities of type typ.
func (f *Fixture) load(typ taosync.Type, csv string) {
	f.T.Helper()
	r, err := load.NewReader(strings.NewReader(csv), string(typ)+".csv", load.CSV, typ)
	if err != nil {
		f.T.Fatal(err)
	}
	if _, err := f.C.Store.Load(f.Ctx, string(typ)+".csv", typ, r, false); err != nil {
		f.T.Fatal(err)
	}
}

// twoOrgs loads master data of two organisations (as exporter's tests do):
// t3 is eligible in both; adm-ab administers a centre of each.
func (f *Fixture) twoOrgs() {
	f.load(taosync.TestCenter, "id,label,org_id\na1,Lycée A1,A\na2,Lycée A2,A\nb1,Schule B1,B\n")
	f.load(taosync.Administrator, "id,login,test_centers\nadm-a,a,a1\nadm-ab,ab,a2|b1\nadm-b,b,b1\n")
	f.load(taosync.Proctor, "id,login,test_centers\np-a,pa,a1\np-b,pb,b1\n")
	f.load(taosync.TestTaker, "id,login,first_name\nt1,t1,Zoë\nt2,t2,Jürgen\nt3,t3,Łukasz\nt4,t4,Ayşe\nt5,t5,Ωmega\n")
	f.load(taosync.Delivery, "id,label\nd1,Maths\nd2,Physics\nd3,Unused\n")
	f.load(taosync.Eligibility, "id,test_center,delivery,test_takers\ne-a1,a1,d1,t1|t2\ne-a2,a2,d2,t3\ne-b1,b1,d1,t3|t4\n")
}

// ScopeA and ScopeB are what a client of org A or B must hold.
var (
	ScopeA = map[taosync.Type][]string{
		taosync.TestCenter: {"a1", "a2"}, taosync.Administrator: {"adm-a", "adm-ab"}, taosync.Proctor: {"p-a"},
		taosync.TestTaker: {"t1", "t2", "t3"}, taosync.Delivery: {"d1", "d2"}, taosync.Eligibility: {"e-a1", "e-a2"},
	}
	ScopeB = map[taosync.Type][]string{
		taosync.TestCenter: {"b1"}, taosync.Administrator: {"adm-ab", "adm-b"}, taosync.Proctor: {"p-b"},
		taosync.TestTaker: {"t3", "t4"}, taosync.Delivery: {"d1"}, taosync.Eligibility: {"e-b1"},
	}
)

// Register creates a client home, registers it on central under org with a
// new secret and gives it its credentials for the fixture's server, as
// `central client add` and `credentials import` do: the server's URL, so
// call it after Start.
func (f *Fixture) Register(id, org string) *client.Client {
	f.T.Helper()
	dir := filepath.Join(f.T.TempDir(), id)
	h, err := home.Init(f.Ctx, dir, home.RoleClient)
	if err != nil {
		f.T.Fatal(err)
	}
	h.Close()
	cl, err := client.Open(f.Ctx, dir, f.Log)
	if err != nil {
		f.T.Fatal(err)
	}
	f.T.Cleanup(func() { cl.Close() })
	keys, err := cl.Home.PublicKeys()
	if err != nil {
		f.T.Fatal(err)
	}
	secret, err := f.C.AddClient(f.Ctx, id, org, keys)
	if err != nil {
		f.T.Fatal(err)
	}
	own, err := f.C.Home.PublicKeys()
	if err != nil {
		f.T.Fatal(err)
	}
	err = cl.ImportCredentials(f.Ctx, store.Credentials{ClientID: id, Secret: secret, TokenURL: f.URL + api.TokenPath, RootURL: f.URL}, own)
	if err != nil {
		f.T.Fatal(err)
	}
	f.Clients[id] = cl
	f.Secrets[id] = secret
	return cl
}

// Syncer returns the client's HTTP syncer.
func (f *Fixture) Syncer(id string) *client.Syncer {
	f.T.Helper()
	s, err := f.Clients[id].NewSyncer(f.Ctx, false)
	if err != nil {
		f.T.Fatal(err)
	}
	return s
}

// TokenFor obtains an access token with a client's secret, by Basic.
func (f *Fixture) TokenFor(id string) string {
	f.T.Helper()
	st, _, body := f.PostToken(url.Values{"grant_type": {"client_credentials"}}.Encode(),
		"application/x-www-form-urlencoded", id, f.Secrets[id])
	if st != http.StatusOK {
		f.T.Fatalf("token for %s: %d %v", id, st, body)
	}
	return body["access_token"].(string)
}

// PostToken posts body to the token endpoint, with Basic credentials
// (form-urlencoded first) unless id is empty, and decodes the JSON answer.
func (f *Fixture) PostToken(body, contentType, id, secret string) (int, http.Header, map[string]any) {
	f.T.Helper()
	req := f.request(http.MethodPost, api.TokenPath, strings.NewReader(body), contentType)
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	return f.Do(req)
}

// Do sends a request and decodes a JSON answer (nil if it is not JSON).
func (f *Fixture) Do(req *http.Request) (int, http.Header, map[string]any) {
	f.T.Helper()
	resp, b := f.send(req)
	var m map[string]any
	json.Unmarshal(b, &m)
	return resp.StatusCode, resp.Header, m
}

// API sends an API request with a bearer token and returns the status and
// the raw answer.
func (f *Fixture) API(method, path, token string, body io.Reader, contentType string) (int, []byte) {
	f.T.Helper()
	req := f.request(method, path, body, contentType)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, b := f.send(req)
	return resp.StatusCode, b
}

// request makes a request to the server for path, with a Content-Type
// unless contentType is empty.
func (f *Fixture) request(method, path string, body io.Reader, contentType string) *http.Request {
	f.T.Helper()
	req, err := http.NewRequestWithContext(f.Ctx, method, f.URL+path, body)
	if err != nil {
		f.T.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return req
}

// send sends a request and reads the whole answer.
func (f *Fixture) send(req *http.Request) (*http.Response, []byte) {
	f.T.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.T.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.T.Fatal(err)
	}
	return resp, b
}

// Pull asks for the client's data bundle with its token, as a client that
// holds nothing, and returns the reference.
func (f *Fixture) Pull(token string) api.BundleRef {
	f.T.Helper()
	st, b := f.API(http.MethodPost, api.Prefix+"/data/pull", token, strings.NewReader(`{"data_seq":0,"data_bundle":""}`), "application/json")
	if st != http.StatusOK {
		f.T.Fatalf("pull: %d %s", st, b)
	}
	var ref api.BundleRef
	if err := json.Unmarshal(b, &ref); err != nil {
		f.T.Fatal(err)
	}
	return ref
}

// Upload puts every file of the bundle in dir under the name bundle with
// token, and returns the statuses.
func (f *Fixture) Upload(token, bundle, dir string) []int {
	f.T.Helper()
	var sts []int
	for _, name := range BundleFiles(f.T, dir) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			f.T.Fatal(err)
		}
		st, body := f.API(http.MethodPut, api.Prefix+"/results/"+bundle+"/"+name, token, strings.NewReader(string(b)), "application/octet-stream")
		if st >= 300 {
			f.T.Logf("upload %s/%s: %d %s", bundle, name, st, body)
		}
		sts = append(sts, st)
	}
	return sts
}

// Commit commits an uploaded bundle and decodes the answer on success.
func (f *Fixture) Commit(token, bundle string) (int, api.CommitResponse, []byte) {
	f.T.Helper()
	st, b := f.API(http.MethodPost, api.Prefix+"/results/"+bundle+"/commit", token, nil, "")
	var resp api.CommitResponse
	if st == http.StatusOK {
		if err := json.Unmarshal(b, &resp); err != nil {
			f.T.Fatal(err)
		}
	}
	return st, resp, b
}

// ExecutionsOf counts the execution revisions central received, by client.
func (f *Fixture) ExecutionsOf() map[string]int {
	f.T.Helper()
	xs, err := f.C.Store.Executions(f.Ctx)
	if err != nil {
		f.T.Fatal(err)
	}
	out := map[string]int{}
	for _, x := range xs {
		out[x.Client]++
	}
	return out
}

// CheckStatus checks central's view of a client: bundles received,
// executions received, and no gap in its result stream.
func (f *Fixture) CheckStatus(id string, bundles, received int64) {
	f.T.Helper()
	status, err := f.C.Store.Status(f.Ctx)
	if err != nil {
		f.T.Fatal(err)
	}
	for _, s := range status {
		if s.ID != id {
			continue
		}
		if s.Bundles != bundles || s.Received != received || len(s.Gaps) != 0 || s.Conflicts != 0 {
			f.T.Errorf("%s: %d bundles, %d received, %d conflicts, gaps %v; want %d, %d, 0, none",
				id, s.Bundles, s.Received, s.Conflicts, s.Gaps, bundles, received)
		}
		return
	}
	f.T.Errorf("no status for %s", id)
}
