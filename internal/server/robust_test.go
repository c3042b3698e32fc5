package server_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/taosync/taosync/internal/api"
	"github.com/taosync/taosync/internal/server"
	"github.com/taosync/taosync/internal/testfixture"
	"github.com/taosync/taosync/manifest"
)

// TestBadRequests: bad requests, oversized bodies, unknown resources get a
// 4xx and no data.
func TestBadRequests(t *testing.T) { testfixture.OnEngines(t, testBadRequests) }

func testBadRequests(t *testing.T, engine string) {
	f := testfixture.NewOn(t, engine)
	f.Start(nil)
	a := f.Register("ca", "A")
	if _, err := f.Syncer("ca").Data(f.Ctx, nil, false); err != nil {
		t.Fatal(err)
	}
	testfixture.AddResults(t, a, "x", 1)
	dir := testfixture.ExportResults(t, a)
	name := filepath.Base(dir)
	files := testfixture.BundleFiles(t, dir)
	chunk := files[0]
	tok := f.TokenFor("ca")
	ref := f.Pull(tok)
	api := api.Prefix
	for _, tc := range []struct {
		name, method, path, body, contentType string
		token                                 string
		status                                int
	}{
		{"pull: not JSON", "POST", api + "/data/pull", "nope", "application/json", tok, 400},
		{"pull: unknown field", "POST", api + "/data/pull", `{"data_seq":0,"client":"cb"}`, "application/json", tok, 400},
		{"pull: unknown type", "POST", api + "/data/pull", `{"types":["secrets"]}`, "application/json", tok, 400},
		{"pull: negative seq", "POST", api + "/data/pull", `{"data_seq":-1}`, "application/json", tok, 400},
		{"pull: no token", "POST", api + "/data/pull", `{}`, "application/json", "", 401},
		{"pull: GET", "GET", api + "/data/pull", "", "", tok, 405},
		{"receipts: after=-1", "GET", api + "/receipts?after=-1", "", "", tok, 400},
		{"receipts: no token", "GET", api + "/receipts", "", "", "", 401},
		{"unknown path", "GET", api + "/clients", "", "", tok, 404},
		{"download: DELETE", "DELETE", api + "/bundles/" + ref.Bundle + "/" + manifest.FileName, "", "", tok, 405},
		{"download: bad file name", "GET", api + "/bundles/" + ref.Bundle + "/" + "evil.txt", "", "", tok, 404},
		{"download: bad bundle name", "GET", api + "/bundles/spool/" + manifest.FileName, "", "", tok, 404},
		{"upload: chunk not matching its name", "PUT", api + "/results/" + name + "/" + chunk, "tampered", "application/octet-stream", tok, 400},
		{"upload: not a result bundle", "PUT", api + "/results/" + strings.Replace(name, "results-", "data-", 1) + "/" + manifest.FileName, "{}", "application/octet-stream", tok, 400},
		{"upload: receipts name", "PUT", api + "/results/" + strings.Replace(name, "results-", "receipts-", 1) + "/" + manifest.FileName, "{}", "application/octet-stream", tok, 400},
		{"upload: bad file name", "PUT", api + "/results/" + name + "/taosync.db", "x", "application/octet-stream", tok, 400},
		{"upload: bad bundle name", "PUT", api + "/results/results-ca/" + manifest.FileName, "x", "application/octet-stream", tok, 400},
		{"upload: signature too large", "PUT", api + "/results/" + name + "/" + manifest.SigName, strings.Repeat("x", 65<<10), "application/octet-stream", tok, 413},
		{"upload: no token", "PUT", api + "/results/" + name + "/" + manifest.SigName, "x", "application/octet-stream", "", 401},
		{"commit: bad name", "POST", api + "/results/..%2Fcb/commit", "", "", tok, 404},
		{"commit: nothing uploaded", "POST", api + "/results/" + name + "/commit", "", "", tok, 409},
		{"commit: no token", "POST", api + "/results/" + name + "/commit", "", "", "", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != "" {
				// No Content-Length: the limits must hold on a streamed body too.
				body = io.MultiReader(strings.NewReader(tc.body))
			}
			st, b := f.API(tc.method, tc.path, tc.token, body, tc.contentType)
			if st != tc.status {
				t.Errorf("%d %s, want %d", st, b, tc.status)
			}
			if len(b) > 300 {
				t.Errorf("answered %d bytes: %.300s", len(b), b)
			}
		})
	}
	// Nothing of the bad uploads is left in the inbox, not even a folder.
	if left, _ := os.ReadDir(f.C.Home.Path("inbox")); len(left) != 0 {
		t.Errorf("left in the inbox: %v", left)
	}
}

