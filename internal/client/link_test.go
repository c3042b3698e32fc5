package client_test

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/taosync/taosync/importer"
	"github.com/taosync/taosync/internal/api"
	"github.com/taosync/taosync/internal/client"
	"github.com/taosync/taosync/internal/config"
	"github.com/taosync/taosync/internal/testfixture"
	"github.com/taosync/taosync/internal/testlink"
)

// thinLink puts a testlink between central (started with wrap) and the
// clients registered next.
func thinLink(t *testing.T, f *testfixture.Fixture, wrap func(http.Handler) http.Handler) *testlink.Line {
	t.Helper()
	f.Start(wrap)
	l, err := testlink.Start(strings.TrimPrefix(f.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	f.URL = "http://" + l.Addr()
	return l
}

// settings sets a client's settings, key then value.
func settings(t *testing.T, f *testfixture.Fixture, cl *client.Client, kv ...string) {
	t.Helper()
	for i := 0; i < len(kv); i += 2 {
		if _, err := config.Set(f.Ctx, cl.Home.DB, kv[i], kv[i+1]); err != nil {
			t.Fatal(err)
		}
	}
}

// retries records the waits a syncer announces.
type retries struct {
	mu   sync.Mutex
	list []client.Retry
}

func (r *retries) add(x client.Retry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, x)
}

func (r *retries) matching(target error, text string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, x := range r.list {
		if (target == nil || errors.Is(x.Err, target)) && strings.Contains(x.Err.Error(), text) {
			n++
		}
	}
	return n
}

// syncData pulls and applies the client's data over the link, and checks
// that it holds org A's scope.
func syncData(t *testing.T, f *testfixture.Fixture, id string, r *retries) {
	t.Helper()
	s := f.Syncer(id)
	s.Retrying = r.add
	lines, err := s.Data(f.Ctx, nil, false)
	if err != nil || len(lines) != 1 || lines[0].Outcome != importer.Applied {
		t.Fatalf("sync: %v %+v (retries %+v)", err, lines, r.list)
	}
	if got := testfixture.ToStrings(testfixture.Entities(t, f.Clients[id])); !reflect.DeepEqual(got, testfixture.ToStrings(testfixture.ScopeA)) {
		t.Errorf("holds %v", got)
	}
}

// TestBlackHoleOutlasted: the line loses every packet for 3 s when a sync
// starts (connections are accepted, nothing comes back); with a stall
// timeout of 1 s, the sync notices, tries again at once (the stall was its
// wait), and ends in the same run once the line is back.
func TestBlackHoleOutlasted(t *testing.T) {
	t.Parallel()
	f := testfixture.New(t)
	l := thinLink(t, f, nil)
	cl := f.Register("ca", "A")
	settings(t, f, cl, "sync.stallTimeout", "1s", "sync.connectTimeout", "1s")
	l.BlackHole()
	back := time.AfterFunc(3*time.Second, func() { l.Up() })
	defer back.Stop()
	var r retries
	syncData(t, f, "ca", &r)
	if len(r.list) == 0 {
		t.Fatal("no retry announced")
	}
	// The attempt stalled for 1 s, longer than the 0.5 s wait after a
	// first attempt: it is tried again at once (after 0.1 s).
	if first := r.list[0]; first.Attempt != 1 || first.Of != client.Attempts(5*time.Minute) || first.Wait != 100*time.Millisecond {
		t.Errorf("first retry %+v, want attempt 1 of %d, tried again after 0.1 s", first, client.Attempts(5*time.Minute))
	}
}

// TestLinkDownThenUp: central cannot be reached (connection refused) for
// 2 s: the sync waits it out; with sync.retryWait 1 s it gives up after
// its 2 attempts instead, and says so.
func TestLinkDownThenUp(t *testing.T) {
	t.Parallel()
	f := testfixture.New(t)
	l := thinLink(t, f, nil)
	f.Register("ca", "A")
	short := f.Register("short", "A")
	settings(t, f, short, "sync.retryWait", "1s")

	l.Down()
	s := f.Syncer("short")
	var r retries
	s.Retrying = r.add
	_, err := s.Data(f.Ctx, nil, false)
	var gave *client.GaveUpError
	if !errors.As(err, &gave) || gave.Attempts != 2 || strings.Count(err.Error(), "POST") != 1 ||
		!strings.Contains(err.Error(), "connection refused") || !strings.HasSuffix(err.Error(), "(after 2 attempts)") {
		t.Errorf("sync with the line down: %q, want it to give up after 2 attempts, naming the step once", err)
	}
	if len(r.list) != 1 || r.list[0].Of != 2 {
		t.Errorf("retries announced %+v, want 1 of 2", r.list)
	}

	back := time.AfterFunc(2*time.Second, func() { l.Up() })
	defer back.Stop()
	r = retries{}
	syncData(t, f, "ca", &r)
	if r.matching(nil, "connection refused") == 0 {
		t.Errorf("retries %+v, want a refused connection among them", r.list)
	}
}

// stallOnce is a handler wrapper that, on the first bundle file of at
// least 100 bytes, sends half of it, waits until the client wrote that
// half to its part file, then stalls every connection of the link (a box
// whose address changed) and sends the rest into the void.
type stallOnce struct {
	h    http.Handler
	link *testlink.Line
	dir  string // the client's incoming folder

	mu    sync.Mutex
	path  string
	half  int
	after []string // Range of the requests for path after the stall
}

func (s *stallOnce) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, api.Prefix+"/bundles/") {
		s.h.ServeHTTP(w, r)
		return
	}
	s.mu.Lock()
	if s.path != "" {
		if r.URL.Path == s.path {
			s.after = append(s.after, r.Header.Get("Range"))
		}
		s.mu.Unlock()
		s.h.ServeHTTP(w, r)
		return
	}
	rec := &bodyRecorder{header: http.Header{}}
	s.h.ServeHTTP(rec, r)
	if rec.code != http.StatusOK || len(rec.body) < 100 {
		s.mu.Unlock()
		copyResponse(w, rec)
		return
	}
	s.path, s.half = r.URL.Path, len(rec.body)/2
	s.mu.Unlock()
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.code)
	w.Write(rec.body[:s.half])
	http.NewResponseController(w).Flush()
	part := filepath.Join(s.dir, "*", "."+filepath.Base(r.URL.Path)+".part")
	for range 1000 {
		if m, _ := filepath.Glob(part); len(m) == 1 {
			if st, err := os.Stat(m[0]); err == nil && st.Size() == int64(s.half) {
				break
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.link.Stall()
	w.Write(rec.body[s.half:])
}

type bodyRecorder struct {
	header http.Header
	code   int
	body   []byte
}

func (b *bodyRecorder) Header() http.Header { return b.header }
func (b *bodyRecorder) WriteHeader(code int) {
	if b.code == 0 {
		b.code = code
	}
}
func (b *bodyRecorder) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	b.body = append(b.body, p...)
	return len(p), nil
}

func copyResponse(w http.ResponseWriter, rec *bodyRecorder) {
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.code)
	w.Write(rec.body)
}

