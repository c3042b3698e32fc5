package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/internal/load"
)

// TestLoadCounter: central load's line on a terminal says the rows read
// and how much of the file, rewritten in place over a longer one; done
// clears it, as many characters (not bytes: the file's name is not ASCII).
func TestLoadCounter(t *testing.T) {
	csv := "id,login\ntt1,anna\ntt2,ben\ntt3,carla\ntt4,dan\n"
	var out bytes.Buffer
	c := &counter{w: &out, start: time.Now()}
	// One byte a read: the bytes read are those of the rows read.
	read := &countingReader{r: iotest.OneByteReader(strings.NewReader(csv))}
	r, err := load.NewReader(read, "tt.csv", load.CSV, taosync.TestTaker)
	if err != nil {
		t.Fatal(err)
	}
	src := &countingSource{src: r, read: read, size: int64(len(csv)), c: c, name: "tt-é.csv"}
	for {
		c.last = time.Time{} // as if a tenth of a second had passed
		if _, _, err := src.Next(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	c.done()
	want := "" +
		"\rloading tt-é.csv: 1 row (40% of 44 B)" +
		"\rloading tt-é.csv: 2 rows (59% of 44 B)" +
		"\rloading tt-é.csv: 3 rows (81% of 44 B)" +
		"\rloading tt-é.csv: 4 rows (100% of 44 B)" +
		"\r" + strings.Repeat(" ", 39) + "\r"
	if got := out.String(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestPerSecond(t *testing.T) {
	for _, tc := range []struct {
		n       int64
		elapsed time.Duration
		want    string
	}{{10, 500 * time.Millisecond, ""}, {120000, 3 * time.Second, ", 40000 rows/s"}, {5, 10 * time.Second, ", 0 rows/s"}} {
		if got := perSecond(tc.n, tc.elapsed, "rows"); got != tc.want {
			t.Errorf("perSecond(%d, %s) = %q, want %q", tc.n, tc.elapsed, got, tc.want)
		}
	}
}

// TestCounterOffTerminal: in a pipe or a file there is no counter, and a
// nil one does nothing.
func TestCounterOffTerminal(t *testing.T) {
	a := &app{stderr: &bytes.Buffer{}}
	c := a.newCounter()
	if c != nil {
		t.Fatal("a counter on a buffer")
	}
	c.show(true, func(time.Duration) string { return "x" })
	c.done()
}