// TestOversizedJSONBody: a pull body over the JSON limit is too large
// (413), as an upload over its limit is.
func TestOversizedJSONBody(t *testing.T) { testfixture.OnEngines(t, testOversizedJSONBody) }

func testOversizedJSONBody(t *testing.T, engine string) {
	f := testfixture.NewOn(t, engine)
	f.Start(nil)
	f.Register("ca", "A")
	tok := f.TokenFor("ca")
	body := `{"types":["` + strings.Repeat("x", 70<<10) + `"]}`
	st, b := f.API("POST", api.Prefix+"/data/pull", tok, strings.NewReader(body), "application/json")
	if st == http.StatusBadRequest && strings.Contains(string(b), "too large") {
		t.Fatalf("an oversized JSON body is answered 400 (%s), not 413 as an oversized upload is", bytes.TrimSpace(b))
	}
	if st != http.StatusRequestEntityTooLarge {
		t.Errorf("%d %s, want 413", st, b)
	}
}

// TestBearerSchemeCaseInsensitive: the authentication scheme is
// case-insensitive (RFC 9110 §11.1, RFC 6750 §2.1 uses RFC 7235's syntax).
func TestBearerSchemeCaseInsensitive(t *testing.T) {
	testfixture.OnEngines(t, testBearerSchemeCaseInsensitive)
}

func testBearerSchemeCaseInsensitive(t *testing.T, engine string) {
	f := testfixture.NewOn(t, engine)
	f.Start(nil)
	f.Register("ca", "A")
	tok := f.TokenFor("ca")
	for _, scheme := range []string{"Bearer", "bearer", "BEARER"} {
		req, _ := http.NewRequestWithContext(f.Ctx, "GET", f.URL+api.Prefix+"/receipts", nil)
		req.Header.Set("Authorization", scheme+" "+tok)
		st, _, _ := f.Do(req)
		if st != 200 {
			if scheme != "Bearer" {
				t.Fatalf("Authorization %q answered %d: server.authenticate compares the scheme case-sensitively (strings.CutPrefix(auth, \"Bearer \"))", scheme+" …", st)
			}
			t.Errorf("%s: %d", scheme, st)
		}
	}
}

