package client_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/importer"
	"github.com/taosync/taosync/internal/client"
	"github.com/taosync/taosync/internal/testfixture"
)

// TestReportOnlyReceipts: a result bundle of the readiness report only (a
// stick's, with no result to send) gets a receipt batch of its own on
// central, and the client holds it over HTTP whether the bundle went up by
// stick (its receipts left behind) or by an upload.
func TestReportOnlyReceipts(t *testing.T) {
	f := testfixture.New(t)
	f.Start(nil)
	a := f.Register("ca", "A")
	s := f.Syncer("ca")
	if _, err := s.Data(f.Ctx, nil, false); err != nil {
		t.Fatal(err)
	}
	held := func(want uint64) {
		t.Helper()
		cs, err := a.Local.ClientState(f.Ctx)
		if err != nil {
			t.Fatal(err)
		}
		cl, err := f.C.Store.GetClient(f.Ctx, f.C.Store.DB, "ca")
		if err != nil {
			t.Fatal(err)
		}
		if cs.ReceiptSeq != want || cl.ReceiptSeq != want {
			t.Fatalf("the client holds receipt batches up to %d, central made %d; want %d", cs.ReceiptSeq, cl.ReceiptSeq, want)
		}
	}
	acked := func(lines []importer.Line) {
		t.Helper()
		if len(lines) != 1 || lines[0].Kind != "receipts" || lines[0].Outcome != importer.Applied ||
			lines[0].Counts[taosync.ReceiptsSection].Updated != 1 {
			t.Fatalf("receipts: %+v, want one receipt bundle acknowledging one bundle", lines)
		}
	}

	// By stick: central imports the bundle, and its receipts stay on the
	// stick; the next sync fetches them.
	stick := testfixture.ExportResults(t, a)
	opts, err := f.C.Home.ImportOptions(f.Ctx, "folder", f.Log)
	if err != nil {
		t.Fatal(err)
	}
	lines, _, err := f.C.ImportResults(f.Ctx, filepath.Dir(stick), opts, "")
	if err != nil || len(lines) != 1 || lines[0].Outcome != importer.Applied || lines[0].Batch != 1 {
		t.Fatalf("import on central: %v %+v, want applied, answered by batch 1", err, lines)
	}
	got, err := s.Receipts(f.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	acked(got)
	held(1)

	// By upload: a bundle of the report only left in outgoing goes up,
	// and the receipt that answers it is applied before it goes.
	res, _, err := a.ExportResults(f.Ctx, a.Home.Path(client.OutgoingDir), false, "folder")
	if err != nil {
		t.Fatal(err)
	}
	if n := res.Manifest.Section(taosync.ResultsSection).Records; n != 0 {
		t.Fatalf("the bundle holds %d executions, want the report only", n)
	}
	got, err = s.Results(f.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	acked(got)
	held(2)
	if left, _ := os.ReadDir(a.Home.Path(client.OutgoingDir)); len(left) != 0 {
		t.Errorf("left in outgoing: %v", left)
	}
	// Nothing is left to fetch, and no data bundle carries the batches
	// again.
	if got, err := s.Receipts(f.Ctx); err != nil || len(got) != 0 {
		t.Errorf("receipts after both: %v %+v, want none", err, got)
	}
	if got, err := s.Data(f.Ctx, nil, false); err != nil || len(got) != 0 {
		t.Errorf("data after both: %v %+v, want nothing to pull", err, got)
	}
}
