package server_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/taosync/taosync/internal/api"
	"github.com/taosync/taosync/internal/testfixture"
)

// TestAccessLog: each request gets one line at info level with the method,
// the route's pattern (not the path with its bundle name), the client once
// its secret or its token was good, its address, the status and the bytes of the answer; no secret
// and no token appear in the log.
func TestAccessLog(t *testing.T) { testfixture.OnEngines(t, testAccessLog) }

func testAccessLog(t *testing.T, engine string) {
	f := testfixture.NewOn(t, engine)
	var log testfixture.LogBuffer
	f.S.AccessLog = slog.New(slog.NewJSONHandler(&log, &slog.HandlerOptions{Level: slog.LevelInfo}))
	// The line is written before the wrapped handler returns: wait for
	// each request's end before reading the log.
	var served sync.WaitGroup
	f.Start(func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer served.Done()
			h.ServeHTTP(w, r)
		})
	})
	f.Register("ca", "A")
	request := func(do func()) {
		served.Add(1)
		do()
		served.Wait()
	}
	var tok string
	request(func() { tok = f.TokenFor("ca") })
	var ref api.BundleRef
	request(func() { ref = f.Pull(tok) })
	file := ref.Files[0].Name
	request(func() { f.API(http.MethodGet, api.Prefix+"/bundles/"+ref.Bundle+"/"+file, tok, nil, "") })
	request(func() { f.API(http.MethodGet, api.Prefix+"/receipts", "not-a-token", nil, "") })
	request(func() { f.API(http.MethodGet, "/nowhere/"+ref.Bundle, tok, nil, "") })

	type line struct {
		Level, Msg, Method, Route, Client, Addr string
		Status                                  int
		Bytes                                   int64
		Duration                                *int64
	}
	want := []line{
		{Method: "POST", Route: api.TokenPath, Client: "ca", Addr: "127.0.0.1", Status: 200},
		{Method: "POST", Route: api.Prefix + "/data/pull", Client: "ca", Addr: "127.0.0.1", Status: 200},
		{Method: "GET", Route: api.Prefix + "/bundles/{bundle}/{file}", Client: "ca", Addr: "127.0.0.1", Status: 200},
		{Method: "GET", Route: api.Prefix + "/receipts", Addr: "127.0.0.1", Status: 401},
		{Method: "GET", Route: "-", Addr: "127.0.0.1", Status: 404},
	}
	text := log.String()
	lines := strings.Split(strings.TrimSpace(text), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), text)
	}
	for i, l := range lines {
		var got line
		if err := json.Unmarshal([]byte(l), &got); err != nil {
			t.Fatalf("line %d: %v: %s", i, err, l)
		}
		if got.Level != "INFO" || got.Msg != "request" || got.Duration == nil || got.Bytes <= 0 {
			t.Errorf("line %d: %s: want level INFO, msg request, a duration and the bytes sent", i, l)
		}
		got.Level, got.Msg, got.Duration, got.Bytes = "", "", nil, 0
		if got != want[i] {
			t.Errorf("line %d: %+v, want %+v", i, got, want[i])
		}
	}
	for what, s := range map[string]string{"secret": f.Secrets["ca"], "token": tok, "bundle name": ref.Bundle, "file name": file} {
		if strings.Contains(text, s) {
			t.Errorf("the log holds the %s:\n%s", what, text)
		}
	}
}
