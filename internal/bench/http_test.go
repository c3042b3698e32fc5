package main

import (
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 200; i++ {
		ds = append(ds, time.Duration(201-i)*time.Second)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 100 * time.Second}, {99, 198 * time.Second}, {100, 200 * time.Second}, {0, 1 * time.Second}} {
		if got := percentile(ds, c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	if got := percentile(nil, 99); got != 0 {
		t.Errorf("p99 of nothing = %v", got)
	}
}

func TestServeErrors(t *testing.T) {
	log := `time=1 level=INFO msg=serving url=http://127.0.0.1:1
time=2 level=ERROR msg="pull: export" err="compute scope of centre-155: context canceled"
time=3 level=ERROR msg="pull: export" err="compute scope of centre-7: context canceled"
time=4 level=ERROR msg="pull: record state" err="database is locked"
`
	got := serveErrors(log)
	want := `2 × "pull: export" err="compute scope of centre-N: context canceled"`
	if !strings.HasPrefix(got, want) || !strings.Contains(got, `1 × "pull: record state"`) {
		t.Errorf("serveErrors = %q", got)
	}
	if got := serveErrors("time=1 level=INFO msg=serving\n"); got != "no errors" {
		t.Errorf("serveErrors of no errors = %q", got)
	}
}
