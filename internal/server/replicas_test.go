package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/taosync/taosync/internal/api"
	"github.com/taosync/taosync/internal/central"
	"github.com/taosync/taosync/internal/server"
	"github.com/taosync/taosync/internal/testfixture"
)

// TestReplicas: two servers on one central (its database and its folders),
// each with its own connections, as two replicas behind a balancer. Each
// request of a client lands on the other replica than the one before, and
// nothing the first one held in memory is missed: a token from A works at
// B, a pull prepared at A is found and downloaded at B, an upload started
// at A is resumed and committed at B, a pull or upload lock taken by A
// holds at B until it is let go or expires, failed logins at A count at B,
// and a revocation at A is refused at B.
func TestReplicas(t *testing.T) { testfixture.OnEngines(t, testReplicas) }

func testReplicas(t *testing.T, engine string) {
	f := testfixture.NewOn(t, engine)
	f.Start(nil)
	cb, err := central.Open(f.Ctx, f.C.Home.Dir, f.Log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cb.Close() })
	sb := httptest.NewServer(server.New(cb, f.Log).Handler())
	t.Cleanup(sb.Close)
	a := f.URL
	onB := func(fn func()) {
		f.URL = sb.URL
		defer func() { f.URL = a }()
		fn()
	}
	dir, tok := resultBundle(t, f, 3)

	ref := f.Pull(tok)
	onB(func() {
		if again := f.Pull(tok); again.ID != ref.ID {
			t.Errorf("B prepared %s, not A's %s", again.ID, ref.ID)
		}
		for _, file := range ref.Files {
			st, b := f.API(http.MethodGet, api.Prefix+api.BundleFilePath(ref.Bundle, file.Name), tok, nil, "")
			sum := sha256.Sum256(b)
			if st != http.StatusOK || hex.EncodeToString(sum[:]) != file.SHA256 {
				t.Errorf("file %s of A's pull at B: %d, %d bytes", file.Name, st, len(b))
			}
		}
	})

	stream, sig, man := testfixture.Stream(t, dir)
	name := filepath.Base(dir)
	half := len(stream) / 2
	if st, _, b := f.PutStream(tok, name, 0, stream[:half], sig, man, true); st != http.StatusOK {
		t.Fatalf("first half at A: %d %s", st, b)
	}
	onB(func() {
		st, _, b := f.PutStream(tok, name, int64(half), stream[half:], sig, man, true)
		if st != http.StatusOK || !strings.Contains(string(b), `"state":"committed"`) {
			t.Fatalf("the rest and the commit at B: %d %s", st, b)
		}
	})
	f.CheckStatus("ca", 1, 3)

	// A lease another replica holds: B waits for the pull's, and answers
	// 429 when the four uploads' are taken; an expired one is taken over.
	if ok, err := f.C.Store.TakeLease(f.Ctx, "pull/ca", "a", 0, time.Hour); !ok || err != nil {
		t.Fatalf("take the pull's lease: %v %v", ok, err)
	}
	onB(func() {
		ctx, cancel := context.WithTimeout(f.Ctx, 300*time.Millisecond)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.URL+api.Prefix+api.PullPath, strings.NewReader(`{"data_seq":0,"data_bundle":""}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			t.Errorf("a pull at B while A prepares one: %d, want it to wait", resp.StatusCode)
		}
	})
	f.C.Store.ReleaseLease(f.Ctx, "pull/ca", "a")
	if ok, err := f.C.Store.TakeLease(f.Ctx, "pull/ca", "dead", 0, -time.Second); !ok || err != nil {
		t.Fatalf("take an expired lease: %v %v", ok, err)
	}
	onB(func() { f.Pull(tok) })
	for i := range server.MaxUploadsPerClient {
		if ok, err := f.C.Store.TakeLease(f.Ctx, fmt.Sprintf("upload/ca/%d", i), "a", 0, time.Hour); !ok || err != nil {
			t.Fatalf("take upload lease %d: %v %v", i, ok, err)
		}
	}
	onB(func() {
		if st, b := f.API(http.MethodGet, api.Prefix+"/results/"+name, tok, nil, ""); st != http.StatusTooManyRequests {
			t.Errorf("an upload at B while A runs four: %d %s, want 429", st, b)
		}
	})

	// Ten failed logins, five at each replica: the eleventh is refused.
	cc := url.Values{"grant_type": {"client_credentials"}}.Encode()
	for i := range 10 {
		try := func() {
			if st, _, body := f.PostToken(cc, "application/x-www-form-urlencoded", "ca", "wrong"); st != http.StatusUnauthorized {
				t.Fatalf("failure %d: %d %v", i+1, st, body)
			}
		}
		if i%2 == 1 {
			onB(try)
		} else {
			try()
		}
	}
	onB(func() {
		if st, _, body := f.PostToken(cc, "application/x-www-form-urlencoded", "ca", f.Secrets["ca"]); st != http.StatusTooManyRequests {
			t.Errorf("after ten failures at A and B: %d %v, want 429", st, body)
		}
	})

	if err := f.C.Store.RevokeClient(f.Ctx, "ca"); err != nil {
		t.Fatal(err)
	}
	onB(func() {
		if st, b := f.API(http.MethodPost, api.Prefix+api.PullPath, tok, strings.NewReader(`{"data_seq":0,"data_bundle":""}`), "application/json"); st != http.StatusUnauthorized {
			t.Errorf("A's token at B after a revocation: %d %s, want 401", st, b)
		}
	})
}
