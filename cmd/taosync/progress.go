package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/taosync/taosync/internal/client"
)

// progress shows the state of long work on one rewritten line of stderr,
// when stderr is a terminal; in pipes and files (cron) it says only what
// an operator must know of: each wait for the network, one line each.
type progress struct {
	w    io.Writer
	term bool
	mu   sync.Mutex
	last time.Time
	wide int
	// The phase shown, when it began and at how many bytes, for its rate.
	bundle, phase string
	began         time.Time
	from          int64
	// line is the last progress line, which a wait is shown beside.
	line string
	// moved is when count, the bytes done, last grew, to say so when they
	// stop before the stall timeout ends the transfer; waiting is set
	// while a retry is shown; stop ends the ticker that says it.
	count   int64
	moved   time.Time
	waiting bool
	stop    chan struct{}
}

// newProgress returns a progress on stderr: a rewritten line on a
// terminal, silent otherwise but for retries.
func (a *app) newProgress() *progress {
	p := &progress{w: a.stderr}
	if f, ok := a.stderr.(*os.File); ok {
		p.term = isTerminal(f)
	}
	return p
}

// update shows one phase of work on a bundle, at most ten times a second.
// A download's numbers are bytes: it shows its rate and the time left.
func (p *progress) update(bundle, phase string, done, total int64) {
	if !p.term {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if bundle != p.bundle || phase != p.phase {
		p.bundle, p.phase, p.began, p.from = bundle, phase, now, done
	}
	if done != p.count || p.moved.IsZero() {
		p.count, p.moved, p.waiting = done, now, false
	}
	if p.stop == nil {
		p.stop = make(chan struct{})
		go p.tick(p.stop)
	}
	if now.Sub(p.last) < 100*time.Millisecond && done < total {
		return
	}
	p.last = now
	line := fmt.Sprintf("%s: %s %d/%d", bundle, phase, done, total)
	if phase == "download" && total > 0 {
		line = fmt.Sprintf("%s: download %d%% (%s of %s)", bundle, done*100/total, size(done), size(total))
		if secs := now.Sub(p.began).Seconds(); secs >= 1 && done > p.from {
			rate := float64(done-p.from) / secs
			line += fmt.Sprintf(", %s/s, %s left", size(int64(rate)), seconds(time.Duration(float64(total-done)/rate*float64(time.Second))))
		}
	}
	p.line = line
	p.show(line)
}

// tick says, each second, how long a download has moved no byte.
func (p *progress) tick(stop chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			p.quiet(now)
		}
	}
}

// quiet shows, from 2 s on, that a download moves no byte: the line goes
// on changing during a cut, before the stall timeout drops the transfer.
func (p *progress) quiet(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.phase != "download" || p.waiting || p.line == "" || now.Sub(p.moved) < 2*time.Second {
		return
	}
	p.show(fmt.Sprintf("%s: no byte for %s", p.line, seconds(now.Sub(p.moved).Truncate(time.Second))))
}

// retry says that a step failed and waits for the network: beside the
// progress line on a terminal, on a line of its own otherwise.
func (p *progress) retry(r client.Retry) {
	p.mu.Lock()
	defer p.mu.Unlock()
	wait := fmt.Sprintf("waiting for the network (retry %d of %d in %s)", r.Attempt, r.Of-1, seconds(r.Wait))
	if p.term {
		p.waiting = true
		line := wait
		if p.line != "" {
			line = p.line + ": " + wait
		}
		p.show(line)
		return
	}
	fmt.Fprintf(p.w, "taosync: %s: %s: %s\n", wait, r.What, oneLine(r.Err.Error()))
}

// show rewrites the line.
func (p *progress) show(line string) {
	pad := max(p.wide-len(line), 0)
	p.wide = len(line)
	fmt.Fprintf(p.w, "\r%s%*s", line, pad, "")
}

// done clears the progress line.
func (p *progress) done() {
	if !p.term {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stop != nil {
		close(p.stop)
		p.stop = nil
	}
	if p.wide > 0 {
		fmt.Fprintf(p.w, "\r%*s\r", p.wide, "")
	}
	p.wide, p.line, p.bundle, p.phase, p.moved = 0, "", "", "", time.Time{}
}

// size is a byte count for people: 512 B, 1.5 KiB, 3.0 MiB.
func size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n)/unit, 0
	for v >= unit && i < 3 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGT"[i])
}

// seconds is a wait for people: 0.5 s, 8 s, 2 min 5 s.
func seconds(d time.Duration) string {
	switch {
	case d < 10*time.Second:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", d.Seconds()), ".0") + " s"
	case d < 2*time.Minute:
		return fmt.Sprintf("%d s", int(d.Round(time.Second).Seconds()))
	}
	d = d.Round(time.Second)
	return fmt.Sprintf("%d min %d s", int(d.Minutes()), int(d.Seconds())%60)
}
