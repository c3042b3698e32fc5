package metrics_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/taosync/taosync/internal/api"
	"github.com/taosync/taosync/internal/central"
	"github.com/taosync/taosync/internal/metrics"
	"github.com/taosync/taosync/internal/testfixture"
)

// TestMetrics: a sync and a refused request show in the metrics, by route
// and status; results, bundle preparation, bytes, authentication failures,
// clients by state and the build are there; no series names a centre; and
// the metrics ask for their token.
func TestMetrics(t *testing.T) {
	f := testfixture.New(t)
	m := metrics.New(metrics.Build{Version: "1.2.3", Commit: "0123456789ab", Time: "2027-01-01T00:00:00Z", GoVersion: "go1.26.8"}, central.States, f.C.CountStates, f.Log)
	f.S.Observe = m
	f.Start(m.Wrap)
	ca := f.Register("centre-a", "A")
	f.Register("centre-never", "A")
	s := f.Syncer("centre-a")
	if _, err := s.Data(f.Ctx, nil, false); err != nil {
		t.Fatal(err)
	}
	testfixture.AddResults(t, ca, "x", 3)
	if _, err := s.Results(f.Ctx); err != nil {
		t.Fatal(err)
	}
	if status, _ := f.API(http.MethodGet, api.Prefix+"/receipts", "not-a-token", nil, ""); status != http.StatusUnauthorized {
		t.Fatalf("a wrong token: status %d", status)
	}

	ms := httptest.NewServer(m.Handler("metrics-token-0123456789"))
	defer ms.Close()
	scrape := func(auth string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, ms.URL, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, auth := range []string{"", "Bearer wrong", "metrics-token-0123456789", "Bearer metrics-token-0123456789x"} {
		if status, _ := scrape(auth); status != http.StatusUnauthorized {
			t.Errorf("metrics with Authorization %q: status %d, want 401", auth, status)
		}
	}
	status, text := scrape("Bearer metrics-token-0123456789")
	if status != http.StatusOK {
		t.Fatalf("metrics with the token: status %d", status)
	}
	value := func(series string) float64 {
		t.Helper()
		m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(text)
		if m == nil {
			t.Errorf("no series %s in:\n%s", series, text)
			return 0
		}
		v, _ := strconv.ParseFloat(m[1], 64)
		return v
	}
	atLeast := func(series string, min float64) {
		t.Helper()
		if v := value(series); v < min {
			t.Errorf("%s = %v, want at least %v", series, v, min)
		}
	}
	exactly := func(series string, want float64) {
		t.Helper()
		if v := value(series); v != want {
			t.Errorf("%s = %v, want %v", series, v, want)
		}
	}
	atLeast(`taosync_http_requests_total{code="200",route="POST /api/v1/data/pull"}`, 1)
	atLeast(`taosync_http_requests_total{code="200",route="POST /oauth2/token"}`, 1)
	exactly(`taosync_http_requests_total{code="401",route="GET /api/v1/receipts"}`, 1)
	exactly(`taosync_auth_failures_total{route="GET /api/v1/receipts"}`, 1)
	atLeast(`taosync_http_request_duration_seconds_count{route="POST /api/v1/data/pull"}`, 1)
	atLeast(`taosync_http_sent_bytes_total`, 1000)
	atLeast(`taosync_http_received_bytes_total`, 1000)
	atLeast(`taosync_bundle_prepare_duration_seconds_count`, 1)
	exactly(`taosync_results_received_total{outcome="new"}`, 3)
	exactly(`taosync_results_received_total{outcome="duplicate"}`, 0)
	exactly(`taosync_clients{state="never_seen"}`, 1)
	exactly(`taosync_build_info{commit="0123456789ab",commit_time="2027-01-01T00:00:00Z",goversion="go1.26.8",version="1.2.3"}`, 1)
	var sum float64
	for _, st := range central.States {
		sum += value(`taosync_clients{state="` + st + `"}`)
	}
	if sum != 2 {
		t.Errorf("clients by state add up to %v, want 2", sum)
	}
	if strings.Contains(text, "centre-") {
		t.Errorf("a series names a centre:\n%s", text)
	}
}
