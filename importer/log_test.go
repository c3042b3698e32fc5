package importer_test

import (
	"strings"
	"testing"

	"github.com/taosync/taosync/importer"
	"github.com/taosync/taosync/internal/central"
	"github.com/taosync/taosync/internal/testfixture"
)

// TestDataNilLog: a nil Log writes Data's diagnostics to slog.Default()
// instead of panicking. Results sets its default the same way.
func TestDataNilLog(t *testing.T) {
	f := testfixture.New(t)
	cl := f.Register("c1", "A")
	res, err := f.C.ExportData(f.Ctx, "c1", t.TempDir(), central.ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	opts, err := cl.Options(f.Ctx, "folder")
	if err != nil {
		t.Fatal(err)
	}
	opts.Log = nil
	logged := testfixture.DefaultLog(t)
	lines, err := importer.Data(f.Ctx, res.Dir, cl.Local, opts)
	if err != nil || len(lines) != 1 || lines[0].Outcome != importer.Applied {
		t.Fatalf("import: %v %+v", err, lines)
	}
	if !strings.Contains(logged(), "msg=\"data bundle\"") {
		t.Fatalf("default log %q: no line of the import", logged())
	}
}
