package client_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/taosync/taosync/importer"
	"github.com/taosync/taosync/internal/api"
	"github.com/taosync/taosync/internal/client"
	"github.com/taosync/taosync/internal/config"
	"github.com/taosync/taosync/internal/server"
	"github.com/taosync/taosync/internal/testfixture"
)

// cutter is a handler wrapper that cuts the connection in the middle of the
// first bundle file download of at least minSize bytes: it writes the
// headers and half of the body, then closes the connection. It records the
// requests for that file that follow.
type cutter struct {
	h       http.Handler
	minSize int64
	onCut   func()
	// stop, if set, is called on the first request after the cut, which
	// then waits for the client to give up: a sync stopped (a process
	// killed) after it got half a file.
	stop context.CancelFunc

	mu    sync.Mutex
	path  string // the file cut
	at    int64  // after so many bytes
	after []http.Header
	codes []int
}

func (c *cutter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, api.Prefix+"/bundles/") {
		c.h.ServeHTTP(w, r)
		return
	}
	c.mu.Lock()
	cut := c.path == ""
	stop := false
	if !cut && r.URL.Path == c.path {
		c.after = append(c.after, r.Header.Clone())
		stop = c.stop != nil && len(c.after) == 1
	}
	c.mu.Unlock()
	if stop {
		c.stop()
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
		return
	}
	if !cut {
		rec := &statusRecorder{ResponseWriter: w}
		c.h.ServeHTTP(rec, r)
		c.mu.Lock()
		if r.URL.Path == c.path {
			c.codes = append(c.codes, rec.code)
		}
		c.mu.Unlock()
		return
	}
	cw := &cutWriter{ResponseWriter: w, c: c, path: r.URL.Path}
	c.h.ServeHTTP(cw, r)
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(p []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(p)
}

// cutWriter passes a response through until half its body, then cuts the
// connection (the first time a file is large enough).
type cutWriter struct {
	http.ResponseWriter
	c       *cutter
	path    string
	limit   int64 // -1: not cutting this one
	written int64
	wrote   bool
	dead    bool
}

func (w *cutWriter) WriteHeader(code int) {
	w.wrote = true
	n, _ := strconv.ParseInt(w.Header().Get("Content-Length"), 10, 64)
	w.limit = -1
	if code == http.StatusOK && n >= w.c.minSize {
		w.c.mu.Lock()
		if w.c.path == "" {
			w.c.path, w.c.at = w.path, n/2
			w.limit = n / 2
		}
		w.c.mu.Unlock()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *cutWriter) Write(p []byte) (int, error) {
	if w.dead {
		return 0, errors.New("cut")
	}
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.limit < 0 || w.written+int64(len(p)) < w.limit {
		n, err := w.ResponseWriter.Write(p)
		w.written += int64(n)
		return n, err
	}
	n, err := w.ResponseWriter.Write(p[:w.limit-w.written])
	w.written += int64(n)
	if err != nil {
		return n, err
	}
	w.dead = true
	// Hijack drops what the response buffers: flush the half first.
	rc := http.NewResponseController(w.ResponseWriter)
	if err := rc.Flush(); err != nil {
		return n, err
	}
	conn, buf, err := rc.Hijack()
	if err != nil {
		return n, err
	}
	buf.Flush()
	conn.Close()
	if w.c.onCut != nil {
		w.c.onCut()
	}
	return n, errors.New("connection cut on purpose")
}

// holdings is what a client home holds: every entity with its data.
func holdings(t *testing.T, cl *client.Client) map[string]string {
	t.Helper()
	rows, err := cl.Home.DB.QueryContext(context.Background(), "SELECT type, id, data FROM entities WHERE deleted = 0")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var typ, id, data string
		if err := rows.Scan(&typ, &id, &data); err != nil {
			t.Fatal(err)
		}
		out[typ+"/"+id] = data
	}
	return out
}

