package main

import (
	"runtime/debug"
	"strings"

	"github.com/taosync/taosync/internal/metrics"
)

// buildVersion says which build this is, from what Go records in the binary: the
// release, and the commit and its time when the binary was built from a git
// checkout (make build asks for them), and the Go version.
func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return shortVersion()
	}
	return versionOf(release, bi)
}

// shortVersion is the release alone, as a client reports it to central.
func shortVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return releaseOf(release, &debug.BuildInfo{})
	}
	return releaseOf(release, bi)
}

// releaseOf is the release set at build time, else the module's version
// when it is a tag, else "devel" (a pseudo-version only repeats the commit).
func releaseOf(release string, bi *debug.BuildInfo) string {
	if release != "" {
		return release
	}
	v := bi.Main.Version
	if rev := setting(bi, "vcs.revision"); v == "" || v == "(devel)" || (len(rev) >= 12 && strings.Contains(v, rev[:12])) {
		return "devel"
	}
	return v
}

func versionOf(release string, bi *debug.BuildInfo) string {
	var extra []string
	if rev := setting(bi, "vcs.revision"); rev != "" {
		rev = rev[:min(len(rev), 12)]
		if setting(bi, "vcs.modified") == "true" {
			rev += "+dirty"
		}
		extra = append(extra, "commit "+rev)
	}
	if t := setting(bi, "vcs.time"); t != "" {
		extra = append(extra, "of "+t)
	}
	if bi.GoVersion != "" {
		extra = append(extra, bi.GoVersion)
	}
	v := releaseOf(release, bi)
	if len(extra) == 0 {
		return v
	}
	return v + " (" + strings.Join(extra, ", ") + ")"
}

func setting(bi *debug.BuildInfo, key string) string {
	for _, s := range bi.Settings {
		if s.Key == key {
			return s.Value
		}
	}
	return ""
}

// buildInfo is what version says, in parts: for taosync_build_info.
func buildInfo() metrics.Build {
	b := metrics.Build{Version: shortVersion()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		b.Commit, b.Time, b.GoVersion = setting(bi, "vcs.revision"), setting(bi, "vcs.time"), bi.GoVersion
		if setting(bi, "vcs.modified") == "true" {
			b.Commit += "+dirty"
		}
	}
	return b
}
