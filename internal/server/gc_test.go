package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/taosync/taosync/internal/api"
	"github.com/taosync/taosync/internal/central"
	"github.com/taosync/taosync/internal/s3test"
	"github.com/taosync/taosync/internal/server"
	"github.com/taosync/taosync/internal/store"
	"github.com/taosync/taosync/internal/testfixture"
	"github.com/taosync/taosync/manifest"
)

// TestGCKeepsWhatIsInUse: on both blob stores and both engines, with
// everything aged past gc's age but an upload within it, a sweep removes
// a .partial leftover, a data bundle no client needs, an abandoned upload
// and a bundle of a client central does not know, and keeps the data
// bundle the client was handed and has not applied, the receipt bundle it
// has not fetched, the upload within its age and every package piece; the
// client then completes its pull, its upload and its receipts. A dry run
// removes nothing; a sweep while another holds the lease is refused, naming
// the holder.
func TestGCKeepsWhatIsInUse(t *testing.T) {
	testfixture.OnEngines(t, func(t *testing.T, engine string) {
		for _, backend := range []string{"file", "s3"} {
			t.Run(backend, func(t *testing.T) { testGC(t, engine, backend) })
		}
	})
}

// blobsOn puts central's blobs on backend, "file" (the home) or "s3" (a
// versitygw of the test's), and returns the folder that holds the
// objects.
func blobsOn(t *testing.T, f *testfixture.Fixture, backend string) string {
	t.Helper()
	if backend == "file" {
		return f.C.Home.Dir
	}
	s3 := s3test.ForTest(t)
	if err := f.C.UseBlobs(f.Ctx, s3.URL()); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(s3.Dir, s3test.Bucket)
}