// rawRequest sends raw bytes on a new connection and returns the status
// line of the answer.
func rawRequest(t *testing.T, url, raw string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(url, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	return strings.TrimSpace(line)
}

// TestOversizedDeclared: an upload that declares more than the limit is
// refused before its body is read. (A declared size under 256 KiB, the
// signature's, is sent: net/http reads such a small unread body before it
// answers.)
func TestOversizedDeclared(t *testing.T) { testfixture.OnEngines(t, testOversizedDeclared) }

func testOversizedDeclared(t *testing.T, engine string) {
	f := testfixture.NewOn(t, engine)
	f.Start(nil)
	f.Register("ca", "A")
	tok := f.TokenFor("ca")
	host := strings.TrimPrefix(f.URL, "http://")
	for _, tc := range []struct{ file string }{{manifest.FileName}, {manifest.SigName}, {strings.Repeat("a", 64)}} {
		size := map[string]int64{manifest.FileName: manifest.MaxManifestBytes + 1, manifest.SigName: 64<<10 + 1}[tc.file]
		if size == 0 {
			size = manifest.MaxChunkStored + 1
		}
		raw := fmt.Sprintf("PUT %s/results/results-ca-000001-00000000/%s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n",
			api.Prefix, tc.file, host, tok, size)
		if size < 256<<10 {
			raw += strings.Repeat("x", int(size))
		}
		if got := rawRequest(t, f.URL, raw); !strings.HasPrefix(got, "HTTP/1.1 413") {
			t.Errorf("%s of %d bytes: %s, want 413", tc.file, size, got)
		}
	}
}

// TestAbruptDisconnects: uploads and downloads cut by the client leave
// nothing in the inbox, not even a folder, and do not disturb the server.
func TestAbruptDisconnects(t *testing.T) { testfixture.OnEngines(t, testAbruptDisconnects) }

func testAbruptDisconnects(t *testing.T, engine string) {
	f := testfixture.NewOn(t, engine)
	var puts atomic.Int64
	f.Start(func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(w, r)
			if r.Method == http.MethodPut {
				puts.Add(1)
			}
		})
	})
	a := f.Register("ca", "A")
	if _, err := f.Syncer("ca").Data(f.Ctx, nil, false); err != nil {
		t.Fatal(err)
	}
	testfixture.AddResults(t, a, "x", 1)
	dir := testfixture.ExportResults(t, a)
	name := filepath.Base(dir)
	tok := f.TokenFor("ca")
	ref := f.Pull(tok)
	host := strings.TrimPrefix(f.URL, "http://")
	for i := range 20 {
		c, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			// Half an upload.
			fmt.Fprintf(c, "PUT %s/results/%s/%s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Length: 1000\r\n\r\n%s",
				api.Prefix, name, manifest.SigName, host, tok, strings.Repeat("x", 100))
		} else {
			// A download, not read.
			fmt.Fprintf(c, "GET %s/bundles/%s/%s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n\r\n",
				api.Prefix, ref.Bundle, ref.Files[0].Name, host, tok)
		}
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0) // a reset, not a polite close
		}
		c.Close()
	}
	// The inbox holds nothing once the handlers are done.
	deadline := time.Now().Add(5 * time.Second)
	for puts.Load() < 10 {
		if time.Now().After(deadline) {
			t.Fatalf("%d of the 10 cut uploads answered", puts.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if left, err := os.ReadDir(f.C.Home.Path("inbox")); err != nil || len(left) != 0 {
		t.Errorf("left in the inbox: %v %v", left, err)
	}
	// The server goes on: the whole upload and commit work.
	for _, st := range f.Upload(tok, name, dir) {
		if st != http.StatusCreated {
			t.Fatalf("upload after the cuts: %d", st)
		}
	}
	if st, resp, body := f.Commit(tok, name); st != 200 || resp.Outcome != "applied" {
		t.Fatalf("commit after the cuts: %d %s", st, body)
	}
}

// TestCommitIncomplete: a commit before every chunk is there is refused
// and keeps what was uploaded; once the chunk is there, it commits.
func TestCommitIncomplete(t *testing.T) { testfixture.OnEngines(t, testCommitIncomplete) }

func testCommitIncomplete(t *testing.T, engine string) {
	f := testfixture.NewOn(t, engine)
	f.Start(nil)
	a := f.Register("ca", "A")
	if _, err := f.Syncer("ca").Data(f.Ctx, nil, false); err != nil {
		t.Fatal(err)
	}
	testfixture.AddResults(t, a, "x", 1)
	dir := testfixture.ExportResults(t, a)
	name := filepath.Base(dir)
	tok := f.TokenFor("ca")
	files := testfixture.BundleFiles(t, dir)
	put := func(file string) int {
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		st, _ := f.API("PUT", api.Prefix+"/results/"+name+"/"+file, tok, bytes.NewReader(b), "application/octet-stream")
		return st
	}
	for _, file := range files[1:] {
		if st := put(file); st != 201 {
			t.Fatalf("upload %s: %d", file, st)
		}
	}
	st, _, body := f.Commit(tok, name)
	if st < 400 || st >= 500 {
		t.Fatalf("commit without a chunk: %d %s, want a 4xx", st, body)
	}
	if got := f.ExecutionsOf(); len(got) != 0 {
		t.Fatalf("central holds %v", got)
	}
	if st := put(files[0]); st != 201 {
		t.Fatalf("upload the chunk: %d", st)
	}
	if st, resp, body := f.Commit(tok, name); st != 200 || resp.Outcome != "applied" {
		t.Fatalf("commit: %d %s", st, body)
	}
}

// TestUploadLimitPerClient: a client has at most MaxUploadsPerClient
// uploads at once; one more is told to come back (429, Retry-After), and
// another client is not affected.
func TestUploadLimitPerClient(t *testing.T) { testfixture.OnEngines(t, testUploadLimitPerClient) }

func testUploadLimitPerClient(t *testing.T, engine string) {
	f := testfixture.NewOn(t, engine)
	started := make(chan struct{}, server.MaxUploadsPerClient)
	f.Start(func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == "PUT" {
				r.Body = &firstRead{ReadCloser: r.Body, once: &sync.Once{}, c: started}
			}
			h.ServeHTTP(w, r)
		})
	})
	f.Register("ca", "A")
	f.Register("cb", "B")
	ta, tb := f.TokenFor("ca"), f.TokenFor("cb")
	var wg sync.WaitGroup
	var writers []*io.PipeWriter
	statuses := make(chan int, server.MaxUploadsPerClient)
	for i := range server.MaxUploadsPerClient {
		pr, pw := io.Pipe()
		writers = append(writers, pw)
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(f.Ctx, "PUT", fmt.Sprintf("%s%s/results/results-ca-00000%d-00000000/%s", f.URL, api.Prefix, i+1, manifest.SigName), pr)
			req.Header.Set("Authorization", "Bearer "+ta)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				statuses <- 0
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
		pw.Write([]byte("x"))
	}
	for range server.MaxUploadsPerClient {
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatal("the uploads did not start")
		}
	}
	req, _ := http.NewRequestWithContext(f.Ctx, "PUT", f.URL+api.Prefix+"/results/results-ca-000009-00000000/"+manifest.SigName, strings.NewReader("y"))
	req.Header.Set("Authorization", "Bearer "+ta)
	st, h, _ := f.Do(req)
	if st != http.StatusTooManyRequests || h.Get("Retry-After") == "" {
		t.Errorf("one upload too many: %d, Retry-After %q; want 429 with Retry-After", st, h.Get("Retry-After"))
	}
	// Another client uploads meanwhile.
	if st, b := f.API("PUT", api.Prefix+"/results/results-cb-000001-00000000/"+manifest.SigName, tb, strings.NewReader("z"), "application/octet-stream"); st != 201 {
		t.Errorf("another client: %d %s", st, b)
	}
	for _, pw := range writers {
		pw.Close()
	}
	wg.Wait()
	close(statuses)
	for st := range statuses {
		if st != 201 {
			t.Errorf("held upload: %d", st)
		}
	}
	// The slots are free again.
	if st, b := f.API("PUT", api.Prefix+"/results/results-ca-000009-00000000/"+manifest.SigName, ta, strings.NewReader("y"), "application/octet-stream"); st != 201 {
		t.Errorf("after: %d %s", st, b)
	}
}

