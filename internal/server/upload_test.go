package server_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taosync/taosync/importer"
	"github.com/taosync/taosync/internal/api"
	"github.com/taosync/taosync/internal/testfixture"
	"github.com/taosync/taosync/manifest"
)

// copyBundle copies a bundle folder into dir and returns the copy.
func copyBundle(t *testing.T, src, dir string) string {
	t.Helper()
	dst := filepath.Join(dir, filepath.Base(src))
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range testfixture.BundleFiles(t, src) {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// usbImport imports the result bundles in dir on central, as `import` does
// from a stick.
func usbImport(f *testfixture.Fixture, dir string) []importer.ResultLine {
	f.T.Helper()
	opts, err := f.C.Home.ImportOptions(f.Ctx, "folder", f.Log)
	if err != nil {
		f.T.Fatal(err)
	}
	lines, _, err := f.C.ImportResults(f.Ctx, dir, opts, dir)
	if err != nil {
		f.T.Fatal(err)
	}
	return lines
}

// TestUploadIdempotent: the same result bundle uploaded and committed twice,
// and carried by USB too, is stored once, and each commit answers with the
// same receipt batch.
func TestUploadIdempotent(t *testing.T) { testfixture.OnEngines(t, testUploadIdempotent) }

func testUploadIdempotent(t *testing.T, engine string) {
	f := testfixture.NewOn(t, engine)
	f.Start(nil)
	a := f.Register("ca", "A")
	if _, err := f.Syncer("ca").Data(f.Ctx, nil, false); err != nil {
		t.Fatal(err)
	}
	testfixture.AddResults(t, a, "x", 3)
	dir := testfixture.ExportResults(t, a)
	name := filepath.Base(dir)
	tok := f.TokenFor("ca")

	// Each file twice: created, then the same again is fine.
	for i, want := range []int{http.StatusCreated, http.StatusOK} {
		for _, st := range f.Upload(tok, name, dir) {
			if st != want {
				t.Fatalf("upload round %d: %d, want %d", i+1, st, want)
			}
		}
	}
	// The same name with other content: a conflict.
	if st, b := f.API(http.MethodPut, api.Prefix+"/results/"+name+"/"+manifest.SigName, tok, strings.NewReader("other"), "application/octet-stream"); st != http.StatusConflict {
		t.Errorf("other content: %d %s, want 409", st, b)
	}
	st, first, body := f.Commit(tok, name)
	if st != http.StatusOK || first.Outcome != importer.Applied || first.Receipt.Seq != 1 {
		t.Fatalf("first commit: %d %s", st, body)
	}
	// The commit consumed the upload: committing again without uploading
	// is a conflict, not a second import.
	if st, _, body := f.Commit(tok, name); st != http.StatusConflict {
		t.Errorf("commit without upload: %d %s, want 409", st, body)
	}
	// Uploaded and committed again: skipped, the same receipts.
	for _, st := range f.Upload(tok, name, dir) {
		if st != http.StatusCreated {
			t.Fatalf("second upload: %d", st)
		}
	}
	st, second, body := f.Commit(tok, name)
	if st != http.StatusOK || second.Outcome != importer.Skipped {
		t.Fatalf("second commit: %d %s", st, body)
	}
	if second.Receipt.Seq != first.Receipt.Seq || second.Receipt.ID != first.Receipt.ID || second.Receipt.Bundle != first.Receipt.Bundle {
		t.Errorf("second receipt %s seq %d, first %s seq %d", second.Receipt.Bundle, second.Receipt.Seq, first.Receipt.Bundle, first.Receipt.Seq)
	}
	// By USB too: skipped, the same batch.
	usb := t.TempDir()
	copyBundle(t, dir, usb)
	lines := usbImport(f, usb)
	if len(lines) != 1 || lines[0].Outcome != importer.Skipped || lines[0].Batch != first.Receipt.Seq {
		t.Errorf("USB import: %+v, want skipped with batch %d", lines, first.Receipt.Seq)
	}
	if got := f.ExecutionsOf(); got["ca"] != 3 || len(got) != 1 {
		t.Errorf("central holds %v, want ca: 3", got)
	}
	f.CheckStatus("ca", 1, 3)
	// The receipts list has the one batch.
	if st, b := f.API(http.MethodGet, api.Prefix+"/receipts?after=0", tok, nil, ""); st != 200 || strings.Count(string(b), `"kind":"receipts"`) != 1 {
		t.Errorf("receipts: %d %s", st, b)
	}
	if st, b := f.API(http.MethodGet, api.Prefix+"/receipts?after=1", tok, nil, ""); st != 200 || strings.TrimSpace(string(b)) != `{"bundles":[]}` {
		t.Errorf("receipts after 1: %d %s", st, b)
	}
	if st, _ := f.API(http.MethodGet, api.Prefix+"/receipts?after=x", tok, nil, ""); st != http.StatusBadRequest {
		t.Errorf("receipts after=x: %d, want 400", st)
	}
}

// TestUploadAfterUSB: a result bundle imported from a stick first, then sent
// over HTTP, is skipped and answered with the stick's receipt batch; the
// client applies the receipts and is done.
func TestUploadAfterUSB(t *testing.T) { testfixture.OnEngines(t, testUploadAfterUSB) }

func testUploadAfterUSB(t *testing.T, engine string) {
	f := testfixture.NewOn(t, engine)
	f.Start(nil)
	a := f.Register("ca", "A")
	s := f.Syncer("ca")
	if _, err := s.Data(f.Ctx, nil, false); err != nil {
		t.Fatal(err)
	}
	testfixture.AddResults(t, a, "x", 2)
	// The client writes its bundle for HTTP (kept in outgoing until
	// acknowledged); a copy of it travels by USB first.
	out := a.Home.Path("outgoing")
	res, _, err := a.ExportResults(f.Ctx, out, false, "http")
	if err != nil {
		t.Fatal(err)
	}
	usb := t.TempDir()
	copyBundle(t, res.Dir, usb)
	lines := usbImport(f, usb)
	if len(lines) != 1 || lines[0].Outcome != importer.Applied || lines[0].Batch != 1 {
		t.Fatalf("USB import: %+v", lines)
	}
	got, err := s.Results(f.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Outcome != importer.Applied || got[0].Kind != "receipts" {
		t.Errorf("results sync: %+v, want the receipts applied", got)
	}
	if left, _ := filepath.Glob(filepath.Join(out, "results-*")); len(left) != 0 {
		t.Errorf("left in outgoing: %v", left)
	}
	if got := f.ExecutionsOf(); got["ca"] != 2 {
		t.Errorf("central holds %v", got)
	}
	f.CheckStatus("ca", 1, 2)
	outbox, err := a.Local.Outbox(f.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range outbox {
		if e.State != "acknowledged" {
			t.Errorf("%s is %s, want acknowledged", e.ID, e.State)
		}
	}
	// Nothing more to send: the next results sync exchanges nothing.
	if got, err := s.Results(f.Ctx); err != nil || len(got) != 0 {
		t.Errorf("second results sync: %v %+v", err, got)
	}
}
