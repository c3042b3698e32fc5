package ui_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/taosync/taosync/internal/server"
	"github.com/taosync/taosync/internal/testfixture"
	"github.com/taosync/taosync/internal/ui"
)

// TestNilLog: a view made with a nil logger logs on slog.Default() instead
// of panicking at its first line.
func TestNilLog(t *testing.T) {
	logged := testfixture.DefaultLog(t)
	f := testfixture.New(t)
	view := ui.New(f.C, server.NewLimiter(f.C.Store, "operator", nil), false, nil).Handler()
	f.Start(func(h http.Handler) http.Handler { return ui.Mount(h, view) })
	if status := newBrowser(t, f).login("nobody", "wrong"); status != http.StatusUnauthorized {
		t.Fatalf("a wrong login: status %d, want 401", status)
	}
	if !strings.Contains(logged(), `msg="ui: login refused" operator=nobody`) {
		t.Fatalf("default log %q: no refused login", logged())
	}
}
