package main

import (
	"runtime/debug"
	"testing"
)

func TestVersionOf(t *testing.T) {
	vcs := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	for _, tc := range []struct {
		name, release string
		bi            debug.BuildInfo
		want          string
	}{
		{"no vcs", "", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			"devel (go1.26.8)"},
		{"checkout", "", debug.BuildInfo{GoVersion: "go1.26.8",
			Main:     debug.Module{Version: "v0.0.0-20261206171804-ce61212a053c+dirty"},
			Settings: vcs("vcs.revision", "ce61212a053c0123456789", "vcs.time", "2026-12-06T17:18:04Z", "vcs.modified", "true")},
			"devel (commit ce61212a053c+dirty, of 2026-12-06T17:18:04Z, go1.26.8)"},
		{"tag", "", debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}, "v1.4.0"},
		{"release set", "v1.5.0", debug.BuildInfo{Main: debug.Module{Version: "(devel)"},
			Settings: vcs("vcs.revision", "abc", "vcs.modified", "false")}, "v1.5.0 (commit abc)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := versionOf(tc.release, &tc.bi); got != tc.want {
				t.Errorf("versionOf = %q, want %q", got, tc.want)
			}
		})
	}
}
