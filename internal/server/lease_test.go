package server_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/taosync/taosync/internal/api"
	"github.com/taosync/taosync/internal/central"
	"github.com/taosync/taosync/internal/s3test"
	"github.com/taosync/taosync/internal/store"
	"github.com/taosync/taosync/internal/testfixture"
	"github.com/taosync/taosync/manifest"
)

// slowStore is an object store (versitygw) behind a proxy that holds the
// requests a test names until it lets them go or their sender gives up: an
// object store slow to answer, during which the test acts.
type slowStore struct {
	// url is the --blobs setting of the store behind the proxy, direct
	// the store's own, which holds no request back.
	url, direct string
	held        chan string
	mu          sync.Mutex
	// match names the requests held, until open is closed.
	match func(*http.Request) bool
	open  chan struct{}
}

func newSlowStore(t *testing.T) *slowStore {
	s3 := s3test.ForTest(t)
	target, err := url.Parse(s3.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) { w.WriteHeader(http.StatusBadGateway) }
	g := &slowStore{held: make(chan string, 64)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		match, open := g.match, g.open
		g.mu.Unlock()
		if match != nil && match(r) {
			// Read whole, so that the request's context ends when
			// its sender gives up, and a request given up is not
			// sent on.
			body, err := io.ReadAll(r.Body)
			if err != nil {
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			g.held <- r.Method + " " + r.URL.Path + "?" + r.URL.RawQuery
			select {
			case <-open:
			case <-r.Context().Done():
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(g.release)
	g.url, g.direct = strings.Replace(s3.URL(), s3.Endpoint, srv.URL, 1), s3.URL()
	return g
}

// hold holds the requests match names from now on.
func (g *slowStore) hold(match func(*http.Request) bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.match, g.open = match, make(chan struct{})
}

// release lets the requests held go on, and holds no more.
func (g *slowStore) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.open != nil {
		close(g.open)
	}
	g.match, g.open = nil, nil
}

// waitHeld waits for a request to be held, for at most a minute.
func (g *slowStore) waitHeld(t *testing.T) {
	t.Helper()
	select {
	case req := <-g.held:
		t.Logf("held: %s", req)
	case <-time.After(time.Minute):
		t.Fatal("no request to the object store held")
	}
}

// writes names the writes of objects under prefix.
func writes(prefix string) func(*http.Request) bool {
	return func(r *http.Request) bool {
		return r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/"+s3test.Bucket+"/"+prefix)
	}
}

// lists names the listings of objects under prefix.
func lists(prefix string) func(*http.Request) bool {
	return func(r *http.Request) bool {
		return r.Method == http.MethodGet && r.URL.Query().Has("list-type") && strings.HasPrefix(r.URL.Query().Get("prefix"), prefix)
	}
}

// steal makes another holder take the lease name, as another replica does
// once it expired unrenewed.
func steal(t *testing.T, f *testfixture.Fixture, name string) {
	t.Helper()
	r, err := f.C.Store.DB.ExecContext(f.Ctx, "UPDATE leases SET holder = 'another replica' WHERE name = ?", name)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := r.RowsAffected(); n != 1 || err != nil {
		t.Fatalf("steal lease %s: %d rows (%v)", name, n, err)
	}
}

// answer is a request's answer, awaited for at most a minute.
func answer[T any](t *testing.T, c chan T) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(time.Minute):
		t.Fatal("no answer")
	}
	panic("unreachable")
}

// TestLeaseLostStopsItsWork: a request whose lease another replica takes
// while it works stops, and is answered 503 with Retry-After: a pull whose
// bundle is being written to the object store, a commit whose receipt
// bundle is. Nothing is left half done: no bundle of the client's spool is
// whole but those the next tries prepare, the results are stored once;
// the client's next tries complete.
func TestLeaseLostStopsItsWork(t *testing.T) { testfixture.OnEngines(t, testLeaseLost) }

func testLeaseLost(t *testing.T, engine string) {
	f := testfixture.NewOn(t, engine)
	ctx := f.Ctx
	g := newSlowStore(t)
	if err := f.C.UseBlobs(ctx, g.url); err != nil {
		t.Fatal(err)
	}
	f.S.LeaseTTL = 300 * time.Millisecond
	f.Start(nil)
	cl := f.Register("ca", "A")
	tok := f.TokenFor("ca")
	whole := func() []string {
		t.Helper()
		objects, err := f.C.Blobs.Objects(ctx, "spool/ca/")
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, o := range objects {
			if strings.HasSuffix(o.Key, "/"+manifest.FileName) {
				out = append(out, o.Key)
			}
		}
		return out
	}
	type reply struct {
		status int
		header http.Header
		body   []byte
	}
	stopped := func(what string, r reply) {
		t.Helper()
		if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
			t.Fatalf("%s whose lease was lost: %d %s (Retry-After %q), want 503 with Retry-After", what, r.status, r.body, r.header.Get("Retry-After"))
		}
	}

	g.hold(writes("spool/ca/data-"))
	replies := make(chan reply, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, f.URL+api.Prefix+api.PullPath, strings.NewReader(`{"data_seq":0,"data_bundle":""}`))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			replies <- reply{}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		replies <- reply{resp.StatusCode, resp.Header, b}
	}()
	g.waitHeld(t)
	steal(t, f, "pull/ca")
	stopped("a pull", answer(t, replies))
	g.release()
	if w := whole(); len(w) != 0 {
		t.Fatalf("whole bundles in the spool after a pull stopped: %v", w)
	}
	if lines, err := f.Syncer("ca").Data(ctx, nil, false); err != nil || len(lines) != 1 || lines[0].Outcome != "applied" {
		t.Fatalf("the client's next pull: %v %+v", err, lines)
	}

	testfixture.AddResults(t, cl, "x", 3)
	up := testfixture.ExportResults(t, cl)
	stream, sig, man := testfixture.Stream(t, up)
	before := whole()
	g.hold(writes("spool/ca/receipts-"))
	go func() {
		st, h, b := f.PutStream(tok, filepath.Base(up), 0, stream, sig, man, true)
		replies <- reply{st, h, b}
	}()
	g.waitHeld(t)
	steal(t, f, "bundle/ca/"+filepath.Base(up))
	stopped("a commit", answer(t, replies))
	g.release()
	if n := f.ExecutionsOf()["ca"]; n != 0 && n != 3 {
		t.Fatalf("central holds %d executions of ca after a commit stopped, want none or all 3", n)
	}
	if w := whole(); len(w) != len(before) {
		t.Fatalf("whole bundles in the spool after a commit stopped: %v, before it %v", w, before)
	}
	if _, err := f.Syncer("ca").Results(ctx); err != nil {
		t.Fatalf("the client's next upload: %v", err)
	}
	if _, err := f.Syncer("ca").Receipts(ctx); err != nil {
		t.Fatalf("receipts: %v", err)
	}
	if n := f.ExecutionsOf()["ca"]; n != 3 {
		t.Fatalf("central holds %d executions of ca, want 3", n)
	}
	f.CheckStatus("ca", 1, 3)
}

