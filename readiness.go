package taosync

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Readiness is a client's report of its own state, as `status` shows it on
// the client: it travels to central with every pull and inside every result
// bundle, so that central knows the last state of a centre that is offline.
type Readiness struct {
	// Version is the client's taosync version ("devel" for a development
	// build).
	Version string    `json:"taosync_version"`
	At      time.Time `json:"at"`
	Ready   bool      `json:"ready"`
	// Problems say why it is not ready, or what needs attention.
	Problems   []string `json:"problems"`
	DataSeq    uint64   `json:"data_seq"`
	DataBundle string   `json:"data_bundle,omitempty"`
	// Packages is the state of each delivery's test package on the client.
	Packages []PackageState `json:"packages"`
	// Pending counts the results to send that central has not yet
	// acknowledged, Unacknowledged those of them already sent.
	Pending        int64 `json:"results_pending"`
	Unacknowledged int64 `json:"results_unacknowledged"`
	// FreeDisk is the space left on the home's disk, -1 if unknown.
	FreeDisk  int64 `json:"free_disk_bytes"`
	DBBytes   int64 `json:"database_bytes"`
	TestTaker int64 `json:"test_takers"`
}

// PackageState is a delivery's test package as a client holds it.
type PackageState struct {
	Delivery string `json:"delivery"`
	// State is PackageOK, PackageMissing, PackageCorrupt or PackageInvalid.
	State string `json:"state"`
	// SHA256 names the package held; empty when missing.
	SHA256 string `json:"sha256,omitempty"`
}

// Package states.
const (
	PackageOK      = "ok"
	PackageMissing = "missing"
	PackageCorrupt = "corrupt"
	// PackageInvalid: intact, but refused by the checks central makes
	// before it publishes a package (an older central did not make them).
	PackageInvalid = "invalid"
)

// Bounds of a readiness report: what a client sends is checked against
// them before central keeps it. A centre has a few dozen deliveries and a
// handful of problems; these leave a wide margin and keep a report within
// 64 KiB whatever it holds.
const (
	MaxReportProblems = 32
	MaxReportPackages = 200
	maxProblemLen     = 200
	maxIDLen          = 128
	maxVersionLen     = 64
	maxCount          = 1 << 40
)

// ErrBadReport marks a readiness report out of its bounds.
var ErrBadReport = errors.New("bad readiness report")

// Check says why a report is out of its bounds, or nil.
func (r *Readiness) Check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadReport, fmt.Sprintf(format, args...))
	}
	text := func(s string, max int) bool {
		return len(s) <= max && utf8.ValidString(s) && !strings.ContainsFunc(s, func(c rune) bool { return c < ' ' || c == 0x7f })
	}
	if r.Version == "" || !text(r.Version, maxVersionLen) {
		return bad("version %.64q is empty, too long or not text", r.Version)
	}
	if r.At.IsZero() || r.At.Year() < 2000 || r.At.Year() > 9999 {
		return bad("time %s out of range", r.At)
	}
	if len(r.Problems) > MaxReportProblems {
		return bad("%d problems (at most %d)", len(r.Problems), MaxReportProblems)
	}
	for _, p := range r.Problems {
		if p == "" || !text(p, maxProblemLen) {
			return bad("problem %.64q is empty, longer than %d bytes or not text", p, maxProblemLen)
		}
	}
	if r.DataBundle != "" && !isLowerHex(r.DataBundle, 32) {
		return bad("data bundle %.64q is not a bundle id", r.DataBundle)
	}
	if len(r.Packages) > MaxReportPackages {
		return bad("%d packages (at most %d)", len(r.Packages), MaxReportPackages)
	}
	for _, p := range r.Packages {
		if p.Delivery == "" || !text(p.Delivery, maxIDLen) {
			return bad("delivery %.64q is empty, too long or not text", p.Delivery)
		}
		switch {
		case p.State != PackageOK && p.State != PackageMissing && p.State != PackageCorrupt && p.State != PackageInvalid:
			return bad("delivery %s: package state %.32q", p.Delivery, p.State)
		case p.SHA256 != "" && !isLowerHex(p.SHA256, 64):
			return bad("delivery %s: package hash %.80q", p.Delivery, p.SHA256)
		}
	}
	for _, n := range []struct {
		name string
		v    int64
		min  int64
	}{{"results_pending", r.Pending, 0}, {"results_unacknowledged", r.Unacknowledged, 0},
		{"free_disk_bytes", r.FreeDisk, -1}, {"database_bytes", r.DBBytes, 0}, {"test_takers", r.TestTaker, 0}} {
		if n.v < n.min || n.v > maxCount*1024 {
			return bad("%s %d out of range", n.name, n.v)
		}
	}
	if r.Unacknowledged > r.Pending {
		return bad("results_unacknowledged %d above results_pending %d", r.Unacknowledged, r.Pending)
	}
	if r.DataSeq > maxCount {
		return bad("data_seq %d out of range", r.DataSeq)
	}
	return nil
}

func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
