package central_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/taosync/taosync/importer"
	"github.com/taosync/taosync/internal/testfixture"
)

// TestImportsBounded: on PostgreSQL, where result imports do not take
// turns, only so many run at once in a process, which bounds its memory
// however many result bundles come at once. With every slot taken, an
// import waits, stores nothing and ends with its context; once slots are
// free, the same bundle is imported whole.
func TestImportsBounded(t *testing.T) {
	f := testfixture.NewOn(t, "postgres")
	a := f.Register("ca", "A")
	testfixture.AddResults(t, a, "x-", 3)
	dir := filepath.Dir(testfixture.ExportResults(t, a))
	opts, err := f.C.Home.ImportOptions(f.Ctx, "folder", f.Log)
	if err != nil {
		t.Fatal(err)
	}

	release := f.C.TakeImportSlots()
	ctx, cancel := context.WithTimeout(f.Ctx, 200*time.Millisecond)
	defer cancel()
	if lines, _, err := f.C.ImportResults(ctx, dir, opts, ""); !errors.Is(err, context.DeadlineExceeded) || len(lines) != 0 {
		t.Fatalf("import with every slot taken = %+v, %v; want it to wait until its context ends", lines, err)
	}
	if got := f.ExecutionsOf()["ca"]; got != 0 {
		t.Fatalf("%d executions stored by an import that never ran", got)
	}

	release()
	lines, _, err := f.C.ImportResults(f.Ctx, dir, opts, "")
	if err != nil || len(lines) != 1 || lines[0].Outcome != importer.Applied {
		t.Fatalf("import once slots are free = %+v, %v", lines, err)
	}
	if got := f.ExecutionsOf()["ca"]; got != 3 {
		t.Fatalf("%d executions stored, want 3", got)
	}
	// The import gave its slot back: all of them can be taken again.
	taken := make(chan func())
	go func() { taken <- f.C.TakeImportSlots() }()
	select {
	case release := <-taken:
		release()
	case <-time.After(10 * time.Second):
		t.Fatal("an import kept its slot")
	}
}
