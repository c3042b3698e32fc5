package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/taosync/taosync/internal/api"
	"github.com/taosync/taosync/internal/central"
	"github.com/taosync/taosync/internal/client"
	"github.com/taosync/taosync/internal/config"
	"github.com/taosync/taosync/internal/s3test"
	"github.com/taosync/taosync/internal/server"
	"github.com/taosync/taosync/internal/testfixture"
	"github.com/taosync/taosync/manifest"
)

// TestSyncOnBlobs: with central's blobs in the home (file://) or in an
// S3 store (versitygw), a client pulls and imports its data, resumes a
// download by Range, sends results and gets their receipts; the prepared
// bundle lies in the blobs. A chunk corrupted in the blobs is never served
// whole, and a truncated one never applied; the damaged bundle goes, and
// the client's next pull gets its data.
func TestSyncOnBlobs(t *testing.T) {
	for _, backend := range []string{"file", "s3"} {
		t.Run(backend, func(t *testing.T) { testSyncOnBlobs(t, backend) })
	}
}

func testSyncOnBlobs(t *testing.T, backend string) {
	f := testfixture.New(t)
	// objects is the folder that holds the blobs' objects.
	objects := f.C.Home.Dir
	if backend == "s3" {
		s3 := s3test.ForTest(t)
		if err := f.C.UseBlobs(f.Ctx, s3.URL()); err != nil {
			t.Fatal(err)
		}
		objects = filepath.Join(s3.Dir, s3test.Bucket)
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
	inStore := filepath.Join(objects, "spool", "ca", ref.Bundle)
	if _, err := os.Stat(filepath.Join(inStore, manifest.FileName)); err != nil {
		t.Fatalf("the prepared bundle is not in the blobs: %v", err)
	}
	if backend == "s3" {
		if _, err := os.Stat(filepath.Join(f.C.Home.Dir, "spool", "ca", ref.Bundle)); !os.IsNotExist(err) {
			t.Fatalf("the home keeps a copy of a bundle in the object store: %v", err)
		}
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
			obj := filepath.Join(objects, "spool", "cc", ref.Bundle, file.Name)
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
	// The damaged bundle went: the next pulls export the data again, and
	// the client applies it.
	for i := range 2 {
		if lines, err := f.Syncer("cc").Data(f.Ctx, nil, false); err != nil {
			t.Fatalf("pull %d after the damage: %v %+v", i+1, err, lines)
		}
	}
	if got, want := testfixture.ToStrings(testfixture.Entities(t, cc)), testfixture.ToStrings(testfixture.ScopeA); !reflect.DeepEqual(got, want) {
		t.Fatalf("client holds %v\nwant %v", got, want)
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

// replica opens a second central on f's home as another machine would: the
// same database and keys, its own spool, inbox and package store folders,
// and the blobs at url; it serves on loopback with f's server's quota, and
// returns its URL and its home folder. Replicas on several machines share
// a PostgreSQL database: f's is one (testfixture.NewOn).
func replica(t *testing.T, f *testfixture.Fixture, url string) (string, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "replica")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(f.C.Home.Dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if n := e.Name(); n == "spool" || n == "inbox" || n == "store" {
			if err := os.MkdirAll(filepath.Join(dir, n), 0o700); err != nil {
				t.Fatal(err)
			}
		} else {
			if err := os.Symlink(filepath.Join(f.C.Home.Dir, n), filepath.Join(dir, n)); err != nil {
				t.Fatal(err)
			}
		}
	}
	c, err := central.Open(f.Ctx, dir, f.Log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.UseBlobs(f.Ctx, url); err != nil {
		t.Fatal(err)
	}
	s := server.New(c, f.Log)
	s.Quota = f.S.Quota
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return srv.URL, dir
}

// onObjectStore starts a central on PostgreSQL with its blobs in an S3
// store, and client ca holding its data.
func onObjectStore(t *testing.T) (*testfixture.Fixture, *client.Client, *s3test.Server) {
	t.Helper()
	s3 := s3test.ForTest(t)
	f := testfixture.NewOn(t, "postgres")
	if err := f.C.UseBlobs(f.Ctx, s3.URL()); err != nil {
		t.Fatal(err)
	}
	f.Start(nil)
	a := f.Register("ca", "A")
	if _, err := f.Syncer("ca").Data(f.Ctx, nil, false); err != nil {
		t.Fatal(err)
	}
	return f, a, s3
}

// TestUploadAcrossReplicas: with the database on PostgreSQL and the blobs
// in an S3 store, a result bundle's upload begun on one replica, cut in a
// chunk, goes on on another from the end of the last whole file that
// came, and commits there; the store keeps nothing of it afterwards, and the first replica
// answers the same commit again and the receipts with the receipt bundle
// the other made, and copies none still being written.
func TestUploadAcrossReplicas(t *testing.T) {
	f, a, s3 := onObjectStore(t)
	// One execution a chunk: a bundle of three chunks.
	if _, err := config.Set(f.Ctx, a.Home.DB, "results.chunkSize", "1"); err != nil {
		t.Fatal(err)
	}
	testfixture.AddResults(t, a, "x", 3)
	dir, tok := testfixture.ExportResults(t, a), f.TokenFor("ca")
	stream, sig, man := testfixture.Stream(t, dir)
	name := filepath.Base(dir)
	m, err := manifest.Parse(stream[sig : sig+man])
	if err != nil {
		t.Fatal(err)
	}
	whole := sig + man + int(m.Sections[0].Chunks[0].Size)
	// Replica 1 gets the head, the first chunk and a part of the next.
	if st, _, b := f.PutStream(tok, name, 0, stream[:whole+5], sig, man, false); st != 200 {
		t.Fatalf("first part: %d %s", st, b)
	}
	// Replica 2 holds what came whole, and takes the rest.
	first := f.URL
	f.URL, _ = replica(t, f, s3.URL())
	defer func() { f.URL = first }()
	tok2 := f.TokenFor("ca")
	st, b := f.API(http.MethodGet, api.Prefix+"/results/"+name, tok2, nil, "")
	var us api.UploadStatus
	if err := json.Unmarshal(b, &us); st != 200 || err != nil || us.Offset != int64(whole) {
		t.Fatalf("status on the other replica: %d %s, want offset %d", st, b, whole)
	}
	st, _, b = f.PutStream(tok2, name, int64(whole), stream[whole:], sig, man, true)
	if err := json.Unmarshal(b, &us); st != 200 || err != nil || us.State != api.StateCommitted || us.Receipt == nil {
		t.Fatalf("the rest and the commit on the other replica: %d %s", st, b)
	}
	if n := f.ExecutionsOf()["ca"]; n != 3 {
		t.Fatalf("central holds %d executions of ca, want 3", n)
	}
	if left, err := f.C.Blobs.List(f.Ctx, "inbox/", ""); err != nil || len(left) != 0 {
		t.Fatalf("left in the store's inbox: %v %v", left, err)
	}
	// A receipt bundle of the batch that another replica is still writing
	// (no manifest yet) is not copied.
	half := "receipts-ca-000001-0badf00d"
	if err := f.C.Blobs.Put(f.Ctx, "spool/ca/"+half+"/"+manifest.SigName, []byte("sig")); err != nil {
		t.Fatal(err)
	}
	// The client commits again on the first replica (it lost the other's
	// answer). That replica dropped the part of a chunk it held, which no
	// other replica has: it asks for the rest from the end of the last
	// whole file, as the other did; the receipt bundle the other made
	// answers the commit.
	f.URL = first
	var again api.UploadStatus
	if st, _, b := f.PutStream(tok, name, int64(whole+5), stream[whole+5:], sig, man, true); st != http.StatusConflict {
		t.Fatalf("the commit again from the part on the first replica: %d %s, want 409 (send from %d)", st, b, whole)
	}
	st, _, b = f.PutStream(tok, name, int64(whole), stream[whole:], sig, man, true)
	if err := json.Unmarshal(b, &again); st != 200 || err != nil || again.Receipt == nil || again.Receipt.Bundle != us.Receipt.Bundle {
		t.Fatalf("the commit again on the first replica: %d %s, want receipts %s", st, b, us.Receipt.Bundle)
	}
	// The first replica lists the receipt bundle the other made, not one
	// of its own for the same batch.
	st, b = f.API(http.MethodGet, api.Prefix+api.ReceiptsPath, tok, nil, "")
	var list api.ReceiptList
	if err := json.Unmarshal(b, &list); st != 200 || err != nil || len(list.Bundles) != 1 || list.Bundles[0].Bundle != us.Receipt.Bundle {
		t.Fatalf("receipts on the first replica: %d %s, want %s", st, b, us.Receipt.Bundle)
	}
	if _, err := os.Stat(filepath.Join(f.C.Home.Dir, "spool", "ca", half)); !os.IsNotExist(err) {
		t.Fatalf("a receipt bundle still being written was copied: %v", err)
	}
}

// TestPackageAcrossReplicas: with the database on PostgreSQL and the
// blobs in an S3 store, a package published on one replica's home is in
// the store, and a client's pull from another replica, which never held
// it, carries it.
func TestPackageAcrossReplicas(t *testing.T) {
	s3 := s3test.ForTest(t)
	f := testfixture.NewOn(t, "postgres")
	if err := f.C.UseBlobs(f.Ctx, s3.URL()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.C.Publish(f.Ctx, "d1", filepath.Join("..", "..", "testdata", "qti", "WebDeveloperTest1.zip")); err != nil {
		t.Fatal(err)
	}
	kept, err := f.C.Blobs.List(f.Ctx, "store/chunks/", "")
	if err != nil || len(kept) == 0 {
		t.Fatalf("package pieces in the store: %v %v", kept, err)
	}
	var dir string
	f.URL, dir = replica(t, f, s3.URL())
	cl := f.Register("ca", "A")
	if lines, err := f.Syncer("ca").Data(f.Ctx, nil, false); err != nil || len(lines) != 1 || lines[0].Outcome != "applied" {
		t.Fatalf("pull from the other replica: %v %+v", err, lines)
	}
	fetched, _ := filepath.Glob(filepath.Join(dir, "store", "chunks", "*", "*"))
	held, _ := filepath.Glob(filepath.Join(cl.Home.Dir, "store", "chunks", "*", "*"))
	if len(fetched) != len(kept) || len(held) != len(kept) {
		t.Fatalf("%d pieces in the store, %d fetched by the replica, %d on the client", len(kept), len(fetched), len(held))
	}
}

// TestReceiptsAcrossReplicas: with the database on PostgreSQL and the
// blobs in an S3 store, two replicas asked at once for the receipts of a
// batch nobody has made the receipt bundle of yet make one between them:
// every answer names it, the store holds it alone, and its files are the
// same bytes from either replica.
func TestReceiptsAcrossReplicas(t *testing.T) {
	f, a, s3 := onObjectStore(t)
	// Batches imported without their receipt bundles, as central
	// import does it.
	const batches = 6
	opts, err := f.C.Home.ImportOptions(f.Ctx, "usb", f.Log)
	if err != nil {
		t.Fatal(err)
	}
	for i := range batches {
		testfixture.AddResults(t, a, fmt.Sprintf("x%d-", i), 1)
		dir := testfixture.ExportResults(t, a)
		if lines, _, err := f.C.ImportResults(f.Ctx, filepath.Dir(dir), opts, ""); err != nil || len(lines) != 1 || lines[0].Batch != uint64(i+1) {
			t.Fatalf("import: %v %+v", err, lines)
		}
	}
	urls := []string{f.URL}
	u, _ := replica(t, f, s3.URL())
	urls = append(urls, u)
	tok := f.TokenFor("ca")
	get := func(url, p string) (int, []byte, error) {
		req, err := http.NewRequestWithContext(f.Ctx, http.MethodGet, url+api.Prefix+p, nil)
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, b, err
	}
	const each = 4
	answers := make(chan []api.BundleRef, each*len(urls))
	var wg sync.WaitGroup
	for i := range each * len(urls) {
		wg.Go(func() {
			st, b, err := get(urls[i%len(urls)], api.ReceiptsPath)
			var list api.ReceiptList
			if err == nil {
				err = json.Unmarshal(b, &list)
			}
			if st != http.StatusOK || err != nil || len(list.Bundles) != batches {
				t.Errorf("receipts at replica %d: %d %s %v", i%len(urls), st, b, err)
				return
			}
			answers <- list.Bundles
		})
	}
	wg.Wait()
	close(answers)
	var names []string
	for list := range answers {
		for _, ref := range list {
			if !slices.Contains(names, ref.Bundle) {
				names = append(names, ref.Bundle)
			}
		}
	}
	slices.Sort(names)
	spooled, err := f.C.Blobs.List(f.Ctx, "spool/ca/receipts-", "/")
	if err != nil || len(names) != batches || !slices.Equal(baseNames(spooled), names) {
		t.Fatalf("%d batches: receipt bundles answered %v, in the store %v %v", batches, names, spooled, err)
	}
	files, err := f.C.Blobs.List(f.Ctx, spooled[0], "")
	if err != nil || len(files) < 3 {
		t.Fatalf("files of %s: %v %v", names[0], files, err)
	}
	for _, k := range files {
		var got [][]byte
		for _, url := range urls {
			st, b, err := get(url, api.BundleFilePath(names[0], path.Base(k)))
			if st != http.StatusOK || err != nil {
				t.Fatalf("%s from %s: %d %v", k, url, st, err)
			}
			got = append(got, b)
		}
		if !bytes.Equal(got[0], got[1]) {
			t.Errorf("%s differs between the replicas", k)
		}
	}

	// A chunk of the first batch's bundle damaged in the store: a
	// replica that never held it refuses it and makes another, which is
	// then the batch's, in the store alone and at the first replica too.
	var chunk string
	for _, k := range files {
		if api.ValidChunk(path.Base(k)) {
			chunk = k
		}
	}
	if chunk == "" {
		t.Fatalf("no chunk in %v", files)
	}
	if err := os.WriteFile(filepath.Join(s3.Dir, s3test.Bucket, filepath.FromSlash(chunk)), []byte("damaged"), 0o600); err != nil {
		t.Fatal(err)
	}
	third, _ := replica(t, f, s3.URL())
	var fresh []string
	for _, url := range []string{third, urls[0]} {
		st, b, err := get(url, api.ReceiptsPath)
		var list api.ReceiptList
		if err == nil {
			err = json.Unmarshal(b, &list)
		}
		if st != http.StatusOK || err != nil || len(list.Bundles) != batches {
			t.Fatalf("receipts after the damage: %d %s %v", st, b, err)
		}
		fresh = append(fresh, list.Bundles[0].Bundle)
	}
	spooled, err = f.C.Blobs.List(f.Ctx, "spool/ca/receipts-ca-000001-", "/")
	if err != nil || len(spooled) != 1 || fresh[0] == names[0] || fresh[1] != fresh[0] || path.Base(spooled[0]) != fresh[0] {
		t.Fatalf("batch 1 after the damage of %s: answered %v, in the store %v %v", names[0], fresh, spooled, err)
	}

	// A second whole bundle of batch 2 in the store, after the first in
	// name order (a replica that lost the lease while its manifest was on
	// the way): the first stays the batch's, and the second goes.
	from := filepath.Join(s3.Dir, s3test.Bucket, "spool", "ca", names[1])
	if err := os.CopyFS(from+"~", os.DirFS(from)); err != nil {
		t.Fatal(err)
	}
	st, b, err := get(third, api.ReceiptsPath)
	var list api.ReceiptList
	if err == nil {
		err = json.Unmarshal(b, &list)
	}
	if st != http.StatusOK || err != nil || len(list.Bundles) != batches || list.Bundles[1].Bundle != names[1] {
		t.Fatalf("receipts beside a second bundle of batch 2: %d %s %v", st, b, err)
	}
	spooled, err = f.C.Blobs.List(f.Ctx, "spool/ca/receipts-ca-000002-", "/")
	if err != nil || !slices.Equal(baseNames(spooled), names[1:2]) {
		t.Fatalf("batch 2 in the store: %v %v, want %s alone", spooled, err, names[1])
	}
}

func baseNames(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = path.Base(k)
	}
	return out
}

// TestUploadQuotaAcrossReplicas: with the blobs in an S3 store, a
// client's open uploads are counted across replicas: with two allowed,
// one open at each replica, a third is refused at both, and a bundle
// opened at one takes more files at the other.
func TestUploadQuotaAcrossReplicas(t *testing.T) {
	f, _, s3 := onObjectStore(t)
	f.S.Quota.Bundles = 2
	urls := []string{f.URL}
	u, _ := replica(t, f, s3.URL())
	urls = append(urls, u)
	defer func() { f.URL = urls[0] }()
	tok := f.TokenFor("ca")
	put := func(at int, bundle, file string) (int, []byte) {
		f.URL = urls[at]
		return f.API(http.MethodPut, api.Prefix+"/results/"+bundle+"/"+file, tok, strings.NewReader("sig"), "application/octet-stream")
	}
	invented := func(i int) string { return fmt.Sprintf("results-ca-%06d-%08x", 100+i, i) }
	for i := range 2 {
		if st, b := put(i, invented(i), manifest.SigName); st != http.StatusCreated {
			t.Fatalf("upload %d at replica %d: %d %s", i, i, st, b)
		}
	}
	for at := range urls {
		if st, b := put(at, invented(2), manifest.SigName); st != http.StatusTooManyRequests || !strings.Contains(string(b), "at most 2 uncommitted result bundles") {
			t.Errorf("a third bundle at replica %d: %d %s, want 429 naming the limit", at, st, b)
		}
	}
	if st, b := put(1, invented(0), manifest.FileName); st != http.StatusCreated {
		t.Errorf("more of the bundle opened at the other replica: %d %s", st, b)
	}
}
