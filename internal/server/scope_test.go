package server_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/taosync/taosync/bundle"
	"github.com/taosync/taosync/exporter"
	"github.com/taosync/taosync/internal/api"
	"github.com/taosync/taosync/internal/password"
	"github.com/taosync/taosync/internal/testfixture"
	"github.com/taosync/taosync/manifest"
)

// TestScopeDownload: the token decides the client. A's token reaches A's
// bundle files and nothing of B's, whatever the path says.
func TestScopeDownload(t *testing.T) { testfixture.OnEngines(t, testScopeDownload) }

func testScopeDownload(t *testing.T, engine string) {
	f := testfixture.NewOn(t, engine)
	f.Start(nil)
	f.Register("ca", "A")
	f.Register("cb", "B")
	ta, tb := f.TokenFor("ca"), f.TokenFor("cb")
	refA, refB := f.Pull(ta), f.Pull(tb)
	if refA.Bundle == refB.Bundle || !strings.HasPrefix(refB.Bundle, "data-cb-") {
		t.Fatalf("bundles %s and %s", refA.Bundle, refB.Bundle)
	}
	get := func(token, path string) (int, []byte) {
		t.Helper()
		return f.API(http.MethodGet, api.Prefix+"/bundles/"+path, token, nil, "")
	}
	// A reaches its own files (so that the 404s below mean something).
	for _, file := range refA.Files {
		st, b := get(ta, refA.Bundle+"/"+file.Name)
		if st != http.StatusOK || int64(len(b)) != file.Size {
			t.Fatalf("A's own %s: %d, %d bytes of %d", file.Name, st, len(b), file.Size)
		}
	}
	bManifest, err := os.ReadFile(filepath.Join(f.C.Home.Path("spool"), "cb", refB.Bundle, manifest.FileName))
	if err != nil {
		t.Fatal(err)
	}
	var bChunk string
	for _, file := range refB.Files {
		if file.Name != manifest.FileName && file.Name != manifest.SigName {
			bChunk = file.Name
			break
		}
	}
	if bChunk == "" {
		t.Fatal("B's bundle has no chunk")
	}
	paths := []string{
		refB.Bundle + "/" + manifest.FileName,
		refB.Bundle + "/" + manifest.SigName,
		refB.Bundle + "/" + bChunk,
		refA.Bundle + "/" + bChunk,
		"..%2Fcb%2F" + refB.Bundle + "/" + manifest.FileName,
		"..%2F..%2Fspool%2Fcb%2F" + refB.Bundle + "/" + manifest.FileName,
		refA.Bundle + "/..%2F..%2Fcb%2F" + refB.Bundle + "%2F" + manifest.FileName,
		refA.Bundle + "/%2e%2e%2f%2e%2e%2fcb%2f" + refB.Bundle + "%2f" + manifest.FileName,
		refA.Bundle + "/../../cb/" + refB.Bundle + "/" + manifest.FileName,
		"../../../bundles/" + refB.Bundle + "/" + manifest.FileName,
		"data-ca-000001-..%2F..%2Fcb/" + manifest.FileName,
		refA.Bundle + "/" + manifest.FileName + "%00",
		refA.Bundle + "/..",
		refA.Bundle + "/" + strings.ToUpper(refA.Files[0].Name),
		refA.Bundle + "/taosync.db",
		refA.Bundle + "/.%2F" + manifest.FileName,
		strings.Replace(refB.Bundle, "data-cb-", "data-ca-", 1) + "/" + manifest.FileName,
		"receipts-cb-000001-00000000/" + manifest.FileName,
	}
	for _, p := range paths {
		st, b := get(ta, p)
		if st != http.StatusNotFound {
			t.Errorf("A GET %s: %d, want 404", p, st)
		}
		if bytes.Contains(b, bManifest[:min(64, len(bManifest))]) || len(b) > 512 {
			t.Errorf("A GET %s: answered %d bytes: %.200s", p, len(b), b)
		}
	}
	// B reaches its own.
	if st, b := get(tb, refB.Bundle+"/"+manifest.FileName); st != 200 || !bytes.Equal(b, bManifest) {
		t.Errorf("B's own manifest: %d", st)
	}
	// Without a token: 401, nothing else.
	if st, _ := get("", refB.Bundle+"/"+manifest.FileName); st != http.StatusUnauthorized {
		t.Errorf("no token: %d, want 401", st)
	}
}

