package client_test

import (
	"testing"

	"github.com/taosync/taosync/importer"
	"github.com/taosync/taosync/internal/testfixture"
)

// TestNothingToPullAfterResults: once a client holds its data and the
// receipts of its results (fetched over HTTP), a data sync has nothing to
// exchange, however often it runs.
func TestNothingToPullAfterResults(t *testing.T) {
	f := testfixture.New(t)
	f.Start(nil)
	a := f.Register("ca", "A")
	s := f.Syncer("ca")
	if _, err := s.Data(f.Ctx, nil, false); err != nil {
		t.Fatal(err)
	}
	if lines, err := s.Data(f.Ctx, nil, false); err != nil || len(lines) != 0 {
		t.Fatalf("second pull before any result: %v %+v, want nothing", err, lines)
	}
	testfixture.AddResults(t, a, "x", 1)
	lines, err := s.Results(f.Ctx)
	if err != nil || len(lines) != 1 || lines[0].Kind != "receipts" || lines[0].Outcome != importer.Applied {
		t.Fatalf("results: %v %+v", err, lines)
	}
	var pulled []importer.Line
	for range 3 {
		lines, err := s.Data(f.Ctx, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		pulled = append(pulled, lines...)
	}
	if len(pulled) > 0 {
		cl, err := f.C.Store.GetClient(f.Ctx, f.C.Store.DB, "ca")
		if err != nil {
			t.Fatal(err)
		}
		t.Fatalf("after a results sync every data sync gets a new data bundle with no changes (%d bundles in 3 syncs, now data seq %d; "+
			"central's acked_receipt_seq %d < receipt_seq %d, so each delta carries receipts the client already applied from the receipt bundle)",
			len(pulled), cl.DataSeq, cl.AckedReceiptSeq, cl.ReceiptSeq)
	}
}