func testGC(t *testing.T, engine, backend string) {
	f := testfixture.NewOn(t, engine)
	ctx := f.Ctx
	objects := blobsOn(t, f, backend)
	if _, _, err := f.C.Publish(ctx, "d1", filepath.Join("..", "..", "testdata", "qti", "WebDeveloperTest1.zip")); err != nil {
		t.Fatal(err)
	}
	f.Start(nil)
	cl := f.Register("ca", "A")

	// A receipt bundle the client has not fetched: results committed,
	// receipts never asked for.
	testfixture.AddResults(t, cl, "x", 2)
	up := testfixture.ExportResults(t, cl)
	token := f.TokenFor("ca")
	stream, sig, man := testfixture.Stream(t, up)
	if st, _, b := f.PutStream(token, filepath.Base(up), 0, stream, sig, man, true); st != http.StatusOK {
		t.Fatalf("commit: %d %s", st, b)
	}
	// The data bundle it was handed, not applied yet.
	ref := f.Pull(token)
	// An upload under way.
	testfixture.AddResults(t, cl, "y", 2)
	up = testfixture.ExportResults(t, cl)
	stream, sig, man = testfixture.Stream(t, up)
	cut := len(stream) - 10
	if st, _, b := f.PutStream(token, filepath.Base(up), 0, stream[:cut], sig, man, false); st != http.StatusOK {
		t.Fatalf("part of an upload: %d %s", st, b)
	}
	// Leftovers.
	stale := []string{
		"spool/ca/.data-ca-000009-00000000.partial",
		"spool/ca/data-ca-000001-0badbeef",
		"spool/gone/data-gone-000001-12345678",
		"inbox/ca/results-ca-000042-abcdef12",
	}
	for _, s := range stale {
		if err := f.C.Blobs.Put(ctx, s+"/"+manifest.FileName, []byte("{}")); err != nil {
			t.Fatal(err)
		}
	}
	if backend == "s3" {
		// The home's own spool: a bundle killed while being written.
		p := filepath.Join(f.C.Home.Dir, "spool", "ca", ".data-ca-000010-00000000.partial")
		if err := os.MkdirAll(p, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p, "x"), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pieces, err := f.C.Blobs.Objects(ctx, "store/chunks/")
	if err != nil || len(pieces) == 0 {
		t.Fatalf("package pieces in the blobs: %d %v", len(pieces), err)
	}

	// Everything ages past gc's age, but the upload under way, which is
	// an hour within it.
	const age = 72 * time.Hour
	upload := filepath.Join("inbox", "ca", filepath.Base(up))
	for _, root := range []string{objects, f.C.Home.Dir} {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			when := time.Now().Add(-100 * 24 * time.Hour)
			if strings.HasPrefix(rel, upload) {
				when = time.Now().Add(-age + time.Hour)
			}
			return os.Chtimes(p, when, when)
		})
	}

	dry, err := f.C.GC(ctx, central.GCOptions{Age: age, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := f.C.Store.TakeLease(ctx, central.GCLease, "serve elsewhere:1", 0, time.Hour); !ok || err != nil {
		t.Fatal(err)
	}
	_, err = f.C.GC(ctx, central.GCOptions{Age: age, Holder: "test"})
	var held *central.LeaseHeldError
	if !errors.As(err, &held) || !strings.Contains(err.Error(), "serve elsewhere:1 holds the lease") {
		t.Fatalf("a sweep while another holds the lease: %v", err)
	}
	if err := f.C.Store.ReleaseLease(ctx, central.GCLease, "serve elsewhere:1"); err != nil {
		t.Fatal(err)
	}
	for _, s := range stale {
		if ok, err := f.C.Blobs.Exists(ctx, s+"/"+manifest.FileName); !ok || err != nil {
			t.Fatalf("%s went before the sweep: %v", s, err)
		}
	}
	rep, err := f.C.GC(ctx, central.GCOptions{Age: age, Holder: "test"})
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(stale)
	if backend == "s3" {
		want = append(want, "spool/ca/.data-ca-000010-00000000.partial")
	}
	slices.Sort(want)
	got := slices.Sorted(slices.Values(rep.Removed))
	if !slices.Equal(got, want) || !slices.Equal(slices.Sorted(slices.Values(dry.Removed)), want) {
		t.Fatalf("removed %v (dry run: %v)\nwant %v", got, dry.Removed, want)
	}
	if rep.Partial.Count != len(want)-3 || rep.Prepared.Count != 2 || rep.Uploads.Count != 1 || rep.Uploads.Bytes != 2 {
		t.Fatalf("report %+v", rep)
	}
	for _, s := range want {
		if keys, err := f.C.Blobs.List(ctx, s+"/", ""); len(keys) != 0 || err != nil {
			t.Fatalf("%s is still there: %v %v", s, keys, err)
		}
		if _, err := os.Stat(filepath.Join(f.C.Home.Dir, filepath.FromSlash(s))); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%s is still in the home: %v", s, err)
		}
	}
	for _, keep := range []string{path.Join("spool", "ca", ref.Bundle), upload} {
		if keys, err := f.C.Blobs.List(ctx, filepath.ToSlash(keep)+"/", ""); len(keys) == 0 || err != nil {
			t.Fatalf("%s went: %v", keep, err)
		}
	}
	receipts, err := f.C.Blobs.List(ctx, "spool/ca/receipts-", "/")
	if len(receipts) != 1 || err != nil {
		t.Fatalf("receipt bundles kept: %v %v", receipts, err)
	}
	if after, err := f.C.Blobs.Objects(ctx, "store/chunks/"); len(after) != len(pieces) || err != nil {
		t.Fatalf("%d package pieces after the sweep, want %d: %v", len(after), len(pieces), err)
	}

	// The client completes what it had under way.
	if again := f.Pull(token); again.Bundle != ref.Bundle {
		t.Fatalf("pull after the sweep: %s, want the bundle handed before, %s", again.Bundle, ref.Bundle)
	}
	if lines, err := f.Syncer("ca").Data(ctx, nil, false); err != nil || len(lines) != 1 || lines[0].Outcome != "applied" {
		t.Fatalf("pull: %v %+v", err, lines)
	}
	// It asks where to go on from, as a client does: with the blobs in an
	// object store, from the end of the last whole file, which every
	// replica holds.
	st, b := f.API(http.MethodGet, api.Prefix+"/results/"+filepath.Base(up), token, nil, "")
	var came api.UploadStatus
	if err := json.Unmarshal(b, &came); st != http.StatusOK || err != nil || came.Offset > int64(cut) {
		t.Fatalf("upload status: %d %s (at most %d bytes came)", st, b, cut)
	}
	if st, _, b := f.PutStream(token, filepath.Base(up), came.Offset, stream[came.Offset:], sig, man, true); st != http.StatusOK {
		t.Fatalf("rest of the upload: %d %s", st, b)
	}
	if n := f.ExecutionsOf()["ca"]; n != 4 {
		t.Fatalf("central holds %d executions of ca, want 4", n)
	}
	if _, err := f.Syncer("ca").Receipts(ctx); err != nil {
		t.Fatalf("receipts: %v", err)
	}
	f.CheckStatus("ca", 2, 4)
}