// TestScopePull: a pull returns only the org's data: the client that
// imports it holds exactly its scope.
func TestScopePull(t *testing.T) { testfixture.OnEngines(t, testScopePull) }

func testScopePull(t *testing.T, engine string) {
	f := testfixture.NewOn(t, engine)
	f.Start(nil)
	f.Register("ca", "A")
	f.Register("cb", "B")
	for id, want := range map[string]map[string][]string{"ca": testfixture.ToStrings(testfixture.ScopeA), "cb": testfixture.ToStrings(testfixture.ScopeB)} {
		lines, err := f.Syncer(id).Data(f.Ctx, nil, false)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if len(lines) != 1 || lines[0].Outcome != "applied" {
			t.Fatalf("%s: %+v", id, lines)
		}
		if got := testfixture.ToStrings(testfixture.Entities(t, f.Clients[id])); !reflect.DeepEqual(got, want) {
			t.Errorf("%s holds %v\nwant %v", id, got, want)
		}
	}
	// Nothing changed: the next pull has nothing (204), and applies nothing.
	lines, err := f.Syncer("ca").Data(f.Ctx, nil, false)
	if err != nil || len(lines) != 0 {
		t.Errorf("second pull: %v %+v", err, lines)
	}
}

// TestScopeResults: A's token cannot commit B's upload, nor have B's bundle
// (or a bundle named as B's) accepted as B's.
func TestScopeResults(t *testing.T) { testfixture.OnEngines(t, testScopeResults) }

