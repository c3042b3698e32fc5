package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/internal/qti"
	"github.com/taosync/taosync/internal/results"
)

// TestMain lets the test binary be the bench's measuring helper, as the
// bench binary is (see measure).
func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(helperMain(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// TestQuick runs the whole harness at the quick size, as `make bench-quick`
// does, when TAOSYNC_BENCH=1: it builds the CLI and needs the age and zstd
// programs, and takes about a minute, too long for every `go test ./...`.
// It checks that every figure was measured, never how fast.
func TestQuick(t *testing.T) {
	if os.Getenv("TAOSYNC_BENCH") != "1" {
		t.Skip("set TAOSYNC_BENCH=1 to run the quick benchmark (make bench-quick)")
	}
	out := filepath.Join(t.TempDir(), "bench.json")
	var stdout, stderr bytes.Buffer
	if code := cliMain([]string{"-size", "quick", "-json", out, "-work", t.TempDir()}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	ids := map[string]int{}
	for _, f := range r.Figures {
		ids[f.ID]++
		switch f.Status {
		case statusPass, statusMiss:
			if !(f.Value > 0) {
				t.Errorf("figure %s %q: value %v", f.ID, f.Name, f.Value)
			}
			if f.Baseline != nil && !(f.Baseline.Value > 0) {
				t.Errorf("figure %s %q: baseline %+v", f.ID, f.Name, f.Baseline)
			}
		case statusNotMeasured:
			if f.ID != "7" && f.ID != "8" && f.ID != "9" {
				t.Errorf("figure %s %q not measured", f.ID, f.Name)
			}
		default:
			t.Errorf("figure %s %q: status %q, want pass or miss", f.ID, f.Name, f.Status)
		}
	}
	// Target 1 the first full export and a further one, 2 one figure, 3
	// export and import, 4 size and time, 5 two cases each way, 6 each
	// way, 7, 8 and 9 a line each.
	want := map[string]int{"1": 2, "2": 1, "3": 2, "4": 2, "5": 4, "6": 2, "7": 1, "8": 1, "9": 1}
	for id, n := range want {
		if ids[id] != n {
			t.Errorf("%d figures for target %s, want %d", ids[id], id, n)
		}
	}
	for _, s := range []string{"Targets", "records/s", "MiB/s", "not measured: no HTTP yet"} {
		if !strings.Contains(stdout.String(), s) {
			t.Errorf("the table lacks %q:\n%s", s, stdout.String())
		}
	}
}

// The generated packages must pass central's validation, or publish
// refuses them; and they must be mostly incompressible media.
func TestPackageIsValid(t *testing.T) {
	for _, size := range []int64{1 * mib, 3 * mib} {
		path := filepath.Join(t.TempDir(), "p.zip")
		n, err := writePackage(path, 7, size)
		if err != nil {
			t.Fatal(err)
		}
		if n < size*9/10 || n > size*11/10 {
			t.Errorf("package of %d bytes asked, %d written", size, n)
		}
		pkg, err := qti.ValidateFile(path, qti.DefaultLimits)
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if pkg.Items < 20 || pkg.Test != "tests/test.xml" {
			t.Errorf("size %d: %d items, test %q", size, pkg.Items, pkg.Test)
		}
		var media, xml int
		for _, f := range pkg.Files {
			switch {
			case strings.HasPrefix(f, "media/"):
				media++
			case strings.HasSuffix(f, ".xml"):
				xml++
			}
		}
		if media < 5 || xml != pkg.Items+2 {
			t.Errorf("size %d: %d media files, %d XML files for %d items", size, media, xml, pkg.Items)
		}
		again := filepath.Join(t.TempDir(), "again.zip")
		if _, err := writePackage(again, 7, size); err != nil {
			t.Fatal(err)
		}
		if a, b := readFile(t, path), readFile(t, again); !bytes.Equal(a, b) {
			t.Errorf("size %d: the same seed gave different packages", size)
		}
	}
}

// The generated executions must pass `results add`'s checks, with
// documents of about 4 KiB (testdata/results/assessmentResult.xml).
func TestExecutionsAreValid(t *testing.T) {
	c := recordsConfig(1000)
	els, err := scopeEligibilities(c, benchOrg)
	if err != nil {
		t.Fatal(err)
	}
	if len(els) == 0 {
		t.Fatal("no eligibilities in scope")
	}
	inScope := map[string]bool{}
	for _, el := range els {
		inScope[el.TestCenter], inScope[el.Delivery] = true, true
		for _, tt := range el.TestTakers {
			inScope[tt] = true
		}
	}
	path := filepath.Join(t.TempDir(), "executions.jsonl")
	const n = 300
	mean, err := writeExecutions(path, "", els, n, 1)
	if err != nil {
		t.Fatal(err)
	}
	if mean < 3.5*kib || mean > 4.5*kib {
		t.Errorf("assessmentResult of %.0f bytes on average, want about 4 KiB", mean)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := results.NewReader(f, path, func(_ taosync.Type, id string) (bool, error) { return inScope[id], nil })
	got := 0
	for {
		x, _, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if x.Status != taosync.StatusFinished {
			t.Errorf("%s: status %s", x.ID, x.Status)
		}
		got++
	}
	if got != n {
		t.Errorf("read %d executions, want %d", got, n)
	}
}

// The records configuration puts the asked number of test takers in the
// benchmarked organisation's scope, and as many outside it.
func TestRecordsScope(t *testing.T) {
	c := recordsConfig(2000)
	els, err := scopeEligibilities(c, benchOrg)
	if err != nil {
		t.Fatal(err)
	}
	takers := map[string]bool{}
	for _, el := range els {
		for _, tt := range el.TestTakers {
			takers[tt] = true
		}
	}
	if len(takers) != 2000 {
		t.Errorf("%d test takers in scope, want 2000", len(takers))
	}
	if c.TestTakers != 4000 {
		t.Errorf("%d test takers on central, want 4000", c.TestTakers)
	}
	dels, err := scopeDeliveries(packageConfig(), benchOrg)
	if err != nil {
		t.Fatal(err)
	}
	if len(dels) < 4 {
		t.Errorf("package cases need 4 deliveries in scope, have %v", dels)
	}
	changes := filepath.Join(t.TempDir(), "changes.jsonl")
	n, err := writeChanges(changes, c)
	if err != nil {
		t.Fatal(err)
	}
	if n != 40 {
		t.Errorf("%d test takers changed, want 1%% of 4000", n)
	}
}

// A measured child's peak memory is its own: neither the bench's (which
// a child started directly inherits, see helperMain) nor too small.
func TestMeasurePeakIsTheChilds(t *testing.T) {
	ballast := make([]byte, 160*mib)
	for i := range ballast {
		ballast[i] = 1
	}
	small, err := measure(context.Background(), "true")
	if err != nil {
		t.Fatal(err)
	}
	if small.MaxRSS > 64*mib {
		t.Errorf("true peaked at %.0f MiB: the bench's own memory leaked into the measure", small.RSSMiB())
	}
	// dd reading through a buffer of 96 MiB.
	big, err := shell(context.Background(), `dd if=/dev/zero of=/dev/null bs=96M count=1 2>/dev/null; echo done`)
	if err != nil {
		t.Fatal(err)
	}
	if big.MaxRSS < 96*mib || big.MaxRSS > 200*mib+small.MaxRSS {
		t.Errorf("dd with a buffer of 96 MiB peaked at %.0f MiB", big.RSSMiB())
	}
	if strings.TrimSpace(string(big.Stdout)) != "done" || big.Took <= 0 {
		t.Errorf("output %q, time %v", big.Stdout, big.Took)
	}
	runtime.KeepAlive(ballast)
}

func TestJudge(t *testing.T) {
	for _, tc := range []struct {
		f    Figure
		want string
	}{
		{Figure{Value: 300, Min: ptr(250)}, statusPass},
		{Figure{Value: 200, Min: ptr(250)}, statusMiss},
		{Figure{Value: 300, Min: ptr(250), RatioMin: ptr(0.7), Baseline: &Baseline{Value: 500}}, statusMiss},
		{Figure{Value: 400, Min: ptr(250), RatioMin: ptr(0.7), Baseline: &Baseline{Value: 500}}, statusPass},
		{Figure{Value: 2, RatioMax: ptr(0.03), Baseline: &Baseline{Value: 100}}, statusPass},
		{Figure{Value: 4, RatioMax: ptr(0.03), Baseline: &Baseline{Value: 100}}, statusMiss},
		{Figure{Value: 4, RatioMax: ptr(0.03)}, statusMiss}, // no baseline: the ratio cannot be met
		{Figure{Value: 4, Baseline: &Baseline{Value: 100}}, statusInfo},
		// A ratio without a bound is information: the rate decides.
		{Figure{Value: 300, Min: ptr(250), Baseline: &Baseline{Value: 1000}}, statusPass},
	} {
		tc.f.judge()
		if tc.f.Status != tc.want {
			t.Errorf("%+v: status %s, want %s", tc.f, tc.f.Status, tc.want)
		}
		if tc.f.Baseline != nil && (tc.f.Ratio == nil || *tc.f.Ratio != tc.f.Value/tc.f.Baseline.Value) {
			t.Errorf("%+v: ratio %v, want %v", tc.f, tc.f.Ratio, tc.f.Value/tc.f.Baseline.Value)
		}
	}
	for v, want := range map[float64]string{0: "0", 0.0123: "0.0123", 0.5: "0.50", 12.34: "12.3", 250: "250", 250000: "250,000", 1234567.8: "1,234,568"} {
		if got := num(v); got != want {
			t.Errorf("num(%v) = %q, want %q", v, got, want)
		}
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
