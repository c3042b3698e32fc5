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

// Devel is the version of a development build. It passes every gate: it
// is built from a checkout, by whoever runs it, for a reason.
const Devel = "devel"

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

// Below reports whether have is older than min. A development build is
// never below; a version that is not a release version (or none: a client
// older than the version header) is.
func Below(have, min string) bool {
	if have == Devel {
		return false
	}
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
