package taosync_test

import (
	"go/build"
	"strings"
	"testing"
)

// TestLayout holds the arrows the tree must not have, so that each room
// stays one job: the importer reads what the exporter writes through the
// shared words at the root, not through the exporter; the store implements
// the root's interfaces without knowing who calls them; the client and the
// server are siblings that share internal/api; commands leave SQL to the
// store.
func TestLayout(t *testing.T) {
	for _, tc := range []struct {
		dir    string
		forbid []string
		why    string
	}{
		{"importer", []string{"/exporter"}, "what both sides share lives at the root"},
		{"internal/store", []string{"/exporter", "/importer"}, "the store implements the root's interfaces"},
		{"internal/client", []string{"/internal/central", "/internal/server"}, "what both roles need belongs beneath them"},
		{"cmd/taosync", []string{"database/sql"}, "a command calls its role's method; SQL is the store's"},
	} {
		p, err := build.ImportDir(tc.dir, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range p.Imports {
			for _, f := range tc.forbid {
				if imp == f || strings.HasSuffix(imp, f) {
					t.Errorf("%s imports %s: %s", tc.dir, imp, tc.why)
				}
			}
		}
	}
}