// firstRead signals the first Read of a body.
type firstRead struct {
	io.ReadCloser
	once *sync.Once
	c    chan struct{}
}

func (r *firstRead) Read(p []byte) (int, error) {
	r.once.Do(func() { r.c <- struct{}{} })
	return r.ReadCloser.Read(p)
}

// TestTokenExpiry: an expired token is refused with invalid_token; the
// Syncer gets a new one by itself (x/oauth2 renews a token 10 s before its
// expires_in, so with a TTL of 1 s it renews it for every request).
func TestTokenExpiry(t *testing.T) { testfixture.OnEngines(t, testTokenExpiry) }

func testTokenExpiry(t *testing.T, engine string) {
	f := testfixture.NewOn(t, engine)
	f.S.TokenTTL = time.Second
	f.Start(nil)
	f.Register("ca", "A")
	tok := f.TokenFor("ca")
	time.Sleep(1100 * time.Millisecond)
	req, _ := http.NewRequestWithContext(f.Ctx, "GET", f.URL+api.Prefix+"/receipts", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	st, h, _ := f.Do(req)
	if st != 401 || !strings.Contains(h.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("expired token: %d %q", st, h.Get("WWW-Authenticate"))
	}
	s := f.Syncer("ca")
	if _, err := s.Data(f.Ctx, nil, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Receipts(f.Ctx); err != nil {
		t.Errorf("the same syncer after its token expired: %v", err)
	}
}
