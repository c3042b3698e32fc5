package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/taosync/taosync/internal/api"
	"github.com/taosync/taosync/internal/testfixture"
	"github.com/taosync/taosync/manifest"
)

// TestTwoAuthorizationHeaders: a request with two Authorization headers is
// refused (400), whichever comes first, on the API and the token endpoint.
func TestTwoAuthorizationHeaders(t *testing.T) { testfixture.OnEngines(t, testTwoAuthorizationHeaders) }

func testTwoAuthorizationHeaders(t *testing.T, engine string) {
	f := testfixture.NewOn(t, engine)
	f.Start(nil)
	f.Register("ca", "A")
	tok := f.TokenFor("ca")
	for _, order := range [][2]string{{"Bearer " + tok, "Bearer nonsense"}, {"Bearer nonsense", "Bearer " + tok}} {
		req, _ := http.NewRequestWithContext(f.Ctx, "GET", f.URL+api.Prefix+"/receipts", nil)
		req.Header["Authorization"] = order[:]
		if st, _, body := f.Do(req); st != http.StatusBadRequest {
			t.Errorf("API, %.20s… first: %d %v, want 400", order[0], st, body)
		}
	}
	req, _ := http.NewRequestWithContext(f.Ctx, "POST", f.URL+api.TokenPath, strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("ca", f.Secrets["ca"])
	req.Header.Add("Authorization", "Basic Y2I6eA==")
	if st, _, body := f.Do(req); st != http.StatusBadRequest || body["error"] != "invalid_request" {
		t.Errorf("token endpoint: %d %v, want 400 invalid_request", st, body)
	}
}

// TestTrickledBody: a token request or a pull whose body does not arrive
// within the body timeout is answered 408, rather than held open.
func TestTrickledBody(t *testing.T) { testfixture.OnEngines(t, testTrickledBody) }

func testTrickledBody(t *testing.T, engine string) {
	f := testfixture.NewOn(t, engine)
	f.S.BodyTimeout = 100 * time.Millisecond
	f.Start(nil)
	f.Register("ca", "A")
	tok := f.TokenFor("ca")
	host := strings.TrimPrefix(f.URL, "http://")
	for _, raw := range []string{
		fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type=", api.TokenPath, host),
		fmt.Sprintf("POST %s/data/pull HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{", api.Prefix, host, tok),
	} {
		// rawRequest waits 10 s at most for the answer.
		if got := rawRequest(t, f.URL, raw); !strings.HasPrefix(got, "HTTP/1.1 408") {
			t.Errorf("%.40q…: %s, want 408", raw, got)
		}
	}
}

// TestEmptySuffixRange: "Range: bytes=-0" is unsatisfiable (RFC 9110
// §14.1.2): 416 with "Content-Range: bytes */SIZE". Beside a satisfiable
// range, only that one is served.
func TestEmptySuffixRange(t *testing.T) { testfixture.OnEngines(t, testEmptySuffixRange) }

func testEmptySuffixRange(t *testing.T, engine string) {
	f := testfixture.NewOn(t, engine)
	f.Start(nil)
	f.Register("ca", "A")
	tok := f.TokenFor("ca")
	ref := f.Pull(tok)
	file := ref.Files[len(ref.Files)-1]
	if file.Name != manifest.FileName {
		t.Fatalf("last file %s", file.Name)
	}
	for _, tc := range []struct {
		rng          string
		status       int
		contentRange string
	}{
		{"bytes=-0", 416, fmt.Sprintf("bytes */%d", file.Size)},
		{"bytes=-000", 416, fmt.Sprintf("bytes */%d", file.Size)},
		{"bytes=0-0, -0", 206, fmt.Sprintf("bytes 0-0/%d", file.Size)},
		{"bytes=-1", 206, fmt.Sprintf("bytes %d-%d/%d", file.Size-1, file.Size-1, file.Size)},
	} {
		req, _ := http.NewRequestWithContext(f.Ctx, "GET", f.URL+api.Prefix+"/bundles/"+ref.Bundle+"/"+file.Name, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Range", tc.rng)
		st, h, _ := f.Do(req)
		if st != tc.status || h.Get("Content-Range") != tc.contentRange {
			t.Errorf("%s: %d, Content-Range %q; want %d, %q", tc.rng, st, h.Get("Content-Range"), tc.status, tc.contentRange)
		}
	}
}

// TestJSONTrailingData: a pull body is one JSON value, and nothing after it
// but white space.
func TestJSONTrailingData(t *testing.T) { testfixture.OnEngines(t, testJSONTrailingData) }

func testJSONTrailingData(t *testing.T, engine string) {
	f := testfixture.NewOn(t, engine)
	f.Start(nil)
	f.Register("ca", "A")
	tok := f.TokenFor("ca")
	for _, tc := range []struct {
		body   string
		status int
	}{
		{"{} {}", 400},
		{"{}x", 400},
		{"{}}", 400},
		{`{"data_seq":0}{"data_seq":1}`, 400},
		{"{}\r\n\t ", 200},
	} {
		st, b := f.API("POST", api.Prefix+"/data/pull", tok, strings.NewReader(tc.body), "application/json")
		if st != tc.status {
			t.Errorf("%q: %d %s, want %d", tc.body, st, b, tc.status)
		}
	}
}