// TestStallMidDownload: the line goes silent in the middle of a file (its
// connections stay open, nothing moves). The sync drops the transfer after
// the stall timeout (1 s here, not the minutes of TCP keepalive), connects
// again and asks for the rest of the file only, in the same run.
func TestStallMidDownload(t *testing.T) {
	t.Parallel()
	f := testfixture.New(t)
	st := &stallOnce{}
	st.link = thinLink(t, f, func(h http.Handler) http.Handler { st.h = h; return st })
	cl := f.Register("ca", "A")
	st.dir = cl.Home.Path(client.IncomingDir)
	settings(t, f, cl, "sync.stallTimeout", "1s")
	var r retries
	syncData(t, f, "ca", &r)
	if st.path == "" {
		t.Fatal("no file was large enough to stall")
	}
	if want := fmt.Sprintf("bytes=%d-", st.half); len(st.after) != 1 || st.after[0] != want {
		t.Errorf("after the stall %s was asked for with Range %q, want once %q", st.path, st.after, want)
	}
	if r.matching(client.ErrStalled, "no byte moved for 1s") == 0 {
		t.Errorf("retries %+v, want one for the stall", r.list)
	}
}

// gate is a handler wrapper that records how many bundle file downloads
// run at once; each waits (a bounded while) for another to start, so that
// downloads fetched one after another show as such.
type gate struct {
	h http.Handler

	mu      sync.Mutex
	cond    *sync.Cond
	running int
	peak    int
	// dir is the client's incoming folder; early is set when a manifest is
	// in place there while a file of its bundle is still asked for.
	dir   string
	early bool
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, api.Prefix+"/bundles/") {
		g.h.ServeHTTP(w, r)
		return
	}
	if strings.HasSuffix(r.URL.Path, "/manifest.json") {
		g.h.ServeHTTP(w, r)
		return
	}
	g.mu.Lock()
	if m, _ := filepath.Glob(filepath.Join(g.dir, "*", "manifest.json")); len(m) > 0 {
		g.early = true
	}
	g.running++
	g.peak = max(g.peak, g.running)
	g.cond.Broadcast()
	deadline := time.AfterFunc(5*time.Second, func() { g.mu.Lock(); g.cond.Broadcast(); g.mu.Unlock() })
	began := time.Now()
	for g.peak < 2 && time.Since(began) < 5*time.Second {
		g.cond.Wait()
	}
	deadline.Stop()
	g.mu.Unlock()
	g.h.ServeHTTP(w, r)
	g.mu.Lock()
	g.running--
	g.mu.Unlock()
}