// TestGCLease: a sweep holds its lease, renewed, for as long as it runs,
// many times the lease's length (an object store slow to list): nobody
// else takes it meanwhile, and the sweep completes. A sweep whose lease
// another takes stops, says so, and removes nothing more.
func TestGCLease(t *testing.T) { testfixture.OnEngines(t, testGCLease) }

func testGCLease(t *testing.T, engine string) {
	f := testfixture.NewOn(t, engine)
	ctx := f.Ctx
	g := newSlowStore(t)
	if err := f.C.UseBlobs(ctx, g.url); err != nil {
		t.Fatal(err)
	}
	const ttl = 500 * time.Millisecond
	// Everything in the blobs is older than the age, counted from then.
	o := central.GCOptions{Age: time.Hour, Holder: "test", Now: time.Now().Add(2 * time.Hour), LeaseTTL: ttl}
	type result struct {
		rep central.GCReport
		err error
	}
	sweep := func() chan result {
		c := make(chan result, 1)
		go func() {
			rep, err := f.C.GC(ctx, o)
			c <- result{rep, err}
		}()
		return c
	}
	leftover := func(name string) string {
		t.Helper()
		key := "spool/ca/." + name + ".partial"
		if err := f.C.Blobs.Put(ctx, key+"/x", []byte("x")); err != nil {
			t.Fatal(err)
		}
		return key
	}

	first := leftover("data-ca-000009-00000000")
	g.hold(lists("spool/"))
	done := sweep()
	g.waitHeld(t)
	for range 6 {
		time.Sleep(ttl / 2)
		if ok, err := f.C.Store.TakeLease(ctx, central.GCLease, "another replica", 0, time.Minute); ok || err != nil {
			t.Fatalf("the lease of a sweep running taken by another: %v %v", ok, err)
		}
	}
	g.release()
	r := answer(t, done)
	if r.err != nil || len(r.rep.Removed) != 1 || r.rep.Removed[0] != first {
		t.Fatalf("a long sweep: %+v %v, want %s removed", r.rep, r.err, first)
	}

	second := leftover("data-ca-000010-00000000")
	g.hold(lists("spool/"))
	done = sweep()
	g.waitHeld(t)
	steal(t, f, central.GCLease)
	r = answer(t, done)
	if !errors.Is(r.err, store.ErrLeaseLost) || len(r.rep.Removed) != 0 {
		t.Fatalf("a sweep whose lease was taken: %+v %v, want it stopped", r.rep, r.err)
	}
	g.release()
	if ok, err := f.C.Blobs.Exists(ctx, second+"/x"); !ok || err != nil {
		t.Fatalf("a sweep stopped removed %s: %v", second, err)
	}
	if l, err := f.C.Store.GetLease(ctx, central.GCLease); l.Holder != "another replica" || err != nil {
		t.Fatalf("the lease after the sweep stopped: %+v %v, want the other's", l, err)
	}
}
