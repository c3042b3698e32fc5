package importer_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/importer"
	"github.com/taosync/taosync/internal/store"
	"github.com/taosync/taosync/internal/testfixture"
	"github.com/taosync/taosync/manifest"
)

// TestJunkManifestsOneHistoryRow: a stick with many bundle folders whose
// manifest does not verify, beside a bundle that applies, adds one refusal
// row to the history for the run, counting them and giving the first
// reason, and one row for the bundle applied.
func TestJunkManifestsOneHistoryRow(t *testing.T) {
	f := testfixture.New(t)
	cl := f.Register("c1", "A")
	stick := exportData(t, f, "", true)
	const junk = 200
	for i := range junk {
		dir := filepath.Join(stick, fmt.Sprintf("junk-%04d", i))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{manifest.FileName, manifest.SigName} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte("junk"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	opts, err := cl.Options(f.Ctx, "folder")
	if err != nil {
		t.Fatal(err)
	}
	lines, err := cl.Import(f.Ctx, stick, opts)
	if err != nil || len(lines) != junk+1 {
		t.Fatalf("import: %d lines, %v", len(lines), err)
	}
	hist, err := store.History(f.Ctx, cl.Home.DB, store.HistoryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var refused []taosync.HistoryEntry
	for _, h := range hist {
		if h.Outcome == taosync.OutcomeRefused {
			refused = append(refused, h)
		}
	}
	want := fmt.Sprintf("%d manifests refused: first: bundle junk-0000: ", junk)
	if len(hist) != 2 || len(refused) != 1 || !strings.HasPrefix(refused[0].Error, want) || refused[0].Bundle != "junk-0000" {
		t.Fatalf("history %+v; want the bundle applied and one refusal starting %q", hist, want)
	}
	if lines[0].Outcome != importer.Refused {
		t.Errorf("first line %+v, want a junk bundle refused", lines[0])
	}
}
