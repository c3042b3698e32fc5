// Package version compares taosync versions, as the version gate does: a
// release is MAJOR.MINOR.PATCH (an optional leading "v" and a pre-release
// or build suffix after "-" or "+" are allowed); a development build calls
// itself "devel".
package version

import (
	"fmt"
	"strconv"
	"strings"
)

// Devel is the version of a development build: built from a checkout, it
// says nothing of the release it is nearest.
const Devel = "devel"

// Current is this build's version: Devel unless main sets the release it
// was built as. A client reports it to central; central's version gate
// reads it to tell a development central from a release.
var Current = Devel

// Parse reads a release version into its three numbers.
func Parse(s string) ([3]uint64, error) {
	var v [3]uint64
	core := strings.TrimPrefix(s, "v")
	if i := strings.IndexAny(core, "-+"); i >= 0 {
		core = core[:i]
	}
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return v, fmt.Errorf("version %q is not MAJOR.MINOR.PATCH", s)
	}
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 32)
		if err != nil || (len(p) > 1 && p[0] == '0') {
			return v, fmt.Errorf("version %q is not MAJOR.MINOR.PATCH", s)
		}
		v[i] = n
	}
	return v, nil
}

// Serves reports whether a central of version own whose minimum client
// version is min ("" for none) serves a client of version have. Without a
// minimum it serves every client; with one, a release at or above it. A
// development build may be older than any release, so a central of a
// release refuses it, as it refuses a version that is not a release version
// (or none: a client older than the version header); a central that is a
// development build too serves it (a developer's own setup, both built
// from checkouts).
func Serves(own, min, have string) bool {
	if _, err := Parse(min); err != nil {
		return true
	}
	if have == Devel && own == Devel {
		return true
	}
	return !Below(have, min)
}

// Shortfall says why a central with minimum min does not serve have, for a
// message that goes on to say what to do.
func Shortfall(have, min string) string {
	if have == Devel {
		return "a development build, which central serves only when it is one too"
	}
	return "older than " + min + ", the oldest version central serves"
}

// Below reports whether have is older than min. A version that is not a
// release version (a development build, or none) is below.
func Below(have, min string) bool {
	m, err := Parse(min)
	if err != nil {
		return false
	}
	h, err := Parse(have)
	if err != nil {
		return true
	}
	for i := range h {
		if h[i] != m[i] {
			return h[i] < m[i]
		}
	}
	return false
}