func testScopeResults(t *testing.T, engine string) {
	f := testfixture.NewOn(t, engine)
	f.Start(nil)
	a := f.Register("ca", "A")
	b := f.Register("cb", "B")
	for _, id := range []string{"ca", "cb"} {
		if _, err := f.Syncer(id).Data(f.Ctx, nil, false); err != nil {
			t.Fatal(err)
		}
	}
	// cb holds b1 and t3, t4; its executions name what it holds.
	testfixture.AddResultsAt(t, b, "xb", 2, "b1", "d1", "t4")
	testfixture.AddResults(t, a, "xa", 1)
	bDir, aDir := testfixture.ExportResults(t, b), testfixture.ExportResults(t, a)
	bName, aName := filepath.Base(bDir), filepath.Base(aDir)
	ta, tb := f.TokenFor("ca"), f.TokenFor("cb")

	// B uploads, A tries to commit it: there is nothing of A's by that
	// name, and no data comes back.
	for _, st := range f.Upload(tb, bName, bDir) {
		if st != http.StatusCreated {
			t.Fatalf("B's upload: %d", st)
		}
	}
	st, _, body := f.Commit(ta, bName)
	if st < 400 || st >= 500 || bytes.Contains(body, []byte("receipt")) {
		t.Errorf("A commits B's upload: %d %s, want a 4xx", st, body)
	}
	// A uploads B's very bundle under B's name: stored in A's inbox, and
	// the commit refuses it.
	f.Upload(ta, bName, bDir)
	st, _, body = f.Commit(ta, bName)
	if st != http.StatusForbidden {
		t.Errorf("A commits B's bundle: %d %s, want 403", st, body)
	}
	if got := f.ExecutionsOf(); len(got) != 0 {
		t.Fatalf("central received %v", got)
	}
	// B's own upload is still there, and B commits it.
	st, resp, body := f.Commit(tb, bName)
	if st != http.StatusOK || resp.Outcome != "applied" {
		t.Fatalf("B commits: %d %s", st, body)
	}
	if !strings.HasPrefix(resp.Receipt.Bundle, "receipts-cb-") {
		t.Errorf("B's receipt %s", resp.Receipt.Bundle)
	}
	// A's receipt list does not show B's batch.
	if st, b := f.API(http.MethodGet, api.Prefix+"/receipts", ta, nil, ""); st != 200 || strings.TrimSpace(string(b)) != `{"bundles":[]}` {
		t.Errorf("A's receipts: %d %s", st, b)
	}
	// And B's receipt files are not A's to download.
	for _, file := range resp.Receipt.Files {
		if st, _ := f.API(http.MethodGet, api.Prefix+"/bundles/"+resp.Receipt.Bundle+"/"+file.Name, ta, nil, ""); st != http.StatusNotFound {
			t.Errorf("A downloads B's receipt %s: %d", file.Name, st)
		}
	}
	if got := f.ExecutionsOf(); !reflect.DeepEqual(got, map[string]int{"cb": 2}) {
		t.Errorf("central received %v, want cb: 2", got)
	}

	// A's own bundle uploaded under a name that says B: readers do not rely
	// on folder names (docs/bundle-format.md §1), so it may be taken, but
	// as A's, and nothing of it counts as B's.
	fake := strings.Replace(aName, "results-ca-", "results-cb-", 1)
	f.Upload(ta, fake, aDir)
	st, resp, body = f.Commit(ta, fake)
	if got := f.ExecutionsOf(); got["cb"] != 2 || (st == http.StatusOK && got["ca"] != 1) {
		t.Errorf("central received %v: want cb 2, and ca 1 if the commit succeeded", got)
	}
	if st == http.StatusOK && strings.Contains(resp.Receipt.Bundle, "-cb-") {
		t.Errorf("A's bundle answered with a receipt for B: %s", resp.Receipt.Bundle)
	}
	status, err := f.C.Store.Status(f.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range status {
		if s.ID == "cb" && (s.Bundles != 1 || s.Received != 2) {
			t.Errorf("cb status: %d bundles, %d received; want 1, 2", s.Bundles, s.Received)
		}
	}
}

// TestRevokeAndRotate: a revoked credential stops working at once, tokens
// included; a rotated one too, and the new secret works.
func TestRevokeAndRotate(t *testing.T) { testfixture.OnEngines(t, testRevokeAndRotate) }

func testRevokeAndRotate(t *testing.T, engine string) {
	f := testfixture.NewOn(t, engine)
	f.Start(nil)
	f.Register("ca", "A")
	f.Register("cb", "B")
	receipts := func(tok string) int {
		st, _ := f.API(http.MethodGet, api.Prefix+"/receipts", tok, nil, "")
		return st
	}
	old := f.TokenFor("ca")
	other := f.TokenFor("cb")
	if st := receipts(old); st != 200 {
		t.Fatalf("before: %d", st)
	}
	if err := f.C.Store.RevokeClient(f.Ctx, "ca"); err != nil {
		t.Fatal(err)
	}
	if st := receipts(old); st != http.StatusUnauthorized {
		t.Errorf("token after revocation: %d, want 401", st)
	}
	if st, _ := f.API(http.MethodPost, api.Prefix+"/data/pull", old, strings.NewReader(`{}`), "application/json"); st != http.StatusUnauthorized {
		t.Errorf("pull after revocation: %d, want 401", st)
	}
	if st, _, body := f.PostToken("grant_type=client_credentials", form, "ca", f.Secrets["ca"]); st != 401 || body["error"] != "invalid_client" {
		t.Errorf("token endpoint after revocation: %d %v", st, body)
	}
	if _, err := f.Syncer("ca").Data(f.Ctx, nil, false); err == nil || !strings.Contains(err.Error(), "invalid_client") {
		t.Errorf("sync after revocation: %v", err)
	}
	if st := receipts(other); st != 200 {
		t.Errorf("B's token after A's revocation: %d", st)
	}

	// Rotation lifts the revocation with a new secret; the old secret and
	// its tokens stay dead.
	secret := password.NewSecret()
	if err := f.C.Store.RotateSecret(f.Ctx, "ca", password.HashSecret(secret)); err != nil {
		t.Fatal(err)
	}
	if st := receipts(old); st != http.StatusUnauthorized {
		t.Errorf("old token after rotation: %d, want 401", st)
	}
	if st, _, _ := f.PostToken("grant_type=client_credentials", form, "ca", f.Secrets["ca"]); st != 401 {
		t.Errorf("old secret after rotation: %d, want 401", st)
	}
	f.Secrets["ca"] = secret
	fresh := f.TokenFor("ca")
	if st := receipts(fresh); st != 200 {
		t.Errorf("new token: %d", st)
	}
	// Rotating again kills the token of the previous rotation.
	if err := f.C.Store.RotateSecret(f.Ctx, "ca", password.HashSecret(password.NewSecret())); err != nil {
		t.Fatal(err)
	}
	if st := receipts(fresh); st != http.StatusUnauthorized {
		t.Errorf("token after a second rotation: %d, want 401", st)
	}
}

// TestSyncerAfterRotation: the client with the new secret (credentials
// imported again) syncs.
func TestSyncerAfterRotation(t *testing.T) { testfixture.OnEngines(t, testSyncerAfterRotation) }

func testSyncerAfterRotation(t *testing.T, engine string) {
	f := testfixture.NewOn(t, engine)
	f.Start(nil)
	a := f.Register("ca", "A")
	secret := password.NewSecret()
	if err := f.C.Store.RotateSecret(f.Ctx, "ca", password.HashSecret(secret)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Syncer("ca").Data(f.Ctx, nil, false); err == nil {
		t.Fatal("the old secret still syncs")
	}
	if _, err := a.Home.DB.ExecContext(context.Background(), "UPDATE meta SET value = ? WHERE key = 'oauth_secret'", secret); err != nil {
		t.Fatal(err)
	}
	lines, err := f.Syncer("ca").Data(f.Ctx, nil, false)
	if err != nil || len(lines) != 1 || lines[0].Outcome != "applied" {
		t.Fatalf("sync with the new secret: %v %+v", err, lines)
	}
}

// TestForgedSender: B writes a result bundle that claims to come from A,
// signed with B's key; with A's token (stolen) it routes as A's, and the
// import refuses it: the signature decides, not the claim.
func TestForgedSender(t *testing.T) { testfixture.OnEngines(t, testForgedSender) }

func testForgedSender(t *testing.T, engine string) {
	f := testfixture.NewOn(t, engine)
	f.Start(nil)
	f.Register("ca", "A")
	b := f.Register("cb", "B")
	if _, err := f.Syncer("cb").Data(f.Ctx, nil, false); err != nil {
		t.Fatal(err)
	}
	testfixture.AddResultsAt(t, b, "forged", 1, "b1", "d1", "t4")
	ctx := f.Ctx
	id := bundle.NewID()
	ex, err := b.Local.BeginResultExport(ctx, id, []string{"finished"}, false)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := b.Home.Signer()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := b.Home.PublicKeys()
	if err != nil {
		t.Fatal(err)
	}
	to, err := b.Home.Central(ctx)
	if err != nil {
		t.Fatal(err)
	}
	state, err := b.Local.ClientState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res, err := exporter.Results(ctx, ex, t.TempDir(), id, exporter.ResultOptions{
		Client: "ca", ChunkRecords: 100, Expiry: time.Hour, Signer: signer, AgeRecipient: keys.Age,
		Central: to, State: state, Now: time.Now(), Transport: "http",
	})
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(res.Dir)
	if !strings.HasPrefix(name, "results-ca-") {
		t.Fatalf("forged bundle %s", name)
	}
	ta, tb := f.TokenFor("ca"), f.TokenFor("cb")
	// With B's own token: not B's bundle.
	f.Upload(tb, name, res.Dir)
	if st, _, body := f.Commit(tb, name); st != http.StatusForbidden {
		t.Errorf("B commits a bundle claiming A: %d %s, want 403", st, body)
	}
	// With A's token: routed as A's, refused by the signature check.
	f.Upload(ta, name, res.Dir)
	st, _, body := f.Commit(ta, name)
	if st != http.StatusUnprocessableEntity || !strings.Contains(string(body), "claims to come from") {
		t.Errorf("forged bundle committed with A's token: %d %s, want 422 naming the bad signature", st, body)
	}
	if got := f.ExecutionsOf(); len(got) != 0 {
		t.Errorf("central holds %v", got)
	}
}
