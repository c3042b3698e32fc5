package server_test

import (
	"context"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/taosync/taosync/internal/api"
	"github.com/taosync/taosync/internal/testfixture"
	"github.com/taosync/taosync/manifest"
)

// aged sets the times of every file and folder under root to age ago.
func aged(t *testing.T, root string, age time.Duration) {
	t.Helper()
	old := time.Now().Add(-age)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Chtimes(p, old, old)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestStaleUploadsFreeTheQuota: on both blob stores, an upload nothing was
// written to for the upload lifetime holds no room of its client's quota,
// in a replica's inbox or in the blobs, and serve's housekeeping removes
// it from the blobs after the lifetime, not after gc.age.
func TestStaleUploadsFreeTheQuota(t *testing.T) {
	for _, backend := range []string{"file", "s3"} {
		t.Run(backend, func(t *testing.T) {
			f := testfixture.New(t)
			objects := blobsOn(t, f, backend)
			f.S.Quota.Bundles, f.S.Quota.Lifetime = 1, time.Hour
			f.Start(nil)
			f.Register("ca", "A")
			tok := f.TokenFor("ca")
			stale := "inbox/ca/results-ca-000100-00000064"
			if err := f.C.Blobs.Put(f.Ctx, stale+"/"+manifest.SigName, []byte("sig")); err != nil {
				t.Fatal(err)
			}
			aged(t, filepath.Join(objects, "inbox"), 2*time.Hour)
			fresh := "results-ca-000101-00000065"
			if st, b := f.API(http.MethodPut, api.Prefix+"/results/"+fresh+"/"+manifest.SigName, tok, strings.NewReader("sig"), "application/octet-stream"); st != http.StatusCreated {
				t.Fatalf("an upload beside one untouched for twice the lifetime: %d %s, want 201", st, b)
			}
			if st, b := f.API(http.MethodPut, api.Prefix+"/results/results-ca-000102-00000066/"+manifest.SigName, tok, strings.NewReader("sig"), "application/octet-stream"); st != http.StatusTooManyRequests {
				t.Fatalf("a second upload within the lifetime: %d %s, want 429", st, b)
			}

			ctx, cancel := context.WithCancel(f.Ctx)
			done := make(chan struct{})
			go func() { defer close(done); f.S.Collect(ctx) }()
			defer func() { cancel(); <-done }()
			for i := 0; ; i++ {
				left, err := f.C.Blobs.List(f.Ctx, stale+"/", "")
				if err != nil {
					t.Fatal(err)
				}
				if len(left) == 0 {
					break
				}
				if i == 600 {
					t.Fatalf("the housekeeping left %v a minute after it started", left)
				}
				time.Sleep(100 * time.Millisecond)
			}
			if ok, err := f.C.Blobs.Exists(f.Ctx, "inbox/ca/"+fresh+"/"+manifest.SigName); !ok || err != nil {
				t.Fatalf("the housekeeping removed the upload within its lifetime: %v", err)
			}
		})
	}
}

// TestCommittedUploadLeftIsDropped: with the blobs in an S3 store, the
// copy of an upload a replica imported and did not remove (it was killed
// between the two), in the blobs and in its inbox, is removed when the
// client asks for the upload's state with its id, which answers that it
// is committed: the copy in the blobs at once, the replica's own once
// nobody holds the upload's claim; it then holds no room of the client's
// quota.
func TestCommittedUploadLeftIsDropped(t *testing.T) {
	f, a, _ := onObjectStore(t)
	f.S.Quota.Bundles = 1
	testfixture.AddResults(t, a, "x", 2)
	dir, tok := testfixture.ExportResults(t, a), f.TokenFor("ca")
	stream, sig, man := testfixture.Stream(t, dir)
	name := filepath.Base(dir)
	if st, _, b := f.PutStream(tok, name, 0, stream, sig, man, true); st != http.StatusOK {
		t.Fatalf("the upload and its commit: %d %s", st, b)
	}
	local := filepath.Join(f.C.Home.Dir, "inbox", "ca", name)
	if err := os.MkdirAll(local, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, file := range testfixture.BundleFiles(t, dir) {
		body, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		if err := f.C.Blobs.Put(f.Ctx, "inbox/ca/"+name+"/"+file, body); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(local, file), body, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	m, err := manifest.Parse(stream[sig : sig+man])
	if err != nil {
		t.Fatal(err)
	}
	ask := func() {
		t.Helper()
		st, b := f.API(http.MethodGet, api.Prefix+"/results/"+name+"?bundle_id="+m.ID, tok, nil, "")
		if st != http.StatusOK || !strings.Contains(string(b), `"state":"committed"`) {
			t.Fatalf("the state of the upload committed: %d %s", st, b)
		}
	}
	// The killed replica's claim on the upload is held until it expires:
	// the copy in the store goes, the one a request may be writing to
	// stays.
	claim := "bundle/ca/" + name
	if ok, err := f.C.Store.TakeLease(f.Ctx, claim, "killed replica", 0, time.Hour); !ok || err != nil {
		t.Fatalf("take the upload's claim: %v %v", ok, err)
	}
	ask()
	if left, err := f.C.Blobs.List(f.Ctx, "inbox/", ""); err != nil || len(left) != 0 {
		t.Errorf("left in the store's inbox: %v %v", left, err)
	}
	if kept := inboxOf(f, "ca"); len(kept) == 0 {
		t.Errorf("the replica's copy went while another held the upload's claim")
	}
	if err := f.C.Store.ReleaseLease(f.Ctx, claim, "killed replica"); err != nil {
		t.Fatal(err)
	}
	ask()
	if left := inboxOf(f, "ca"); len(left) != 0 {
		t.Errorf("left in the replica's inbox: %v", left)
	}
	if st, b := f.API(http.MethodPut, api.Prefix+"/results/results-ca-000100-00000064/"+manifest.SigName, tok, strings.NewReader("sig"), "application/octet-stream"); st != http.StatusCreated {
		t.Errorf("the next upload: %d %s, want 201", st, b)
	}
}

// TestLostClaimPushesNothing: a replica whose claim on an upload is lost
// while it copies the files it received into the object store stops, and
// answers 503: another replica may have committed the upload and removed
// it from the store meanwhile, as here, and the copy would bring it back
// to hold the client's quota.
func TestLostClaimPushesNothing(t *testing.T) { testfixture.OnEngines(t, testLostClaimPushesNothing) }

func testLostClaimPushesNothing(t *testing.T, engine string) {
	f := testfixture.NewOn(t, engine)
	g := newSlowStore(t)
	if err := f.C.UseBlobs(f.Ctx, g.url); err != nil {
		t.Fatal(err)
	}
	f.S.LeaseTTL = 300 * time.Millisecond
	f.Start(nil)
	a := f.Register("ca", "A")
	if _, err := f.Syncer("ca").Data(f.Ctx, nil, false); err != nil {
		t.Fatal(err)
	}
	testfixture.AddResults(t, a, "x", 2)
	dir, tok := testfixture.ExportResults(t, a), f.TokenFor("ca")
	stream, sig, man := testfixture.Stream(t, dir)
	name := filepath.Base(dir)
	other := *f
	other.URL, _ = replica(t, f, g.direct)

	g.hold(writes("inbox/ca/"))
	replies := make(chan int, 1)
	go func() {
		st, _, _ := f.PutStream(tok, name, 0, stream, sig, man, false)
		replies <- st
	}()
	g.waitHeld(t)
	claim := "bundle/ca/" + name
	steal(t, f, claim)
	if err := f.C.Store.ReleaseLease(f.Ctx, claim, "another replica"); err != nil {
		t.Fatal(err)
	}
	st, _, b := other.PutStream(tok, name, 0, stream, sig, man, true)
	if st != http.StatusOK || !strings.Contains(string(b), `"state":"committed"`) {
		t.Fatalf("the upload and its commit at the other replica: %d %s", st, b)
	}
	if st := answer(t, replies); st != http.StatusServiceUnavailable {
		t.Errorf("the upload whose claim was lost: %d, want 503", st)
	}
	g.release()
	if left, err := f.C.Blobs.List(f.Ctx, "inbox/", ""); err != nil || len(left) != 0 {
		t.Errorf("left in the store's inbox: %v %v", left, err)
	}
}
