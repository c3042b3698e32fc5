package server_test

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/taosync/taosync/internal/api"
	"github.com/taosync/taosync/internal/config"
	"github.com/taosync/taosync/internal/s3test"
	"github.com/taosync/taosync/internal/testfixture"
	"github.com/taosync/taosync/manifest"
)

// TestSyncOnS3: with central's blobs in an S3 store (versitygw), a client
// pulls and imports its data, resumes a download by Range, sends results
// and gets their receipts; the prepared bundle lies in the store, not only
// in the home. A chunk corrupted in the store is never served whole, and
// never applied.
func TestSyncOnS3(t *testing.T) {
	s3 := s3test.ForTest(t)
	f := testfixture.New(t)
	if err := f.C.UseBlobs(f.Ctx, s3.URL()); err != nil {
		t.Fatal(err)
	}
	f.Start(nil)
	cl := f.Register("ca", "A")
	lines, err := f.Syncer("ca").Data(f.Ctx, nil, false)
	if err != nil || len(lines) != 1 || lines[0].Outcome != "applied" {
		t.Fatalf("pull: %v %+v", err, lines)
	}
	if got, want := testfixture.ToStrings(testfixture.Entities(t, cl)), testfixture.ToStrings(testfixture.ScopeA); !reflect.DeepEqual(got, want) {
		t.Fatalf("client holds %v\nwant %v", got, want)
	}
	ref := f.Pull(f.TokenFor("ca"))
	inStore := filepath.Join(s3.Dir, s3test.Bucket, "spool", "ca", ref.Bundle)
	if _, err := os.Stat(filepath.Join(inStore, manifest.FileName)); err != nil {
		t.Fatalf("the prepared bundle is not in the object store: %v", err)
	}

	// A download resumed by Range is served from the store.
	var chunk api.File
	for _, file := range ref.Files {
		if api.ValidChunk(file.Name) && file.Size > 20 {
			chunk = file
		}
	}
	if chunk.Name == "" {
		t.Fatal("no chunk in the bundle")
	}
	url := f.URL + api.Prefix + api.BundleFilePath(ref.Bundle, chunk.Name)
	token := f.TokenFor("ca")
	get := func(rng string) (*http.Response, []byte, error) {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp, b, err
	}
	resp, whole, err := get("")
	if err != nil || resp.StatusCode != 200 || int64(len(whole)) != chunk.Size {
		t.Fatalf("whole chunk: %v, %d bytes", err, len(whole))
	}
	resp, part, err := get("bytes=10-")
	if err != nil || resp.StatusCode != http.StatusPartialContent || !bytes.Equal(part, whole[10:]) {
		t.Fatalf("range: %v %v, %d bytes", err, resp.Status, len(part))
	}

	// Results go up, and their receipts come back.
	testfixture.AddResults(t, cl, "x", 3)
	if lines, err := f.Syncer("ca").Results(f.Ctx); err != nil || len(lines) != 1 || lines[0].Outcome != "applied" {
		t.Fatalf("results: %v %+v", err, lines)
	}
	if n := f.ExecutionsOf()["ca"]; n != 3 {
		t.Fatalf("central holds %d executions of ca, want 3", n)
	}
	if _, err := f.Syncer("ca").Receipts(f.Ctx); err != nil {
		t.Fatalf("receipts: %v", err)
	}
	f.CheckStatus("ca", 1, 3)

	// A chunk corrupted in the store is cut short, never served whole.
	obj := filepath.Join(inStore, chunk.Name)
	bad := bytes.Clone(whole)
	bad[len(bad)/2] ^= 1
	if err := os.WriteFile(obj, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	if resp, got, err := get(""); err == nil && resp.StatusCode == 200 && int64(len(got)) == chunk.Size {
		t.Fatalf("a corrupted chunk was served whole")
	}
	// A client whose bundle has a chunk corrupted in the store refuses it
	// by its hash, and applies nothing.
	cc := f.Register("cc", "A")
	if _, err := config.Set(f.Ctx, cc.Home.DB, "sync.retryWait", "1s"); err != nil {
		t.Fatal(err)
	}
	ref = f.Pull(f.TokenFor("cc"))
	for _, file := range ref.Files {
		if api.ValidChunk(file.Name) {
			obj := filepath.Join(s3.Dir, s3test.Bucket, "spool", "cc", ref.Bundle, file.Name)
			if err := os.Truncate(obj, file.Size/2); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	lines, err = f.Syncer("cc").Data(f.Ctx, nil, false)
	t.Logf("pull of a truncated chunk: %v", err)
	if err == nil {
		t.Fatalf("a bundle with a truncated chunk: %+v, want an error", lines)
	}
	if got := testfixture.Entities(t, cc); len(got) != 0 {
		t.Fatalf("the client applied %v", got)
	}
}

// TestObjectStoreDown: while central's object store does not answer, a
// pull is answered 503 with Retry-After; a client's sync that started
// then retries, and completes once the store is back.
func TestObjectStoreDown(t *testing.T) {
	s3 := s3test.ForTest(t)
	f := testfixture.New(t)
	if err := f.C.UseBlobs(f.Ctx, s3.URL()); err != nil {
		t.Fatal(err)
	}
	f.Start(nil)
	cl := f.Register("ca", "A")
	s3.Stop()
	req, _ := http.NewRequest("POST", f.URL+api.Prefix+api.PullPath, strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer "+f.TokenFor("ca"))
	req.Header.Set("Content-Type", "application/json")
	st, h, _ := f.Do(req)
	if st != http.StatusServiceUnavailable || h.Get("Retry-After") == "" {
		t.Fatalf("pull with the store down: %d, Retry-After %q; want 503 with one", st, h.Get("Retry-After"))
	}
	done := make(chan error, 1)
	go func() {
		_, err := f.Syncer("ca").Data(f.Ctx, nil, false)
		done <- err
	}()
	// The sync is retrying (or about to): bring the store back.
	time.Sleep(500 * time.Millisecond)
	if err := s3.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("sync across the store's restart: %v", err)
	}
	if got, want := testfixture.ToStrings(testfixture.Entities(t, cl)), testfixture.ToStrings(testfixture.ScopeA); !reflect.DeepEqual(got, want) {
		t.Fatalf("client holds %v\nwant %v", got, want)
	}
}