// TestParallelDownloads: the files of a bundle are fetched sync.parallel
// at a time, and the manifest is put in place only once all the others
// are whole.
func TestParallelDownloads(t *testing.T) {
	t.Parallel()
	f := testfixture.New(t)
	g := &gate{}
	g.cond = sync.NewCond(&g.mu)
	f.Start(func(h http.Handler) http.Handler { g.h = h; return g })
	cl := f.Register("ca", "A")
	settings(t, f, cl, "sync.parallel", "2")
	g.dir = cl.Home.Path(client.IncomingDir)
	ref := f.Pull(f.TokenFor("ca"))
	if len(ref.Files) < 4 {
		t.Fatalf("a bundle of %d files cannot show parallel downloads", len(ref.Files))
	}
	var r retries
	syncData(t, f, "ca", &r)
	if g.peak != 2 {
		t.Errorf("%d downloads at once at most, want sync.parallel = 2", g.peak)
	}
	if g.early {
		t.Error("the manifest was in place before the other files were whole")
	}
}

// stallUpload is a handler wrapper that, on the first upload of a result
// bundle file, reads a part of it, then stalls every connection of the
// link and waits for the client to try again; it counts token requests.
type stallUpload struct {
	h     http.Handler
	link  *testlink.Line
	again chan struct{}

	mu      sync.Mutex
	stalled bool
	tokens  int
}

func (s *stallUpload) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if r.URL.Path == api.TokenPath {
		s.tokens++
	}
	put := r.Method == http.MethodPut
	first := put && !s.stalled
	again := s.again
	if put && s.stalled && s.again != nil {
		close(s.again)
		s.again = nil
	}
	s.stalled = s.stalled || first
	s.mu.Unlock()
	if !first {
		s.h.ServeHTTP(w, r)
		return
	}
	r.Body.Read(make([]byte, 10))
	s.link.Stall()
	select {
	case <-again:
	case <-time.After(10 * time.Second):
	}
}

// TestStallMidUpload: the line goes silent while a result bundle goes up;
// the upload is dropped after the stall timeout, not after the minutes
// an answer's headers may take, and sent again in the same run. One token
// serves the whole run.
func TestStallMidUpload(t *testing.T) {
	t.Parallel()
	f := testfixture.New(t)
	st := &stallUpload{again: make(chan struct{})}
	st.link = thinLink(t, f, func(h http.Handler) http.Handler { st.h = h; return st })
	cl := f.Register("ca", "A")
	settings(t, f, cl, "sync.stallTimeout", "1s")
	s := f.Syncer("ca")
	var r retries
	s.Retrying = r.add
	if _, err := s.Data(f.Ctx, nil, false); err != nil {
		t.Fatal(err)
	}
	testfixture.AddResults(t, cl, "x", 2)
	lines, err := s.Results(f.Ctx)
	if err != nil || len(lines) != 1 || lines[0].Outcome != importer.Applied {
		t.Fatalf("results: %v %+v", err, lines)
	}
	if !st.stalled || st.link.Stalls() == 0 {
		t.Fatal("no upload was stalled")
	}
	if r.matching(client.ErrStalled, "no byte moved for 1s") != 1 || !strings.HasPrefix(r.list[0].What, "upload results-") {
		t.Errorf("retries %+v, want one of an upload, for the stall", r.list)
	}
	if st.tokens != 1 {
		t.Errorf("%d token requests in one run, want 1", st.tokens)
	}
	f.CheckStatus("ca", 1, 2)
}

// slowPull is a handler wrapper that answers a pull after a delay, as
// central does while it prepares the bundles of the clients before.
type slowPull struct {
	h     http.Handler
	delay time.Duration
}

func (s *slowPull) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && r.URL.Path == api.Prefix+"/data/pull" {
		time.Sleep(s.delay)
	}
	s.h.ServeHTTP(w, r)
}

// TestPullWaitsForCentral: a pull whose answer takes longer than the
// stall timeout, but less than sync.pullWait, is waited for, not dropped;
// past sync.pullWait it is dropped and tried again.
func TestPullWaitsForCentral(t *testing.T) {
	t.Parallel()
	f := testfixture.New(t)
	f.Start(func(h http.Handler) http.Handler { return &slowPull{h: h, delay: 1500 * time.Millisecond} })
	cl := f.Register("ca", "A")
	settings(t, f, cl, "sync.stallTimeout", "500ms", "sync.pullWait", "5s")
	var r retries
	syncData(t, f, "ca", &r)
	if len(r.list) != 0 {
		t.Errorf("a pull central prepared within sync.pullWait was retried: %+v", r.list)
	}

	hasty := f.Register("hasty", "A")
	settings(t, f, hasty, "sync.stallTimeout", "500ms", "sync.pullWait", "1s", "sync.retryWait", "1s")
	s := f.Syncer("hasty")
	s.Retrying = r.add
	_, err := s.Data(f.Ctx, nil, false)
	var gave *client.GaveUpError
	if !errors.As(err, &gave) || !errors.Is(err, client.ErrStalled) || !strings.Contains(err.Error(), "POST /data/pull: no byte moved for 1s") {
		t.Errorf("a pull past sync.pullWait: %v", err)
	}
}