// TestResumeAfterCut: the connection is cut in the middle of a bundle file;
// the client retries with a Range from where it stopped, and ends with what
// a client that was not cut holds.
func TestResumeAfterCut(t *testing.T) {
	f := testfixture.New(t)
	c := &cutter{minSize: 100}
	f.Start(func(h http.Handler) http.Handler { c.h = h; return c })
	cut := f.Register("cut", "A")
	whole := f.Register("whole", "A")

	lines, err := f.Syncer("cut").Data(f.Ctx, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if c.path == "" {
		t.Fatal("no file was large enough to cut")
	}
	if len(c.after) != 1 {
		t.Fatalf("%d requests after the cut of %s, want 1", len(c.after), c.path)
	}
	if got, want := c.after[0].Get("Range"), fmt.Sprintf("bytes=%d-", c.at); got != want {
		t.Errorf("resumed with Range %q, want %q", got, want)
	}
	if c.after[0].Get("If-Range") == "" {
		t.Error("resumed without If-Range")
	}
	if len(c.codes) != 1 || c.codes[0] != http.StatusPartialContent {
		t.Errorf("resumed request answered %v, want 206", c.codes)
	}
	wlines, err := f.Syncer("whole").Data(f.Ctx, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 1 || len(wlines) != 1 || lines[0].Outcome != importer.Applied ||
		!reflect.DeepEqual(lines[0].Counts, wlines[0].Counts) || lines[0].Seq != wlines[0].Seq {
		t.Errorf("import after the cut %+v\nuninterrupted %+v", lines, wlines)
	}
	if got, want := holdings(t, cut), holdings(t, whole); !reflect.DeepEqual(got, want) || len(got) == 0 {
		t.Errorf("after the cut the client holds %d entities, the other %d: %v\nvs %v", len(got), len(want), got, want)
	}
	if left, _ := os.ReadDir(cut.Home.Path(client.IncomingDir)); len(left) != 0 {
		t.Errorf("left in incoming: %v", left)
	}
}

// TestResumeNextSync: a sync stopped in the middle of a file (here: its
// context cancelled as the connection is cut) leaves the part it got; the
// next sync gets the same bundle from central and asks for the rest only.
func TestResumeNextSync(t *testing.T) {
	f := testfixture.New(t)
	ctx, cancel := context.WithCancel(f.Ctx)
	c := &cutter{minSize: 100, stop: cancel}
	f.Start(func(h http.Handler) http.Handler { c.h = h; return c })
	cut := f.Register("cut", "A")
	whole := f.Register("whole", "A")
	if _, err := f.Syncer("cut").Data(ctx, nil, false); !errors.Is(err, context.Canceled) {
		t.Fatalf("first sync: %v, want it cancelled", err)
	}
	// The cut file's part (beside it, the parts of files fetched at the
	// same time may stay too).
	parts, _ := filepath.Glob(filepath.Join(cut.Home.Path(client.IncomingDir), "data-*", "."+filepath.Base(c.path)+".part"))
	if len(parts) != 1 {
		t.Fatalf("parts left: %v", parts)
	}
	if st, err := os.Stat(parts[0]); err != nil || st.Size() != c.at {
		t.Fatalf("part %v of %d bytes, want %d", err, st.Size(), c.at)
	}
	lines, err := f.Syncer("cut").Data(f.Ctx, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.after) != 2 || c.after[1].Get("Range") != fmt.Sprintf("bytes=%d-", c.at) {
		t.Errorf("after the cut: %d requests of %s, Range %v", len(c.after), c.path, c.after)
	}
	if len(lines) != 1 || lines[0].Outcome != importer.Applied || lines[0].Seq != 1 {
		t.Errorf("second sync: %+v", lines)
	}
	if _, err := f.Syncer("whole").Data(f.Ctx, nil, false); err != nil {
		t.Fatal(err)
	}
	if got, want := holdings(t, cut), holdings(t, whole); !reflect.DeepEqual(got, want) {
		t.Errorf("holdings differ:\n%v\n%v", got, want)
	}
}

// faults is a handler wrapper that answers the requests matching a
// pattern with a status for the first n of them, then passes them on; it
// counts the requests that match.
type faults struct {
	h          http.Handler
	method     string
	prefix     string
	status     int
	n          int
	retryAfter string

	mu    sync.Mutex
	path  string // the first path that matched: only it is counted
	calls int
	at    []time.Time
}

func (f *faults) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != f.method || !strings.HasPrefix(r.URL.Path, f.prefix) {
		f.h.ServeHTTP(w, r)
		return
	}
	f.mu.Lock()
	if f.path == "" {
		f.path = r.URL.Path
	}
	if r.URL.Path != f.path {
		f.mu.Unlock()
		f.h.ServeHTTP(w, r)
		return
	}
	f.calls++
	f.at = append(f.at, time.Now())
	fail := f.calls <= f.n
	f.mu.Unlock()
	if fail {
		if f.retryAfter != "" {
			w.Header().Set("Retry-After", f.retryAfter)
		}
		http.Error(w, `{"error":"injected"}`, f.status)
		return
	}
	f.h.ServeHTTP(w, r)
}

// TestRetries: transient answers (503, 429 with Retry-After) are retried
// and the sync succeeds; a 404 (or another 4xx) is not retried; a 500 is
// retried as many times as sync.retryWait (here 4 s) allows, no more, and
// the error says how many. (Parallel: it mostly waits.)
func TestRetries(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		fault      *faults
		wantCalls  int
		wantErr    int // the StatusError expected, 0 for success
		minElapsed time.Duration
	}{
		{"503 twice on pull", &faults{method: "POST", prefix: api.Prefix + "/data/pull", status: 503, n: 2}, 3, 0, 1100 * time.Millisecond},
		{"503 twice on a download", &faults{method: "GET", prefix: api.Prefix + "/bundles/", status: 503, n: 2}, 3, 0, 1100 * time.Millisecond},
		{"429 with Retry-After on pull", &faults{method: "POST", prefix: api.Prefix + "/data/pull", status: 429, n: 1, retryAfter: "1"}, 2, 0, time.Second},
		{"404 on a download", &faults{method: "GET", prefix: api.Prefix + "/bundles/", status: 404, n: 100}, 1, 404, 0},
		{"400 on pull", &faults{method: "POST", prefix: api.Prefix + "/data/pull", status: 400, n: 100}, 1, 400, 0},
		{"403 on pull", &faults{method: "POST", prefix: api.Prefix + "/data/pull", status: 403, n: 100}, 1, 403, 0},
		{"500 always on pull: bounded", &faults{method: "POST", prefix: api.Prefix + "/data/pull", status: 500, n: 100}, 4, 500, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := testfixture.New(t)
			fl := tc.fault
			f.Start(func(h http.Handler) http.Handler { fl.h = h; return fl })
			a := f.Register("ca", "A")
			if _, err := config.Set(f.Ctx, a.Home.DB, "sync.retryWait", "4s"); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			lines, err := f.Syncer("ca").Data(f.Ctx, nil, false)
			elapsed := time.Since(start)
			if tc.wantErr == 0 {
				if err != nil || len(lines) != 1 || lines[0].Outcome != importer.Applied {
					t.Fatalf("sync: %v %+v", err, lines)
				}
			} else {
				var se *client.StatusError
				if !errors.As(err, &se) || se.Status != tc.wantErr {
					t.Fatalf("sync: %v, want a %d", err, tc.wantErr)
				}
				var gave *client.GaveUpError
				if tc.wantCalls > 1 && (!errors.As(err, &gave) || !strings.HasSuffix(err.Error(), fmt.Sprintf("(after %d attempts)", tc.wantCalls))) {
					t.Errorf("sync: %q, want it to say it gave up after %d attempts", err, tc.wantCalls)
				}
			}
			if fl.calls != tc.wantCalls {
				t.Errorf("%d calls of %s, want %d", fl.calls, fl.path, tc.wantCalls)
			}
			if elapsed < tc.minElapsed {
				t.Errorf("took %v, want at least %v of backoff", elapsed, tc.minElapsed)
			}
			if tc.fault.retryAfter != "" && len(fl.at) == 2 {
				if d := fl.at[1].Sub(fl.at[0]); d < time.Second || d > 5*time.Second {
					t.Errorf("retried after %v, want about the 1 s of Retry-After", d)
				}
			}
		})
	}
}