// TestCollectTakesTurns: serve's housekeeping sweeps only when it gets the
// lease: while another replica holds it, it skips its round and removes
// nothing; once the lease is free, it sweeps and gives the lease back.
func TestCollectTakesTurns(t *testing.T) {
	logged := testfixture.DefaultLog(t)
	f := testfixture.New(t)
	ctx := f.Ctx
	stale := filepath.Join(f.C.Home.Dir, "spool", "ca", ".data-ca-000009-00000000.partial")
	if err := os.MkdirAll(stale, 0o700); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-100 * 24 * time.Hour)
	for _, p := range []string{filepath.Join(stale, "x"), stale} {
		if p != stale {
			if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := f.C.Store.TakeLease(ctx, central.GCLease, "serve other:1", 0, time.Hour); !ok || err != nil {
		t.Fatal(ok, err)
	}
	collect := func(until string) {
		t.Helper()
		s := server.New(f.C, nil)
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { s.Collect(cctx); close(done) }()
		defer func() { cancel(); <-done }()
		// Bounded: the first round runs at once.
		for range 1000 {
			if strings.Contains(logged(), until) {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("no %q in the log:\n%s", until, logged())
	}
	collect("another replica sweeps")
	if _, err := os.Stat(stale); err != nil {
		t.Fatalf("swept while another held the lease: %v", err)
	}
	if err := f.C.Store.ReleaseLease(ctx, central.GCLease, "serve other:1"); err != nil {
		t.Fatal(err)
	}
	collect("removed leftovers from the blobs")
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the leftover is still there: %v", err)
	}
	if l, err := f.C.Store.GetLease(ctx, central.GCLease); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the lease was not given back: %+v %v", l, err)
	}
}

// TestSweepLeavesUploadsRunning: on both blob stores, the one sweep of
// uploads, of the blobs (central.GC) and of a replica's own inbox
// (Server.Sweep) alike, leaves alone the old uploads of a client with an
// upload running at any replica, and removes them once it has none.
func TestSweepLeavesUploadsRunning(t *testing.T) {
	for _, backend := range []string{"file", "s3"} {
		t.Run(backend, func(t *testing.T) {
			f := testfixture.New(t)
			ctx := f.Ctx
			objects := blobsOn(t, f, backend)
			f.Register("ca", "A")
			if err := f.C.Blobs.Put(ctx, "inbox/ca/results-ca-000042-abcdef12/"+manifest.SigName, []byte("sig")); err != nil {
				t.Fatal(err)
			}
			own := filepath.Join(f.C.Home.Dir, "inbox", "ca", "results-ca-000043-abcdef13")
			if err := os.MkdirAll(own, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(own, ".part-head"), []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
			old := time.Now().Add(-100 * 24 * time.Hour)
			for _, root := range []string{filepath.Join(objects, "inbox"), filepath.Join(f.C.Home.Dir, "inbox")} {
				filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
					if err != nil {
						return err
					}
					return os.Chtimes(p, old, old)
				})
			}
			sweep := func() int {
				t.Helper()
				rep, err := f.C.GC(ctx, central.GCOptions{Age: time.Hour, Holder: "test"})
				if err != nil {
					t.Fatal(err)
				}
				n, err := f.S.Sweep(time.Now())
				if err != nil {
					t.Fatal(err)
				}
				return rep.Uploads.Count + n
			}
			if ok, err := f.C.Store.TakeLease(ctx, central.UploadLease("ca", 3), "another replica", 0, time.Hour); !ok || err != nil {
				t.Fatal(ok, err)
			}
			if n := sweep(); n != 0 {
				t.Fatalf("%d uploads removed of a client with one running", n)
			}
			if err := f.C.Store.ReleaseLease(ctx, central.UploadLease("ca", 3), "another replica"); err != nil {
				t.Fatal(err)
			}
			if n := sweep(); n != 2 {
				t.Errorf("%d uploads removed once none runs, want 2", n)
			}
			if left, err := f.C.Blobs.List(ctx, "inbox/", ""); len(left) != 0 || err != nil {
				t.Errorf("left in the blobs' inbox: %v %v", left, err)
			}
			if left, _ := os.ReadDir(filepath.Join(f.C.Home.Dir, "inbox")); len(left) != 0 {
				t.Errorf("left in the home's inbox: %v", left)
			}
		})
	}
}
