package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/taosync/taosync/internal/api"
	"github.com/taosync/taosync/internal/config"
	"github.com/taosync/taosync/internal/testfixture"
	"github.com/taosync/taosync/internal/version"
)

// TestPullReport: a client's sync sends its readiness report with the pull,
// and central keeps it as come by HTTP; a report out of its bounds is
// refused with 400 and changes nothing.
func TestPullReport(t *testing.T) { testfixture.OnEngines(t, testPullReport) }

func testPullReport(t *testing.T, engine string) {
	f := testfixture.NewOn(t, engine)
	f.Start(nil)
	f.Register("ca", "A")
	if _, err := f.Syncer("ca").Data(f.Ctx, nil, false); err != nil {
		t.Fatal(err)
	}
	reports, err := f.C.Store.Reports(f.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	r, ok := reports["ca"]
	if !ok || r.Via != "http" || r.Version == "" || r.At.IsZero() {
		t.Fatalf("central keeps %+v (found %v), want the report of ca by http", r, ok)
	}
	// The sync's requests used the credential: central says when.
	clients, _, err := f.C.Status(f.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(clients) != 1 || clients[0].LastUsed == "" {
		t.Errorf("after a sync, central's status %+v says no use of the credential", clients)
	}
	token := f.TokenFor("ca")
	for name, report := range map[string]string{
		"no version":      `{"at":"2026-01-02T03:04:05Z","problems":[]}`,
		"control char":    `{"taosync_version":"1.0.0","at":"2026-01-02T03:04:05Z","problems":["a\u0007b"]}`,
		"too many":        `{"taosync_version":"1.0.0","at":"2026-01-02T03:04:05Z","problems":[` + strings.Repeat(`"x",`, 40) + `"x"]}`,
		"negative":        `{"taosync_version":"1.0.0","at":"2026-01-02T03:04:05Z","results_pending":-1}`,
		"bad state":       `{"taosync_version":"1.0.0","at":"2026-01-02T03:04:05Z","packages":[{"delivery":"d","state":"fine"}]}`,
		"unknown field":   `{"taosync_version":"1.0.0","at":"2026-01-02T03:04:05Z","secret":"x"}`,
		"long version":    `{"taosync_version":"` + strings.Repeat("9", 65) + `","at":"2026-01-02T03:04:05Z"}`,
		"acked > pending": `{"taosync_version":"1.0.0","at":"2026-01-02T03:04:05Z","results_pending":1,"results_unacknowledged":2}`,
	} {
		body := `{"data_seq":0,"data_bundle":"","receipt_seq":0,"report":` + report + `}`
		status, answer := f.API(http.MethodPost, api.Prefix+"/data/pull", token, strings.NewReader(body), "application/json")
		if status != http.StatusBadRequest {
			t.Errorf("%s: status %d (%s), want 400", name, status, answer)
		}
	}
	after, err := f.C.Store.Reports(f.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(after["ca"].Readiness)
	b, _ := json.Marshal(r.Readiness)
	if string(a) != string(b) {
		t.Errorf("a refused report changed what central keeps:\n%s\nwas\n%s", a, b)
	}
}

// TestVersionGate: with clients.minVersion set, a request naming an older
// version, or none, is refused with 403 naming both versions, and recorded
// as needing an upgrade; the minimum itself and a later one pass. A
// development build passes a central that is one too, and is refused by a
// central of a release.
func TestVersionGate(t *testing.T) { testfixture.OnEngines(t, testVersionGate) }

func testVersionGate(t *testing.T, engine string) {
	f := testfixture.NewOn(t, engine)
	f.Start(nil)
	f.Register("ca", "A")
	if _, err := config.Set(f.Ctx, f.C.Home.DB, "clients.minVersion", "1.4.0"); err != nil {
		t.Fatal(err)
	}
	token := f.TokenFor("ca")
	t.Cleanup(func() { version.Current = version.Devel })
	for _, tc := range []struct {
		central, version string
		status           int
		why              string
	}{
		{"devel", "", http.StatusForbidden, "older than 1.4.0"},
		{"devel", "1.3.9", http.StatusForbidden, "older than 1.4.0"},
		{"devel", "garbage", http.StatusForbidden, "older than 1.4.0"},
		{"devel", "1.4.0", http.StatusOK, ""},
		{"devel", "1.10.0", http.StatusOK, ""},
		{"devel", "devel", http.StatusOK, ""},
		{"1.5.0", "1.4.0", http.StatusOK, ""},
		{"1.5.0", "1.3.9", http.StatusForbidden, "older than 1.4.0"},
		{"1.5.0", "devel", http.StatusForbidden, "a development build"},
	} {
		version.Current = tc.central
		req, err := http.NewRequestWithContext(f.Ctx, http.MethodGet, f.URL+api.Prefix+"/receipts", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		if tc.version != "" {
			req.Header.Set(api.HeaderVersion, tc.version)
		}
		status, _, body := f.Do(req)
		if status != tc.status {
			t.Errorf("version %q on central %s: status %d, want %d", tc.version, tc.central, status, tc.status)
		}
		if tc.status == http.StatusForbidden {
			msg, _ := body["error"].(string)
			if !strings.Contains(msg, tc.why) || !strings.Contains(msg, "install taosync 1.4.0 or later") ||
				(tc.version != "" && !strings.Contains(msg, "taosync "+tc.version+" ")) {
				t.Errorf("version %q on central %s: refusal %q does not name the version, why (%s) and the minimum", tc.version, tc.central, msg, tc.why)
			}
		}
	}
	clients, _, err := f.C.Status(f.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(clients) != 1 || !clients[0].UpgradeNeeded || clients[0].LastError == nil {
		t.Errorf("after a refusal, central's status is %+v, want the centre to need an upgrade", clients)
	}
}

// TestReportOutOfRange: a report naming a data bundle central never made
// is refused (400) and kept nowhere, the request recorded as a refusal.
func TestReportOutOfRange(t *testing.T) { testfixture.OnEngines(t, testReportOutOfRange) }

func testReportOutOfRange(t *testing.T, engine string) {
	f := testfixture.NewOn(t, engine)
	f.Start(nil)
	f.Register("ca", "A")
	body := `{"taosync_version":"1.0.0","at":"2026-01-02T03:04:05Z","data_seq":1099511627776,"data_bundle":"0123456789abcdef0123456789abcdef","problems":[]}`
	st, b := f.API(http.MethodPost, api.Prefix+api.ReportPath, f.TokenFor("ca"), strings.NewReader(body), "application/json")
	if st != http.StatusBadRequest || !strings.Contains(string(b), "out of range") {
		t.Fatalf("a report of a data bundle never made: %d %s, want 400 out of range", st, b)
	}
	reports, err := f.C.Store.Reports(f.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := reports["ca"]; ok {
		t.Errorf("central keeps the refused report %+v", r)
	}
}
