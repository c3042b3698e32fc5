package client_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/internal/central"
	"github.com/taosync/taosync/internal/client"
	"github.com/taosync/taosync/internal/home"
	"github.com/taosync/taosync/internal/load"
	"github.com/taosync/taosync/internal/server"
	"github.com/taosync/taosync/internal/store"
	"github.com/taosync/taosync/manifest"
)

// fixture (the same as internal/server's) is a central home with master data of two organisations, its
// server on loopback, and registered clients with their own homes, set up
// the way `central client add` and `credentials import` do it.
type fixture struct {
	t       *testing.T
	ctx     context.Context
	log     *slog.Logger
	c       *central.Central
	s       *server.Server
	srv     *httptest.Server
	url     string
	clients map[string]*client.Client
	secrets map[string]string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(tlogWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	dir := filepath.Join(t.TempDir(), "central")
	h, err := home.Init(ctx, dir, home.Central)
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	c, err := central.Open(ctx, dir, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	f := &fixture{t: t, ctx: ctx, log: log, c: c, s: server.New(c, log),
		clients: map[string]*client.Client{}, secrets: map[string]string{}}
	f.twoOrgs()
	return f
}

type tlogWriter struct{ t *testing.T }

func (w tlogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// start serves the API on loopback, through wrap if not nil.
func (f *fixture) start(wrap func(http.Handler) http.Handler) {
	f.t.Helper()
	h := f.s.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	f.srv = httptest.NewServer(h)
	f.t.Cleanup(f.srv.Close)
	f.url = f.srv.URL
}

// load loads CSV text as the entities of type typ.
func (f *fixture) load(typ taosync.Type, csv string) {
	f.t.Helper()
	r, err := load.NewReader(strings.NewReader(csv), string(typ)+".csv", load.CSV, typ)
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.c.Store.Load(f.ctx, string(typ)+".csv", typ, r, false); err != nil {
		f.t.Fatal(err)
	}
}

// twoOrgs loads master data of two organisations (as exporter's tests do):
// t3 is eligible in both; adm-ab administers a centre of each.
func (f *fixture) twoOrgs() {
	f.load(taosync.TestCenter, "id,label,org_id\na1,Lycée A1,A\na2,Lycée A2,A\nb1,Schule B1,B\n")
	f.load(taosync.Administrator, "id,login,test_centers\nadm-a,a,a1\nadm-ab,ab,a2|b1\nadm-b,b,b1\n")
	f.load(taosync.Proctor, "id,login,test_centers\np-a,pa,a1\np-b,pb,b1\n")
	f.load(taosync.TestTaker, "id,login,first_name\nt1,t1,Zoë\nt2,t2,Jürgen\nt3,t3,Łukasz\nt4,t4,Ayşe\nt5,t5,Ωmega\n")
	f.load(taosync.Delivery, "id,label\nd1,Maths\nd2,Physics\nd3,Unused\n")
	f.load(taosync.Eligibility, "id,test_center,delivery,test_takers\ne-a1,a1,d1,t1|t2\ne-a2,a2,d2,t3\ne-b1,b1,d1,t3|t4\n")
}

// scopeA and scopeB are what a client of org A or B must hold.
var (
	scopeA = map[taosync.Type][]string{
		taosync.TestCenter: {"a1", "a2"}, taosync.Administrator: {"adm-a", "adm-ab"}, taosync.Proctor: {"p-a"},
		taosync.TestTaker: {"t1", "t2", "t3"}, taosync.Delivery: {"d1", "d2"}, taosync.Eligibility: {"e-a1", "e-a2"},
	}
	scopeB = map[taosync.Type][]string{
		taosync.TestCenter: {"b1"}, taosync.Administrator: {"adm-ab", "adm-b"}, taosync.Proctor: {"p-b"},
		taosync.TestTaker: {"t3", "t4"}, taosync.Delivery: {"d1"}, taosync.Eligibility: {"e-b1"},
	}
)

// register creates a client home, registers it on central under org with a
// new secret (as runClientAdd does) and gives it its credentials for the
// fixture's server (as runCredentialsImport does).
func (f *fixture) register(id, org string) *client.Client {
	f.t.Helper()
	secret := server.NewSecret()
	dir := filepath.Join(f.t.TempDir(), id)
	h, err := home.Init(f.ctx, dir, home.Client)
	if err != nil {
		f.t.Fatal(err)
	}
	keys, err := h.PublicKeys()
	if err != nil {
		f.t.Fatal(err)
	}
	err = f.c.Store.AddClient(f.ctx, store.Client{ID: id, Org: org, AgeRecipient: keys.Age, SignKey: keys.Sign.String(),
		KeyID: keys.Sign.IDString()}, server.HashSecret(secret))
	if err != nil {
		f.t.Fatal(err)
	}
	own, err := f.c.Home.PublicKeys()
	if err != nil {
		f.t.Fatal(err)
	}
	err = h.DB.Tx(f.ctx, func(tx *sql.Tx) error {
		for k, v := range map[string]string{
			"client_id": id, "oauth_secret": secret, "token_url": f.url + server.TokenPath, "root_url": f.url,
		} {
			if err := store.SetMeta(f.ctx, tx, k, v); err != nil {
				return err
			}
		}
		return store.Trust(f.ctx, tx, store.TrustedKey{KeyID: own.Sign.IDString(), Party: "central",
			SignKey: own.Sign.String(), AgeRecipient: own.Age})
	})
	if err != nil {
		f.t.Fatal(err)
	}
	h.Close()
	cl, err := client.Open(f.ctx, dir, f.log)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { cl.Close() })
	f.clients[id] = cl
	f.secrets[id] = secret
	return cl
}

// syncer returns the client's HTTP syncer.
func (f *fixture) syncer(id string) *client.Syncer {
	f.t.Helper()
	s, err := f.clients[id].NewSyncer(f.ctx, false)
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

// tokenFor obtains an access token with a client's secret, by Basic.
func (f *fixture) tokenFor(id string) string {
	f.t.Helper()
	st, _, body := f.postToken(url.Values{"grant_type": {"client_credentials"}}.Encode(),
		"application/x-www-form-urlencoded", id, f.secrets[id])
	if st != http.StatusOK {
		f.t.Fatalf("token for %s: %d %v", id, st, body)
	}
	return body["access_token"].(string)
}

// postToken posts body to the token endpoint, with Basic credentials
// (form-urlencoded first) unless id is empty, and decodes the JSON answer.
func (f *fixture) postToken(body, contentType, id, secret string) (int, http.Header, map[string]any) {
	f.t.Helper()
	req, err := http.NewRequestWithContext(f.ctx, http.MethodPost, f.url+server.TokenPath, strings.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	return f.do(req)
}

// do sends a request and decodes a JSON answer (nil if it is not JSON).
func (f *fixture) do(req *http.Request) (int, http.Header, map[string]any) {
	f.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	return resp.StatusCode, resp.Header, m
}

// api sends an API request with a bearer token and returns the status and
// the raw answer.
func (f *fixture) api(method, path, token string, body io.Reader, contentType string) (int, []byte) {
	f.t.Helper()
	req, err := http.NewRequestWithContext(f.ctx, method, f.url+path, body)
	if err != nil {
		f.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return resp.StatusCode, b
}

// pull asks for the client's data bundle with its token, as a client that
// holds nothing, and returns the reference.
func (f *fixture) pull(token string) server.BundleRef {
	f.t.Helper()
	st, b := f.api(http.MethodPost, server.APIPrefix+"/data/pull", token, strings.NewReader(`{"data_seq":0,"data_bundle":""}`), "application/json")
	if st != http.StatusOK {
		f.t.Fatalf("pull: %d %s", st, b)
	}
	var ref server.BundleRef
	if err := json.Unmarshal(b, &ref); err != nil {
		f.t.Fatal(err)
	}
	return ref
}

// entities lists the ids a client home holds, by type.
func entities(t *testing.T, cl *client.Client) map[taosync.Type][]string {
	t.Helper()
	rows, err := cl.Home.DB.QueryContext(context.Background(), "SELECT type, id FROM entities WHERE deleted = 0 ORDER BY type, id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[taosync.Type][]string{}
	for rows.Next() {
		var typ, id string
		if err := rows.Scan(&typ, &id); err != nil {
			t.Fatal(err)
		}
		out[taosync.Type(typ)] = append(out[taosync.Type(typ)], id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, ids := range out {
		sort.Strings(ids)
	}
	return out
}

// toStrings turns ids by type into ids by type name, for comparisons.
func toStrings(m map[taosync.Type][]string) map[string][]string {
	out := map[string][]string{}
	for t, ids := range m {
		out[string(t)] = ids
	}
	return out
}

// smallXML is a minimal valid result document.
const smallXML = `<assessmentResult xmlns="http://www.imsglobal.org/xsd/imsqti_result_v2p2"><context/><testResult identifier="d1" datestamp="2025-06-12T10:00:00Z"/></assessmentResult>`

// executions is an ExecutionSource over a slice.
type executions []taosync.Execution

func (e *executions) Next() (taosync.Execution, int, error) {
	if len(*e) == 0 {
		return taosync.Execution{}, 0, io.EOF
	}
	x := (*e)[0]
	*e = (*e)[1:]
	return x, 1, nil
}

// addResults hands n finished executions to a client of org A (which holds
// a1, d1 and t1), with ids prefix-1...
func addResults(t *testing.T, cl *client.Client, prefix string, n int) {
	t.Helper()
	addResultsAt(t, cl, prefix, n, "a1", "d1", "t1")
}

// addResultsAt hands n finished executions at a test centre to a client.
func addResultsAt(t *testing.T, cl *client.Client, prefix string, n int, center, delivery, taker string) {
	t.Helper()
	var xs executions
	for i := 1; i <= n; i++ {
		xs = append(xs, execution(fmt.Sprintf("%s-%d", prefix, i), center, delivery, taker))
	}
	if _, err := cl.Local.AddExecutions(context.Background(), "test.jsonl", &xs); err != nil {
		t.Fatal(err)
	}
}

// execution is a finished execution with a valid result document.
func execution(id, center, delivery, taker string) taosync.Execution {
	return taosync.Execution{ID: id, Delivery: delivery, TestTaker: taker, TestCenter: center,
		Status: "finished", StartedAt: "2025-06-12T09:30:00Z", FinishedAt: "2025-06-12T10:14:52Z", ResultXML: smallXML}
}

// exportResults writes a result bundle of the client's queued executions
// into a new folder and returns the bundle's folder.
func exportResults(t *testing.T, cl *client.Client) string {
	t.Helper()
	out := t.TempDir()
	res, _, err := cl.ExportResults(context.Background(), out, false, "folder")
	if err != nil {
		t.Fatal(err)
	}
	return res.Dir
}

// bundleFiles lists a bundle's files in upload order: chunks, signature,
// manifest.
func bundleFiles(t *testing.T, dir string) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, manifest.FileName))
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, s := range m.Sections {
		for _, c := range s.Chunks {
			files = append(files, c.Hash)
		}
	}
	return append(files, manifest.SigName, manifest.FileName)
}

// upload puts every file of the bundle in dir under the name bundle with
// token, and returns the statuses.
func (f *fixture) upload(token, bundle, dir string) []int {
	f.t.Helper()
	var sts []int
	for _, name := range bundleFiles(f.t, dir) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			f.t.Fatal(err)
		}
		st, body := f.api(http.MethodPut, server.APIPrefix+"/results/"+bundle+"/"+name, token, strings.NewReader(string(b)), "application/octet-stream")
		if st >= 300 {
			f.t.Logf("upload %s/%s: %d %s", bundle, name, st, body)
		}
		sts = append(sts, st)
	}
	return sts
}

// commit commits an uploaded bundle and decodes the answer on success.
func (f *fixture) commit(token, bundle string) (int, server.CommitResponse, []byte) {
	f.t.Helper()
	st, b := f.api(http.MethodPost, server.APIPrefix+"/results/"+bundle+"/commit", token, nil, "")
	var resp server.CommitResponse
	if st == http.StatusOK {
		if err := json.Unmarshal(b, &resp); err != nil {
			f.t.Fatal(err)
		}
	}
	return st, resp, b
}

// executionsOf counts the execution revisions central received, by client.
func (f *fixture) executionsOf() map[string]int {
	f.t.Helper()
	xs, err := f.c.Store.Executions(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	out := map[string]int{}
	for _, x := range xs {
		out[x.Client]++
	}
	return out
}

// checkStatus checks central's view of a client: bundles received, executions
// received, and no gap in its result stream.
func (f *fixture) checkStatus(id string, bundles, received int64) {
	f.t.Helper()
	status, err := f.c.Store.Status(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, s := range status {
		if s.ID != id {
			continue
		}
		if s.Bundles != bundles || s.Received != received || len(s.Gaps) != 0 || s.Conflicts != 0 {
			f.t.Errorf("%s: %d bundles, %d received, %d conflicts, gaps %v; want %d, %d, 0, none",
				id, s.Bundles, s.Received, s.Conflicts, s.Gaps, bundles, received)
		}
		return
	}
	f.t.Errorf("no status for %s", id)
}
