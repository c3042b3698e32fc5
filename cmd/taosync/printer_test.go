package main

import (
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestPlural(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{{0, "0 chunks"}, {1, "1 chunk"}, {2, "2 chunks"}} {
		if got := plural(tc.n, "chunk"); got != tc.want {
			t.Errorf("plural(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestWrap(t *testing.T) {
	got := wrap("aa bb cc dddddddddd e", "  ", 8)
	want := []string{"  aa bb", "  cc", "  dddddddddd", "  e"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("wrap = %q, want %q", got, want)
	}
	if got := wrap("", "  ", 8); got != nil {
		t.Errorf("wrap of nothing = %q", got)
	}
}

func TestOrBeneath(t *testing.T) {
	if got, want := orBeneath("skipped      b:", "already applied"), []string{"skipped      b: already applied"}; !reflect.DeepEqual(got, want) {
		t.Errorf("orBeneath of a short line = %q, want %q", got, want)
	}
	head := "not-for-this-home usb-stick/results-centre-1-000001-841dd639:"
	if got, want := orBeneath(head, "sent from this home"), []string{head, "  sent from this home"}; !reflect.DeepEqual(got, want) {
		t.Errorf("orBeneath of 81 characters = %q, want %q", got, want)
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2027, 5, 10, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"", time.Time{}},
		{"90m", now.Add(-90 * time.Minute)},
		{"7d", now.AddDate(0, 0, -7)},
		{"2027-05-01T09:00:00Z", time.Date(2027, 5, 1, 9, 0, 0, 0, time.UTC)},
		{"2027-05-01", time.Date(2027, 5, 1, 0, 0, 0, 0, time.Local)},
	} {
		got, err := parseSince(tc.in, now)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"yesterday", "-1h", "-2d", "2027-13-01", "d"} {
		if _, err := parseSince(bad, now); err == nil {
			t.Errorf("parseSince(%q): no error", bad)
		}
	}
}

// TestExamples: the main commands show examples in their help, each line
// within 80 columns.
func TestExamples(t *testing.T) {
	root := (&app{}).rootCommand()
	for _, path := range []string{
		"init", "central load", "central publish", "central client add", "export data", "import",
		"sync", "results add", "status", "history", "verify",
	} {
		cmd, _, err := root.Find(strings.Fields(path))
		if err != nil || cmd.CommandPath() != "taosync "+path {
			t.Errorf("%s: not found (%v)", path, err)
			continue
		}
		if cmd.Example == "" {
			t.Errorf("%s: no example", path)
		}
		for _, l := range strings.Split(cmd.Example, "\n") {
			if n := utf8.RuneCountInString(l); n > 80 || !strings.HasPrefix(l, "  taosync ") && !strings.HasPrefix(l, "  # ") {
				t.Errorf("%s: example line of %d characters, or not a command or a comment: %q", path, n, l)
			}
		}
	}
}
