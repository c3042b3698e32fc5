package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/taosync/taosync/internal/api"
	"github.com/taosync/taosync/internal/server"
	"github.com/taosync/taosync/internal/testfixture"
)

// TestNilLogs: a server and an access log given a nil logger log on
// slog.Default() instead of panicking at their first line.
func TestNilLogs(t *testing.T) {
	logged := testfixture.DefaultLog(t)
	f := testfixture.New(t)
	f.S = server.New(f.C, nil)
	f.S.AccessLog = nil
	f.Start(func(h http.Handler) http.Handler { return server.LogRequests(h, nil) })
	f.Register("c1", "A")
	if status, _, _ := f.PostToken("grant_type=client_credentials", "application/x-www-form-urlencoded", "c1", "wrong"); status != http.StatusUnauthorized {
		t.Fatalf("a wrong secret: status %d, want 401", status)
	}
	for _, want := range []string{`msg="token: refused" client=c1`, "msg=request method=POST route=" + api.TokenPath} {
		if !strings.Contains(logged(), want) {
			t.Errorf("default log %q: no %q", logged(), want)
		}
	}
}
