package server_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/taosync/taosync/importer"
	"github.com/taosync/taosync/internal/api"
	"github.com/taosync/taosync/internal/testfixture"
	"github.com/taosync/taosync/manifest"
)

// inboxOf lists what a client holds in central's inbox: bundle folders and
// their files, with sizes.
func inboxOf(f *testfixture.Fixture, client string) map[string]int64 {
	f.T.Helper()
	out := map[string]int64{}
	root := filepath.Join(f.C.Home.Path("inbox"), client)
	filepath.Walk(root, func(path string, info os.FileInfo, err error) error {
		if err == nil && path != root {
			rel, _ := filepath.Rel(root, path)
			out[rel] = info.Size()
		}
		return nil
	})
	return out
}

// resultBundle registers client ca, gives it n results and exports them;
// it returns the bundle's folder and a token.
func resultBundle(t *testing.T, f *testfixture.Fixture, n int) (string, string) {
	t.Helper()
	a := f.Register("ca", "A")
	if _, err := f.Syncer("ca").Data(f.Ctx, nil, false); err != nil {
		t.Fatal(err)
	}
	testfixture.AddResults(t, a, "x", n)
	return testfixture.ExportResults(t, a), f.TokenFor("ca")
}

// TestUploadQuotaBundles: a client has at most Quota.Bundles uploads open;
// one more, by either endpoint, is answered 429 naming the limit and
// changes nothing. An open bundle goes on.
func TestUploadQuotaBundles(t *testing.T) { testfixture.OnEngines(t, testUploadQuotaBundles) }

func testUploadQuotaBundles(t *testing.T, engine string) {
	f := testfixture.NewOn(t, engine)
	f.S.Quota.Bundles = 2
	f.Start(nil)
	dir, tok := resultBundle(t, f, 1)
	stream, sig, man := testfixture.Stream(t, dir)
	invented := func(i int) string { return fmt.Sprintf("results-ca-%06d-%08x", 100+i, i) }
	for i := range 2 {
		st, b := f.API(http.MethodPut, api.Prefix+"/results/"+invented(i)+"/"+manifest.SigName, tok, strings.NewReader("sig"), "application/octet-stream")
		if st != http.StatusCreated {
			t.Fatalf("upload %d: %d %s", i, st, b)
		}
	}
	before := inboxOf(f, "ca")
	name := filepath.Base(dir)
	st, b := f.API(http.MethodPut, api.Prefix+"/results/"+name+"/"+manifest.SigName, tok, strings.NewReader("sig"), "application/octet-stream")
	if st != http.StatusTooManyRequests || !strings.Contains(string(b), "at most 2 uncommitted result bundles") {
		t.Errorf("a third bundle file by file: %d %s, want 429 naming the limit", st, b)
	}
	st, _, b = f.PutStream(tok, name, 0, stream, sig, man, true)
	if st != http.StatusTooManyRequests || !strings.Contains(string(b), "at most 2 uncommitted result bundles") {
		t.Errorf("a third bundle in one request: %d %s, want 429 naming the limit", st, b)
	}
	if after := inboxOf(f, "ca"); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("the inbox went from %v to %v", before, after)
	}
	// An open bundle takes more files.
	st, b = f.API(http.MethodPut, api.Prefix+"/results/"+invented(0)+"/"+manifest.FileName, tok, strings.NewReader("{}"), "application/octet-stream")
	if st != http.StatusCreated {
		t.Errorf("more of an open bundle: %d %s", st, b)
	}
	// Another client has its own quota.
	f.Register("cb", "B")
	if st, b := f.API(http.MethodPut, api.Prefix+"/results/"+strings.Replace(invented(0), "-ca-", "-cb-", 1)+"/"+manifest.SigName, f.TokenFor("cb"), strings.NewReader("sig"), "application/octet-stream"); st != http.StatusCreated {
		t.Errorf("another client's upload: %d %s", st, b)
	}
}

