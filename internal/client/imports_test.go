package client

import (
	"go/build"
	"strings"
	"testing"
)

// TestRolesSideBySide: the client stands beside central and its server,
// on the words they share (the root, internal/api, home), and imports
// neither of them.
func TestRolesSideBySide(t *testing.T) {
	p, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range p.Imports {
		if strings.HasSuffix(imp, "/internal/central") || strings.HasSuffix(imp, "/internal/server") {
			t.Errorf("package client imports %s: what both need belongs beneath them", imp)
		}
	}
}
