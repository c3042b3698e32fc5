package version

import "testing"

func TestBelow(t *testing.T) {
	for _, c := range []struct {
		have, min string
		below     bool
	}{
		{"1.4.0", "1.4.0", false},
		{"1.3.9", "1.4.0", true},
		{"1.10.0", "1.9.0", false},
		{"1.9.0", "1.10.0", true},
		{"2.0.0", "1.4.0", false},
		{"v1.4.1", "1.4.0", false},
		{"1.4.0-rc.1", "1.4.0", false},
		{"0.9.12", "1.0.0", true},
		{"devel", "0.0.1", true},
		{"", "1.0.0", true},
		{"dev", "1.0.0", true},
		{"1.4", "1.4.0", true},
		{"1.4.0", "", false},
	} {
		if got := Below(c.have, c.min); got != c.below {
			t.Errorf("Below(%q, %q) = %v, want %v", c.have, c.min, got, c.below)
		}
	}
}

// TestServes: a central with a minimum serves the releases at or above it;
// a development build only when central is one too.
func TestServes(t *testing.T) {
	for _, c := range []struct {
		own, min, have string
		serves         bool
	}{
		{"1.5.0", "", "devel", true},
		{"1.5.0", "", "", true},
		{"1.5.0", "1.4.0", "1.4.0", true},
		{"1.5.0", "1.4.0", "1.3.9", false},
		{"1.5.0", "1.4.0", "devel", false},
		{"1.5.0", "0.0.1", "devel", false},
		{"devel", "1.4.0", "devel", true},
		{"devel", "1.4.0", "1.3.9", false},
		{"devel", "1.4.0", "", false},
		{"devel", "1.4.0", "dev", false},
		{"", "1.4.0", "devel", false},
	} {
		if got := Serves(c.own, c.min, c.have); got != c.serves {
			t.Errorf("Serves(%q, %q, %q) = %v, want %v", c.own, c.min, c.have, got, c.serves)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	for _, s := range []string{"", "1", "1.2", "1.2.3.4", "a.b.c", "01.2.3", "1.-2.3", "1.2.99999999999"} {
		if _, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) succeeded", s)
		}
	}
}