// TestUploadQuotaBytes: a client holds at most Quota.Bytes of uploads;
// a body that would go over is answered 413 naming the limit and changes
// nothing, by either endpoint.
func TestUploadQuotaBytes(t *testing.T) { testfixture.OnEngines(t, testUploadQuotaBytes) }

func testUploadQuotaBytes(t *testing.T, engine string) {
	f := testfixture.NewOn(t, engine)
	f.Start(nil)
	dir, tok := resultBundle(t, f, 3)
	stream, sig, man := testfixture.Stream(t, dir)
	name := filepath.Base(dir)
	f.S.Quota.Bytes = int64(len(stream)) - 1
	st, _, b := f.PutStream(tok, name, 0, stream, sig, man, true)
	if st != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), fmt.Sprintf("at most %d bytes", len(stream)-1)) {
		t.Errorf("a bundle over the quota: %d %s, want 413 naming the limit", st, b)
	}
	if left := inboxOf(f, "ca"); len(left) != 0 {
		t.Errorf("left in the inbox: %v", left)
	}
	// Part of it fits; the rest does not, file by file either.
	if st, _, b := f.PutStream(tok, name, 0, stream[:sig+man], sig, man, false); st != http.StatusOK {
		t.Fatalf("the head: %d %s", st, b)
	}
	before := inboxOf(f, "ca")
	chunk := testfixture.BundleFiles(t, dir)[0]
	body, err := os.ReadFile(filepath.Join(dir, chunk))
	if err != nil {
		t.Fatal(err)
	}
	f.S.Quota.Bytes = int64(sig+man+len(body)) - 1
	st, b = f.API(http.MethodPut, api.Prefix+"/results/"+name+"/"+chunk, tok, bytes.NewReader(body), "application/octet-stream")
	if st != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), "bytes of uncommitted uploads") {
		t.Errorf("a chunk over the quota: %d %s, want 413", st, b)
	}
	if after := inboxOf(f, "ca"); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("the inbox went from %v to %v", before, after)
	}
	// Within the quota, the rest goes and commits.
	f.S.Quota.Bytes = int64(len(stream))
	st, _, b = f.PutStream(tok, name, int64(sig+man), stream[sig+man:], sig, man, true)
	if st != http.StatusOK || !strings.Contains(string(b), `"state":"committed"`) {
		t.Fatalf("the rest: %d %s", st, b)
	}
	if got := f.ExecutionsOf(); got["ca"] != 3 {
		t.Errorf("central holds %v", got)
	}
	if left := inboxOf(f, "ca"); len(left) != 0 {
		t.Errorf("left in the inbox after the commit: %v", left)
	}
}

// TestUploadLifetime: an upload nobody touches for Quota.Lifetime is
// removed by the sweep, with the client's folder; an empty bundle folder
// goes at once; a younger upload stays.
func TestUploadLifetime(t *testing.T) { testfixture.OnEngines(t, testUploadLifetime) }

func testUploadLifetime(t *testing.T, engine string) {
	f := testfixture.NewOn(t, engine)
	f.Start(nil)
	dir, tok := resultBundle(t, f, 2)
	stream, sig, man := testfixture.Stream(t, dir)
	name := filepath.Base(dir)
	if st, _, b := f.PutStream(tok, name, 0, stream[:len(stream)/2], sig, man, false); st != http.StatusOK {
		t.Fatalf("half the bundle: %d %s", st, b)
	}
	empty := filepath.Join(f.C.Home.Path("inbox"), "ca", "results-ca-000009-0000abcd")
	if err := os.Mkdir(empty, 0o700); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	n, err := f.S.Sweep(now.Add(f.S.Quota.Lifetime - time.Minute))
	if err != nil || n != 1 {
		t.Errorf("sweep before the lifetime: %d removed, %v; want the empty folder", n, err)
	}
	held := inboxOf(f, "ca")
	if _, ok := held[name]; !ok || len(held) < 2 {
		t.Fatalf("the upload is gone before its lifetime: %v", held)
	}
	if _, ok := held[filepath.Base(empty)]; ok {
		t.Errorf("the empty folder stays: %v", held)
	}
	// The upload is resumable meanwhile.
	if st, b := f.API(http.MethodGet, api.Prefix+"/results/"+name, tok, nil, ""); st != 200 || !strings.Contains(string(b), fmt.Sprintf(`"offset":%d`, len(stream)/2)) {
		t.Errorf("status: %d %s", st, b)
	}
	n, err = f.S.Sweep(now.Add(f.S.Quota.Lifetime + time.Minute))
	if err != nil || n != 1 {
		t.Errorf("sweep after the lifetime: %d removed, %v", n, err)
	}
	if left, _ := os.ReadDir(f.C.Home.Path("inbox")); len(left) != 0 {
		t.Errorf("left in the inbox: %v", left)
	}
	if st, b := f.API(http.MethodGet, api.Prefix+"/results/"+name, tok, nil, ""); st != 200 || !strings.Contains(string(b), `"state":"none"`) {
		t.Errorf("status after the sweep: %d %s", st, b)
	}
}

