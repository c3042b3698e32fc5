package taosync_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/taosync/taosync"
)

func goodReport() taosync.Readiness {
	return taosync.Readiness{
		Version: "1.4.0", At: time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC), Ready: true, Problems: []string{},
		DataSeq: 3, DataBundle: strings.Repeat("ab", 16),
		Packages: []taosync.PackageState{{Delivery: "d1", State: taosync.PackageOK, SHA256: strings.Repeat("0f", 32)}},
		Pending:  2, Unacknowledged: 1, FreeDisk: -1, DBBytes: 4096, TestTaker: 30,
	}
}

// TestReadinessCheck: each bound refuses what is beyond it, and only that.
func TestReadinessCheck(t *testing.T) {
	if r := goodReport(); r.Check() != nil {
		t.Fatalf("a good report refused: %v", r.Check())
	}
	for name, spoil := range map[string]func(*taosync.Readiness){
		"no version":          func(r *taosync.Readiness) { r.Version = "" },
		"long version":        func(r *taosync.Readiness) { r.Version = strings.Repeat("1", 65) },
		"newline in version":  func(r *taosync.Readiness) { r.Version = "1.4.0\nx" },
		"no time":             func(r *taosync.Readiness) { r.At = time.Time{} },
		"33 problems":         func(r *taosync.Readiness) { r.Problems = make([]string, 33) },
		"empty problem":       func(r *taosync.Readiness) { r.Problems = []string{""} },
		"long problem":        func(r *taosync.Readiness) { r.Problems = []string{strings.Repeat("x", 201)} },
		"invalid UTF-8":       func(r *taosync.Readiness) { r.Problems = []string{"\xff"} },
		"escape in problem":   func(r *taosync.Readiness) { r.Problems = []string{"\x1b[31mred"} },
		"bad bundle id":       func(r *taosync.Readiness) { r.DataBundle = "xyz" },
		"upper-case bundle":   func(r *taosync.Readiness) { r.DataBundle = strings.Repeat("AB", 16) },
		"201 packages":        func(r *taosync.Readiness) { r.Packages = make([]taosync.PackageState, 201) },
		"package state":       func(r *taosync.Readiness) { r.Packages[0].State = "fine" },
		"package hash":        func(r *taosync.Readiness) { r.Packages[0].SHA256 = "00" },
		"long delivery":       func(r *taosync.Readiness) { r.Packages[0].Delivery = strings.Repeat("d", 129) },
		"negative pending":    func(r *taosync.Readiness) { r.Pending = -1 },
		"free disk below -1":  func(r *taosync.Readiness) { r.FreeDisk = -2 },
		"huge database":       func(r *taosync.Readiness) { r.DBBytes = 1 << 62 },
		"more sent than left": func(r *taosync.Readiness) { r.Unacknowledged = 3 },
		"huge data seq":       func(r *taosync.Readiness) { r.DataSeq = 1 << 62 },
	} {
		r := goodReport()
		r.Packages = append([]taosync.PackageState(nil), r.Packages...)
		spoil(&r)
		if err := r.Check(); !errors.Is(err, taosync.ErrBadReport) {
			t.Errorf("%s: %v, want ErrBadReport", name, err)
		}
	}
}

// FuzzReadiness: any bytes central receives as a report either fail to
// decode, fail the check, or survive an encode and decode unchanged and
// still pass it; the check never panics.
func FuzzReadiness(f *testing.F) {
	good, _ := json.Marshal(goodReport())
	f.Add(good)
	f.Add([]byte(`{"taosync_version":"devel","at":"2026-01-02T03:04:05Z","problems":["x"],"packages":[{"delivery":"d","state":"missing"}]}`))
	f.Add([]byte(`{"taosync_version":"1","at":"0001-01-01T00:00:00Z"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r taosync.Readiness
		if json.Unmarshal(b, &r) != nil || r.Check() != nil {
			return
		}
		again, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var r2 taosync.Readiness
		if err := json.Unmarshal(again, &r2); err != nil {
			t.Fatal(err)
		}
		if err := r2.Check(); err != nil {
			t.Fatalf("a report that passed fails after a round trip: %v", err)
		}
		if !reflect.DeepEqual(normal(r), normal(r2)) {
			t.Fatalf("round trip changed the report:\n%+v\n%+v", r, r2)
		}
	})
}

// normal drops what JSON does not keep: the difference between a nil and
// an empty list, and a time's location.
func normal(r taosync.Readiness) taosync.Readiness {
	if len(r.Problems) == 0 {
		r.Problems = nil
	}
	if len(r.Packages) == 0 {
		r.Packages = nil
	}
	r.At = r.At.UTC()
	return r
}
