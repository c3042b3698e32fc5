package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// progress shows the state of long work on one rewritten line of stderr,
// when stderr is a terminal; in pipes and files it stays silent.
type progress struct {
	w    io.Writer
	mu   sync.Mutex
	last time.Time
	wide int
}

// newProgress returns nil when stderr is not a terminal.
func (a *app) newProgress() *progress {
	f, ok := a.stderr.(*os.File)
	if !ok {
		return nil
	}
	st, err := f.Stat()
	if err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return &progress{w: f}
}

// update shows one phase of work on a bundle, at most ten times a second.
func (p *progress) update(bundle, phase string, done, total int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if now := time.Now(); now.Sub(p.last) < 100*time.Millisecond && done < total {
		return
	} else {
		p.last = now
	}
	line := fmt.Sprintf("%s: %s %d/%d", bundle, phase, done, total)
	pad := p.wide - len(line)
	p.wide = len(line)
	if pad < 0 {
		pad = 0
	}
	fmt.Fprintf(p.w, "\r%s%*s", line, pad, "")
}

// done clears the progress line.
func (p *progress) done() {
	if p == nil || p.wide == 0 {
		return
	}
	fmt.Fprintf(p.w, "\r%*s\r", p.wide, "")
	p.wide = 0
}