// TestUploadStream: a bundle goes in one request, or in pieces from the
// offset central answers, and commits; central answers a committed bundle
// with the same receipts when asked by its id.
func TestUploadStream(t *testing.T) { testfixture.OnEngines(t, testUploadStream) }

func testUploadStream(t *testing.T, engine string) {
	f := testfixture.NewOn(t, engine)
	f.Start(nil)
	dir, tok := resultBundle(t, f, 3)
	stream, sig, man := testfixture.Stream(t, dir)
	name := filepath.Base(dir)
	status := func(query string) api.UploadStatus {
		t.Helper()
		st, b := f.API(http.MethodGet, api.Prefix+"/results/"+name+query, tok, nil, "")
		var us api.UploadStatus
		if err := json.Unmarshal(b, &us); st != 200 || err != nil {
			t.Fatalf("status: %d %s", st, b)
		}
		return us
	}
	if us := status(""); us.State != api.StateNone || us.Offset != 0 {
		t.Errorf("before: %+v", us)
	}
	// Cut anywhere: in the signature, in the manifest, in a chunk.
	at := []int{sig / 2, sig + man/2, sig + man + (len(stream)-sig-man)/2}
	from := 0
	for _, to := range at {
		if st, h, b := f.PutStream(tok, name, int64(from), stream[from:to], sig, man, true); st != 200 || h.Get(api.HeaderOffset) != fmt.Sprint(to) {
			t.Fatalf("bytes %d to %d: %d %s, offset %q", from, to, st, b, h.Get(api.HeaderOffset))
		}
		if us := status(""); us.State != api.StatePartial || us.Offset != int64(to) {
			t.Errorf("after %d bytes: %+v", to, us)
		}
		from = to
	}
	// From the wrong offset: 409 with the right one, nothing changes.
	st, h, b := f.PutStream(tok, name, 0, stream, sig, man, true)
	if st != http.StatusConflict || h.Get(api.HeaderOffset) != fmt.Sprint(from) {
		t.Errorf("from 0: %d %s, offset %q; want 409 at %d", st, b, h.Get(api.HeaderOffset), from)
	}
	// The rest without committing: complete; then a commit of no bytes.
	st, _, b = f.PutStream(tok, name, int64(from), stream[from:], sig, man, false)
	if st != 200 || !strings.Contains(string(b), fmt.Sprintf(`{"state":"complete","offset":%d}`, len(stream))) {
		t.Fatalf("the rest: %d %s", st, b)
	}
	if us := status(""); us.State != api.StateComplete || us.Offset != int64(len(stream)) {
		t.Errorf("complete: %+v", us)
	}
	if got := f.ExecutionsOf(); len(got) != 0 {
		t.Fatalf("central holds %v before the commit", got)
	}
	st, _, b = f.PutStream(tok, name, int64(len(stream)), nil, sig, man, true)
	var first api.UploadStatus
	if err := json.Unmarshal(b, &first); st != 200 || err != nil || first.State != api.StateCommitted || first.Outcome != importer.Applied || first.Receipt == nil {
		t.Fatalf("the commit: %d %s", st, b)
	}
	if left := inboxOf(f, "ca"); len(left) != 0 {
		t.Errorf("left in the inbox: %v", left)
	}
	m, err := manifest.Parse(stream[sig : sig+man])
	if err != nil {
		t.Fatal(err)
	}
	again := status("?bundle_id=" + m.ID)
	if again.State != api.StateCommitted || again.Receipt == nil || again.Receipt.ID != first.Receipt.ID ||
		again.Receipt.Bundle != first.Receipt.Bundle || again.Receipt.Seq != first.Receipt.Seq {
		t.Errorf("asked again: %+v, want the first answer %+v", again, first)
	}
	if us := status(""); us.State != api.StateNone {
		t.Errorf("without the id: %+v", us)
	}
	f.CheckStatus("ca", 1, 3)
}

