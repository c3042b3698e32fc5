package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/taosync/taosync/importer"
	"github.com/taosync/taosync/internal/api"
	"github.com/taosync/taosync/internal/client"
	"github.com/taosync/taosync/internal/testfixture"
)

// uploadLog is a handler wrapper that records the requests for result
// uploads and counts the body bytes central reads from them. With cut
// set, it cuts the connection of the first PUT once central has read that
// share of its body; with lose set, once central has answered it (and
// then calls stop, if set: the sync is stopped too).
type uploadLog struct {
	h    http.Handler
	cut  float64
	lose bool
	stop context.CancelFunc

	mu       sync.Mutex
	requests []*http.Request
	length   int64 // the first PUT's body length
	read     int64 // body bytes central read
}

func (u *uploadLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, api.Prefix+"/results/") {
		u.h.ServeHTTP(w, r)
		return
	}
	u.mu.Lock()
	u.requests = append(u.requests, r.Clone(r.Context()))
	first := r.Method == http.MethodPut && u.length == 0
	if first {
		u.length = r.ContentLength
	}
	u.mu.Unlock()
	body := &countedBody{r: r.Body, u: u, limit: -1}
	r.Body = body
	if !first || (u.cut == 0 && !u.lose) {
		u.h.ServeHTTP(w, r)
		return
	}
	if u.cut > 0 {
		body.limit = int64(float64(r.ContentLength) * u.cut)
	}
	u.h.ServeHTTP(httptest.NewRecorder(), r)
	if u.stop != nil {
		u.stop()
	}
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		conn.Close()
	}
}

type countedBody struct {
	r     interface{ Read([]byte) (int, error) }
	u     *uploadLog
	n     int64
	limit int64
}

var errCut = errors.New("connection cut")

func (b *countedBody) Read(p []byte) (int, error) {
	if b.limit >= 0 {
		if b.n >= b.limit {
			return 0, errCut
		}
		p = p[:min(int64(len(p)), b.limit-b.n)]
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	b.u.mu.Lock()
	b.u.read += int64(n)
	b.u.mu.Unlock()
	return n, err
}

func (b *countedBody) Close() error { return nil }

// sendResults registers client ca, gives it n results and syncs them.
func sendResults(t *testing.T, f *testfixture.Fixture, n int) []importer.Line {
	t.Helper()
	a := f.Register("ca", "A")
	s := f.Syncer("ca")
	if _, err := s.Data(f.Ctx, nil, false); err != nil {
		t.Fatal(err)
	}
	testfixture.AddResults(t, a, "x", n)
	lines, err := s.Results(f.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 1 || lines[0].Kind != "receipts" || lines[0].Outcome != importer.Applied {
		t.Errorf("results: %+v", lines)
	}
	if left, _ := os.ReadDir(a.Home.Path(client.OutgoingDir)); len(left) != 0 {
		t.Errorf("left in outgoing: %v", left)
	}
	f.CheckStatus("ca", 1, int64(n))
	return lines
}

// TestUploadTwoRequests: 100 results go to central in one request that
// sends the bundle and commits it: a bundle this sync wrote was never
// sent, so the client does not ask what central holds of it.
func TestUploadTwoRequests(t *testing.T) {
	f := testfixture.New(t)
	u := &uploadLog{}
	f.Start(func(h http.Handler) http.Handler { u.h = h; return u })
	sendResults(t, f, 100)
	var got []string
	for _, r := range u.requests {
		got = append(got, r.Method+" "+r.URL.Path)
	}
	if len(got) != 1 || !strings.HasPrefix(got[0], "PUT ") {
		t.Errorf("requests for the upload: %v, want one PUT", got)
	}
	t.Logf("a bundle of 100 results: %d bytes", u.length)
}

// TestUploadResume: an upload cut at 60 % goes on from where central
// stopped: the client asks, and sends the rest only, at most 1.15 times
// the bundle in all (counted as central reads it: what the cut lost on
// the way was not sent).
func TestUploadResume(t *testing.T) {
	f := testfixture.New(t)
	u := &uploadLog{cut: 0.6}
	f.Start(func(h http.Handler) http.Handler { u.h = h; return u })
	sendResults(t, f, 100)
	var methods []string
	for _, r := range u.requests {
		methods = append(methods, r.Method)
	}
	if strings.Join(methods, " ") != "PUT GET PUT" {
		t.Fatalf("requests: %v, want PUT GET PUT", methods)
	}
	want := int64(float64(u.length) * 0.6)
	if got := u.requests[2].Header.Get(api.HeaderOffset); got != strconv.FormatInt(want, 10) {
		t.Errorf("resumed at %s, want %d", got, want)
	}
	if max := float64(u.length) * 1.15; float64(u.read) > max {
		t.Errorf("sent %d bytes for a bundle of %d: more than 1.15 times", u.read, u.length)
	}
}

// TestCommitAnswerLostNextRun: central commits a result bundle, the answer
// is lost and the sync stops; the next sync asks central, which answers
// with the same receipts, and sends nothing again.
func TestCommitAnswerLostNextRun(t *testing.T) {
	f := testfixture.New(t)
	ctx, cancel := context.WithCancel(f.Ctx)
	u := &uploadLog{lose: true, stop: cancel}
	f.Start(func(h http.Handler) http.Handler { u.h = h; return u })
	a := f.Register("ca", "A")
	s := f.Syncer("ca")
	if _, err := s.Data(f.Ctx, nil, false); err != nil {
		t.Fatal(err)
	}
	testfixture.AddResults(t, a, "x", 5)
	if _, err := s.Results(ctx); err == nil {
		t.Fatal("the sync whose commit answer was lost succeeded")
	}
	if got := f.ExecutionsOf(); got["ca"] != 5 {
		t.Fatalf("central holds %v", got)
	}
	sent := len(u.requests)
	lines, err := f.Syncer("ca").Results(f.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 1 || lines[0].Kind != "receipts" || lines[0].Seq != 1 || lines[0].Outcome != importer.Applied {
		t.Errorf("the next sync: %+v, want receipt batch 1 applied", lines)
	}
	var again []string
	for _, r := range u.requests[sent:] {
		again = append(again, r.Method+" "+r.URL.String())
	}
	if len(again) != 1 || !strings.HasPrefix(again[0], "GET ") || !strings.Contains(again[0], "bundle_id=") {
		t.Errorf("the next sync asked %v, want one GET by bundle id", again)
	}
	if left, _ := os.ReadDir(a.Home.Path(client.OutgoingDir)); len(left) != 0 {
		t.Errorf("left in outgoing: %v", left)
	}
	f.CheckStatus("ca", 1, 5)
}