// TestTokenRefusedNotRetried: wrong credentials fail at once, with the
// token endpoint's error, and are not retried.
func TestTokenRefusedNotRetried(t *testing.T) {
	f := testfixture.New(t)
	fl := faults{method: "POST", prefix: api.TokenPath, status: 0}
	f.Start(func(h http.Handler) http.Handler { fl.h = h; return &fl })
	a := f.Register("ca", "A")
	if _, err := a.Home.DB.ExecContext(f.Ctx, "UPDATE meta SET value = 'wrong' WHERE key = 'oauth_secret'"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := f.Syncer("ca").Data(f.Ctx, nil, false)
	if err == nil || !strings.Contains(err.Error(), "invalid_client") || strings.Contains(err.Error(), "\n") {
		t.Errorf("sync with a wrong secret: %q", err)
	}
	if fl.calls != 1 || time.Since(start) > 2*time.Second {
		t.Errorf("%d token requests in %v, want 1 at once", fl.calls, time.Since(start))
	}
}

// loseCommit is a handler wrapper that lets the first commit happen on
// central, then cuts the connection before the answer reaches the client.
type loseCommit struct {
	h       http.Handler
	mu      sync.Mutex
	commits []int // statuses central answered
}

func (l *loseCommit) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPut || r.URL.Query().Get("commit") != "true" {
		l.h.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	l.h.ServeHTTP(rec, r)
	l.mu.Lock()
	l.commits = append(l.commits, rec.Code)
	first := len(l.commits) == 1
	l.mu.Unlock()
	if first {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

// TestCommitAnswerLost: central commits a result bundle but the answer is
// lost; the client asks central, which answers with the same receipts,
// does not upload again, and the sync succeeds.
func TestCommitAnswerLost(t *testing.T) {
	f := testfixture.New(t)
	l := &loseCommit{}
	f.Start(func(h http.Handler) http.Handler { l.h = h; return l })
	a := f.Register("ca", "A")
	s := f.Syncer("ca")
	if _, err := s.Data(f.Ctx, nil, false); err != nil {
		t.Fatal(err)
	}
	testfixture.AddResults(t, a, "x", 2)
	lines, err := s.Results(f.Ctx)
	if got := f.ExecutionsOf(); got["ca"] != 2 {
		t.Fatalf("central holds %v", got)
	}
	if err != nil {
		// The next sync sends the bundle again and recovers; but this one
		// failed on a lost answer, which the retries are for.
		var se *client.StatusError
		if errors.As(err, &se) && se.Status == http.StatusConflict {
			again, err2 := s.Results(f.Ctx)
			t.Fatalf("a commit whose answer was lost is retried and answered %v (commits %v): %v; the next sync recovers (%+v, %v)",
				se.Status, l.commits, err, again, err2)
		}
		t.Fatalf("results: %v (commits %v)", err, l.commits)
	}
	if len(lines) != 1 || lines[0].Kind != "receipts" || lines[0].Outcome != importer.Applied {
		t.Errorf("results: %+v", lines)
	}
	if len(l.commits) != 1 || l.commits[0] != http.StatusOK {
		t.Errorf("central answered the committing uploads %v, want one 200: the client asks, not uploads again", l.commits)
	}
	f.CheckStatus("ca", 1, 2)
}

// restartable is central's server on a fixed loopback address, stopped
// with server.Serve's shutdown and started again as a new server (with new
// in-memory tokens) on the same central home.
type restartable struct {
	t      *testing.T
	f      *testfixture.Fixture
	addr   string
	wrap   func(http.Handler) http.Handler
	srv    *http.Server
	cancel context.CancelFunc
	errc   chan error
}

func (r *restartable) start(ln net.Listener) {
	r.t.Helper()
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", r.addr); err != nil {
			r.t.Fatal(err)
		}
	}
	r.addr = ln.Addr().String()
	s := server.New(r.f.C, r.f.Log)
	srv := &http.Server{Handler: r.wrap(s.Handler())}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- server.Serve(ctx, srv, func() error { return srv.Serve(ln) }, 100*time.Millisecond) }()
	r.srv, r.cancel, r.errc = srv, cancel, errc
	r.t.Cleanup(func() { cancel(); srv.Close() })
}

