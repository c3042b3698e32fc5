package main

import (
	"bytes"
	"errors"
	"regexp"
	"testing"
	"time"

	"github.com/taosync/taosync/internal/client"
)

// TestProgress: on a terminal a download shows its share, its rate and
// the time left, how long it has moved no byte (from 2 s on), and a wait
// for the network beside it; elsewhere only the wait is said, on a line
// of its own.
func TestProgress(t *testing.T) {
	r := client.Retry{What: "download data-cA-000001-0a1b2c3d/f00d", Err: errors.New("no byte moved for 30s"), Attempt: 2, Of: 15, Wait: 8 * time.Second}

	var term bytes.Buffer
	p := &progress{w: &term, term: true}
	p.update("data-cA-000001-0a1b2c3d", "download", 0, 2<<20)
	p.began = p.began.Add(-2 * time.Second)
	p.last = time.Time{}
	p.update("data-cA-000001-0a1b2c3d", "download", 1<<20, 2<<20)
	p.quiet(time.Now())
	p.quiet(time.Now().Add(5 * time.Second))
	p.retry(r)
	p.quiet(time.Now().Add(9 * time.Second))
	p.done()
	want := regexp.MustCompile(`^\rdata-cA-000001-0a1b2c3d: download 0% \(0 B of 2\.0 MiB\)` +
		`\rdata-cA-000001-0a1b2c3d: download 50% \(1\.0 MiB of 2\.0 MiB\), 51[0-2]\.\d KiB/s, 2 s left` +
		`\rdata-cA-000001-0a1b2c3d: download 50% \(1\.0 MiB of 2\.0 MiB\), 51[0-2]\.\d KiB/s, 2 s left: no byte for [45] s` +
		`\rdata-cA-000001-0a1b2c3d: download 50% \(1\.0 MiB of 2\.0 MiB\), 51[0-2]\.\d KiB/s, 2 s left: waiting for the network \(retry 2 of 14 in 8 s\)` +
		`\r +\r$`)
	if !want.Match(term.Bytes()) {
		t.Errorf("on a terminal: %q", term.String())
	}

	var pipe bytes.Buffer
	p = &progress{w: &pipe}
	p.update("data-cA-000001-0a1b2c3d", "download", 1, 2)
	p.retry(r)
	p.done()
	if got, want := pipe.String(), "taosync: waiting for the network (retry 2 of 14 in 8 s): download data-cA-000001-0a1b2c3d/f00d: no byte moved for 30s\n"; got != want {
		t.Errorf("not on a terminal: %q, want %q", got, want)
	}
}

func TestSizeAndSeconds(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{size(512), "512 B"}, {size(1536), "1.5 KiB"}, {size(3 << 20), "3.0 MiB"}, {size(5 << 30), "5.0 GiB"},
		{seconds(450 * time.Millisecond), "0.5 s"}, {seconds(time.Second), "1 s"}, {seconds(8 * time.Second), "8 s"},
		{seconds(45 * time.Second), "45 s"}, {seconds(125 * time.Second), "2 min 5 s"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