// TestUploadStreamRefusals: a stream whose signature, manifest or chunk
// does not check is refused before anything of the bad file is stored,
// with a clear answer, and leaves nothing of it behind.
func TestUploadStreamRefusals(t *testing.T) { testfixture.OnEngines(t, testUploadStreamRefusals) }

func testUploadStreamRefusals(t *testing.T, engine string) {
	f := testfixture.NewOn(t, engine)
	f.Start(nil)
	dir, tok := resultBundle(t, f, 2)
	stream, sig, man := testfixture.Stream(t, dir)
	name := filepath.Base(dir)
	flip := func(i int) []byte {
		b := bytes.Clone(stream)
		b[i] ^= 1
		return b
	}
	cb := f.Register("cb", "B")
	testfixture.AddResultsAt(t, cb, "y", 1, "b1", "d1", "t3")
	bDir := testfixture.ExportResults(t, cb)
	bStream, bSig, bMan := testfixture.Stream(t, bDir)
	for _, tc := range []struct {
		name     string
		bundle   string
		body     []byte
		sig, man int
		status   int
		msg      string
	}{
		{"signature", name, flip(sig - 3), sig, man, 403, "bad signature"},
		// A digit of its creation time: the manifest still parses.
		{"manifest", name, flip(sig + bytes.Index(stream[sig:sig+man], []byte(`"created": "`)) + len(`"created": "`)), sig, man, 403, "bad signature"},
		{"sizes", name, stream, 0, man, 400, "Upload-Signature-Size must be"},
		{"sizes off by one", name, stream, sig + 1, man - 1, 403, ""},
		{"another client's bundle", filepath.Base(bDir), bStream, bSig, bMan, 403, "unknown signer"},
		{"another bundle's name", strings.Replace(name, "-ca-000001-", "-ca-000002-", 1)[:len(name)-8] + "00000000", stream, sig, man, 400, "its manifest is of bundle"},
		{"past the end", name, append(bytes.Clone(stream), 'x'), sig, man, 413, "goes on past the end"},
		{"not a result bundle", strings.Replace(name, "results-", "data-", 1), stream, sig, man, 400, "not a result bundle"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, _, b := f.PutStream(tok, tc.bundle, 0, tc.body, tc.sig, tc.man, true)
			if st != tc.status || !strings.Contains(string(b), tc.msg) || bytes.Count(b, []byte("\n")) != 1 {
				t.Errorf("%d %s, want %d with %q", st, b, tc.status, tc.msg)
			}
			if left := inboxOf(f, "ca"); len(left) != 0 {
				t.Errorf("left in the inbox: %v", left)
			}
		})
	}
	// The bundle whole but for a chunk that does not match its hash: the
	// chunk is refused and not stored; what came before stays for a retry.
	os.RemoveAll(filepath.Join(f.C.Home.Path("inbox"), "ca"))
	st, _, b := f.PutStream(tok, name, 0, flip(len(stream)-1), sig, man, true)
	if st != http.StatusBadRequest || !strings.Contains(string(b), "does not match its hash") {
		t.Errorf("a bad chunk: %d %s", st, b)
	}
	for file := range inboxOf(f, "ca") {
		if strings.HasPrefix(filepath.Base(file), ".part") {
			t.Errorf("the bad chunk stays as %s", file)
		}
	}
	if got := f.ExecutionsOf(); len(got) != 0 {
		t.Errorf("central holds %v", got)
	}
	if st, b := f.API(http.MethodGet, api.Prefix+"/results/"+name+"?bundle_id=00000000000000000000000000000000", tok, nil, ""); st != 400 {
		t.Errorf("a bundle_id not of the bundle: %d %s", st, b)
	}
}