// stop shuts the server down and waits for Serve to return.
func (r *restartable) stop() {
	r.t.Helper()
	r.cancel()
	select {
	case err := <-r.errc:
		if err != nil {
			r.t.Errorf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		r.t.Fatal("Serve did not return")
	}
}

// rangeLog records the Range header of the requests for one path.
type rangeLog struct {
	mu     sync.Mutex
	path   string
	ranges []string
}

func (l *rangeLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		if r.Method == http.MethodGet && r.URL.Path == l.path {
			l.ranges = append(l.ranges, r.Header.Get("Range"))
		}
		l.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

// TestResumeAfterRestart: central's server stops in the middle of a
// download (its grace over, the process gone), and the sync stops too;
// central starts again, and the next sync resumes the file where it
// stopped.
func TestResumeAfterRestart(t *testing.T) {
	f := testfixture.New(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.URL = "http://" + ln.Addr().String()
	ctx, cancelSync := context.WithCancel(f.Ctx)
	c := &cutter{minSize: 100, stop: cancelSync}
	r := &restartable{t: t, f: f, wrap: func(h http.Handler) http.Handler { c.h = h; return c }}
	r.start(ln)
	a := f.Register("ca", "A")
	if _, err := f.Syncer("ca").Data(ctx, nil, false); !errors.Is(err, context.Canceled) {
		t.Fatalf("first sync: %v, want it stopped", err)
	}
	r.stop()
	log := &rangeLog{path: c.path}
	r.wrap = log.wrap
	r.start(nil)
	lines, err := f.Syncer("ca").Data(f.Ctx, nil, false)
	if err != nil || len(lines) != 1 || lines[0].Outcome != importer.Applied {
		t.Fatalf("sync after the restart: %v %+v", err, lines)
	}
	if want := fmt.Sprintf("bytes=%d-", c.at); !reflect.DeepEqual(log.ranges, []string{want}) {
		t.Errorf("the restarted server was asked for %s with Range %q, want %q", c.path, log.ranges, want)
	}
	if got := testfixture.ToStrings(testfixture.Entities(t, a)); !reflect.DeepEqual(got, testfixture.ToStrings(testfixture.ScopeA)) {
		t.Errorf("holds %v", got)
	}
}

// TestSyncAcrossRestart: central's server restarts while a sync is
// retrying a cut download; the same sync goes on against the new server
// (which knows none of the old server's tokens) and resumes the file.
func TestSyncAcrossRestart(t *testing.T) {
	f := testfixture.New(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.URL = "http://" + ln.Addr().String()
	c := &cutter{minSize: 100}
	r := &restartable{t: t, f: f, wrap: func(h http.Handler) http.Handler { c.h = h; return c }}
	cut := make(chan struct{})
	var once sync.Once
	// The server goes down at the cut, before the client's retry.
	c.onCut = func() { once.Do(func() { r.cancel(); close(cut) }) }
	r.start(ln)
	a := f.Register("ca", "A")
	done := make(chan error, 1)
	var lines []importer.Line
	go func() {
		var err error
		lines, err = f.Syncer("ca").Data(f.Ctx, nil, false)
		done <- err
	}()
	select {
	case <-cut:
	case err := <-done:
		t.Fatalf("the sync ended before the cut: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("no cut")
	}
	r.stop()
	log := &rangeLog{path: c.path}
	r.wrap = log.wrap
	r.start(nil)
	select {
	case err = <-done:
	case <-time.After(40 * time.Second):
		t.Fatal("the sync did not end")
	}
	var se *client.StatusError
	if errors.As(err, &se) && se.Status == http.StatusUnauthorized {
		t.Fatalf("after a server restart the sync fails with %v: the Syncer keeps the old server's access token "+
			"(x/oauth2 refetches only on expiry, not on a 401 invalid_token), so the retry cannot resume", err)
	}
	if err != nil || len(lines) != 1 || lines[0].Outcome != importer.Applied {
		t.Fatalf("sync across the restart: %v %+v", err, lines)
	}
	if len(log.ranges) == 0 || log.ranges[0] != fmt.Sprintf("bytes=%d-", c.at) {
		t.Errorf("the restarted server was asked with Range %q, want bytes=%d-", log.ranges, c.at)
	}
	if got := testfixture.ToStrings(testfixture.Entities(t, a)); !reflect.DeepEqual(got, testfixture.ToStrings(testfixture.ScopeA)) {
		t.Errorf("holds %v", got)
	}
}
