package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/taosync/taosync/internal/api"
	"github.com/taosync/taosync/internal/server"
	"github.com/taosync/taosync/internal/testfixture"
)

// gate is a handler wrapper that holds the first bundle download after half
// of its body: started is closed then, and the rest is written once
// release is closed or the request's context ends.
type gate struct {
	h       http.Handler
	once    sync.Once
	started chan struct{}
	release chan struct{}
	done    chan error // the held request's end: nil once whole
}

func newGate(h http.Handler) *gate {
	return &gate{h: h, started: make(chan struct{}), release: make(chan struct{}), done: make(chan error, 1)}
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, api.Prefix+"/bundles/") || r.Header.Get("Range") != "" {
		g.h.ServeHTTP(w, r)
		return
	}
	held := false
	g.once.Do(func() { held = true })
	if !held {
		g.h.ServeHTTP(w, r)
		return
	}
	hw := &holdWriter{ResponseWriter: w, g: g, ctx: r.Context()}
	g.h.ServeHTTP(hw, r)
	g.done <- hw.err
}

type holdWriter struct {
	http.ResponseWriter
	g       *gate
	ctx     context.Context
	total   int64
	written int64
	held    bool
	err     error
}

func (w *holdWriter) Write(p []byte) (int, error) {
	if w.total == 0 {
		w.total = max(1, contentLength(w.Header()))
	}
	half := w.total/2 - w.written
	if w.held || int64(len(p)) < half {
		return w.write(p)
	}
	n, err := w.write(p[:half])
	if err != nil {
		return n, err
	}
	w.held = true
	http.NewResponseController(w.ResponseWriter).Flush()
	close(w.g.started)
	select {
	case <-w.g.release:
	case <-w.ctx.Done():
		w.err = w.ctx.Err()
		return n, w.err
	}
	k, err := w.write(p[half:])
	return n + k, err
}

func (w *holdWriter) write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.written += int64(n)
	if err != nil {
		w.err = err
	}
	return n, err
}

func contentLength(h http.Header) int64 {
	var n int64
	for _, c := range h.Get("Content-Length") {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

// serveLoopback runs server.Serve on a fresh loopback listener with handler
// h, and returns the server, its URL, the cancel of Serve's context and
// Serve's result.
func serveLoopback(t *testing.T, h http.Handler, grace time.Duration, addr string) (*http.Server, string, context.CancelFunc, chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- server.Serve(ctx, srv, func() error { return srv.Serve(ln) }, grace) }()
	t.Cleanup(func() {
		cancel()
		srv.Close()
	})
	return srv, "http://" + ln.Addr().String(), cancel, errc
}

// largestFile returns the largest file of a bundle reference.
func largestFile(ref api.BundleRef) api.File {
	var best api.File
	for _, f := range ref.Files {
		if f.Size > best.Size {
			best = f
		}
	}
	return best
}

// TestGracefulShutdown: Serve's context is cancelled while a download is in
// flight: the listener closes at once, the download completes whole, and
// Serve returns nil.
func TestGracefulShutdown(t *testing.T) { testfixture.OnEngines(t, testGracefulShutdown) }

func testGracefulShutdown(t *testing.T, engine string) {
	f := testfixture.NewOn(t, engine)
	g := newGate(f.S.Handler())
	srv, url, cancel, errc := serveLoopback(t, g, 20*time.Second, "127.0.0.1:0")
	f.URL = url
	f.Register("ca", "A")
	tok := f.TokenFor("ca")
	ref := f.Pull(tok)
	file := largestFile(ref)
	if file.Size < 2 {
		t.Fatalf("file %+v too small", file)
	}
	shutdown := make(chan struct{})
	srv.RegisterOnShutdown(func() { close(shutdown) })

	type result struct {
		body []byte
		err  error
	}
	got := make(chan result, 1)
	go func() {
		req, _ := http.NewRequestWithContext(f.Ctx, http.MethodGet, url+api.Prefix+"/bundles/"+ref.Bundle+"/"+file.Name, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			got <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		got <- result{b, err}
	}()
	wait := func(c <-chan struct{}, what string) {
		t.Helper()
		select {
		case <-c:
		case <-time.After(10 * time.Second):
			t.Fatalf("timed out waiting for %s", what)
		}
	}
	wait(g.started, "the download to start")
	cancel()
	wait(shutdown, "the shutdown to start")
	// The listener is closed: no new connection.
	if c, err := net.DialTimeout("tcp", strings.TrimPrefix(url, "http://"), time.Second); err == nil {
		c.Close()
		t.Error("the server still accepts connections while shutting down")
	}
	select {
	case err := <-errc:
		t.Fatalf("Serve returned %v with a download in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(g.release)
	var r result
	select {
	case r = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("the download did not complete")
	}
	if r.err != nil {
		t.Fatalf("download: %v", r.err)
	}
	sum := sha256.Sum256(r.body)
	if hex.EncodeToString(sum[:]) != file.SHA256 {
		t.Errorf("download of %d bytes does not match its hash (%d bytes)", len(r.body), file.Size)
	}
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("Serve returned %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
}

// TestShutdownGraceExpires: a download still in flight when the grace ends
// is cut short (the connection closed), so that the server really stops;
// the client resumes it from a restarted server.
func TestShutdownGraceExpires(t *testing.T) { testfixture.OnEngines(t, testShutdownGraceExpires) }

func testShutdownGraceExpires(t *testing.T, engine string) {
	f := testfixture.NewOn(t, engine)
	g := newGate(f.S.Handler())
	_, url, cancel, errc := serveLoopback(t, g, 200*time.Millisecond, "127.0.0.1:0")
	f.URL = url
	f.Register("ca", "A")
	tok := f.TokenFor("ca")
	ref := f.Pull(tok)
	file := largestFile(ref)
	go func() {
		req, _ := http.NewRequestWithContext(f.Ctx, http.MethodGet, url+api.Prefix+"/bundles/"+ref.Bundle+"/"+file.Name, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	select {
	case <-g.started:
	case <-time.After(10 * time.Second):
		t.Fatal("the download did not start")
	}
	cancel()
	var serveErr error
	select {
	case serveErr = <-errc:
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its grace")
	}
	t.Logf("Serve returned %v", serveErr)
	// The held request must end: its connection closed when Serve gave up
	// waiting. Else the handler runs on after Serve returned, with the
	// central home its caller closes next.
	select {
	case <-g.done:
	case <-time.After(2 * time.Second):
		close(g.release)
		t.Fatalf("server.Serve returned (%v) after its grace with the in-flight download still running: "+
			"Shutdown's timeout is returned but srv.Close() is never called, so the connection is not cut", serveErr)
	}
	if serveErr != nil && !errors.Is(serveErr, context.DeadlineExceeded) {
		t.Errorf("Serve returned %v", serveErr)
	}
}