// TestUploadQuotaInFlight: the bytes of an upload running count in the
// quota from its start, and the sweep leaves a client with an upload
// running alone.
func TestUploadQuotaInFlight(t *testing.T) { testfixture.OnEngines(t, testUploadQuotaInFlight) }

func testUploadQuotaInFlight(t *testing.T, engine string) {
	f := testfixture.NewOn(t, engine)
	f.S.Quota.Bytes = 1000
	f.Start(nil)
	_, tok := resultBundle(t, f, 1)
	held := "results-ca-000100-0000aaaa"
	pr, pw := io.Pipe()
	req, err := http.NewRequestWithContext(f.Ctx, http.MethodPut, f.URL+api.Prefix+"/results/"+held+"/"+manifest.SigName, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = 600
	req.Header.Set("Authorization", "Bearer "+tok)
	done := make(chan int, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	pw.Write([]byte(strings.Repeat("x", 10)))
	deadline := time.Now().Add(10 * time.Second)
	for len(inboxOf(f, "ca")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the held upload did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	st, b := f.API(http.MethodPut, api.Prefix+"/results/results-ca-000101-0000bbbb/"+manifest.SigName, tok, strings.NewReader(strings.Repeat("y", 500)), "application/octet-stream")
	if st != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), "at most 1000 bytes of uncommitted uploads per client, and 600 are held") {
		t.Errorf("an upload beside one running: %d %s, want 413", st, b)
	}
	later := time.Now().Add(2 * f.S.Quota.Lifetime)
	if n, err := f.S.Sweep(later); n != 0 || err != nil {
		t.Errorf("the sweep removed %d (%v) of a client uploading", n, err)
	}
	pw.Write([]byte(strings.Repeat("x", 590)))
	pw.Close()
	if st := <-done; st != http.StatusCreated {
		t.Fatalf("the held upload: %d", st)
	}
	if n, err := f.S.Sweep(later); n != 1 || err != nil {
		t.Errorf("the sweep once the upload is done: %d removed, %v", n, err)
	}
}

// TestUploadQuotaOverflow: a Content-Length near the top of int64 cannot
// wrap the byte quota around: the request is refused before anything of
// its body is kept.
func TestUploadQuotaOverflow(t *testing.T) { testfixture.OnEngines(t, testUploadQuotaOverflow) }

func testUploadQuotaOverflow(t *testing.T, engine string) {
	f := testfixture.NewOn(t, engine)
	f.Start(nil)
	dir, tok := resultBundle(t, f, 2)
	stream, sig, man := testfixture.Stream(t, dir)
	name := filepath.Base(dir)
	f.S.Quota.Bytes = 10
	// One byte held first: the sum of what is held and a body near the
	// top of int64 would wrap.
	if st, _, b := f.PutStream(tok, name, 0, stream[:1], sig, man, false); st != http.StatusOK {
		t.Fatalf("the first byte: %d %s", st, b)
	}
	before := inboxOf(f, "ca")
	conn, err := net.Dial("tcp", strings.TrimPrefix(f.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "PUT %s/results/%s?commit=true HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/octet-stream\r\nUpload-Offset: 1\r\nUpload-Signature-Size: %d\r\nUpload-Manifest-Size: %d\r\n"+
		"Content-Length: 9223372036854775807\r\n\r\n", api.Prefix, name, tok, sig, man)
	conn.Write(stream[1:])
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), "at most 10 bytes") {
		t.Errorf("%d %s, want 413 naming the quota", resp.StatusCode, b)
	}
	if after := inboxOf(f, "ca"); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("the inbox went from %v to %v", before, after)
	}
}
