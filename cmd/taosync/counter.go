package main

import (
	"fmt"
	"io"
	"os"
	"time"
	"unicode/utf8"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/internal/human"
	"github.com/taosync/taosync/internal/store"
)

// counter shows how far a count of work has gone (central load's rows,
// export data --all's clients) on one rewritten line of stderr, when
// stderr is a terminal; in pipes and files it stays silent. (progress.go's
// line is the phases of one bundle.)
type counter struct {
	w     io.Writer
	start time.Time
	last  time.Time
	wide  int
}

// newCounter returns nil when stderr is not a terminal.
func (a *app) newCounter() *counter {
	f, ok := a.stderr.(*os.File)
	if !ok {
		return nil
	}
	if !isTerminal(f) {
		return nil
	}
	now := time.Now()
	return &counter{w: f, start: now}
}

// show rewrites the line with what line says, at most ten times a second
// unless force.
func (c *counter) show(force bool, line func(elapsed time.Duration) string) {
	if c == nil {
		return
	}
	now := time.Now()
	if !force && now.Sub(c.last) < 100*time.Millisecond {
		return
	}
	c.last = now
	l := line(now.Sub(c.start))
	n := utf8.RuneCountInString(l)
	pad := max(c.wide-n, 0)
	c.wide = n
	fmt.Fprintf(c.w, "\r%s%*s", l, pad, "")
}

// done clears the line.
func (c *counter) done() {
	if c == nil || c.wide == 0 {
		return
	}
	fmt.Fprintf(c.w, "\r%*s\r", c.wide, "")
	c.wide = 0
}

// perSecond says n in elapsed as a rate of unit: "41200 rows/s".
func perSecond(n int64, elapsed time.Duration, unit string) string {
	if elapsed < time.Second {
		return ""
	}
	return fmt.Sprintf(", %.0f %s/s", float64(n)/elapsed.Seconds(), unit)
}

// countingSource counts the entities read from src, for central load's
// line.
type countingSource struct {
	src  store.EntitySource
	rows int64
	// read counts the bytes read from the file, size is the file's.
	read *countingReader
	size int64
	c    *counter
	name string
}

func (s *countingSource) Next() (taosync.Entity, int, error) {
	e, line, err := s.src.Next()
	if err == nil {
		s.rows++
		s.c.show(false, func(elapsed time.Duration) string {
			pct := ""
			if s.size > 0 {
				pct = fmt.Sprintf(" (%d%% of %s)", min(100, s.read.n*100/s.size), human.Bytes(s.size))
			}
			return fmt.Sprintf("loading %s: %s%s%s", s.name, plural(s.rows, "row"), pct, perSecond(s.rows, elapsed, "rows"))
		})
	}
	return e, line, err
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.n += int64(n)
	return n, err
}
