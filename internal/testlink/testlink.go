// Package testlink is a bad line for tests and the bench: a TCP proxy on
// loopback, in front of a server, that adds delay, limits the rate, and
// refuses, resets, black-holes or stalls connections on demand. It is the
// 3G modem and the satellite dish of a test centre, made repeatable.
//
// What it can do, and what it cannot: a program cannot drop the SYN of a
// loopback connection without privileges, so a black hole accepts the
// connection and forwards nothing (as a line does whose address changed
// under it), and a link that is down refuses connections.
package testlink

import (
	"errors"
	"net"
	"sync"
	"time"
)

// Line is a proxy from its own loopback address to a target address.
type Line struct {
	target string
	addr   string

	mu      sync.Mutex
	ln      net.Listener // nil while down
	delay   time.Duration
	up      bucket // client to server
	down    bucket // server to client
	hole    bool
	conns   map[*conn]struct{}
	stallAt int64 // >0: the first connection to carry this many bytes down stalls
	stalls  int
	wg      sync.WaitGroup
	closed  bool
}

// conn is one proxied connection; a dead one forwards nothing more.
type conn struct {
	client, server net.Conn
	dead           bool
	downBytes      int64
}

// Start listens on a free loopback port and forwards to target.
func Start(target string) (*Line, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	l := &Line{target: target, addr: ln.Addr().String(), conns: map[*conn]struct{}{}}
	l.serve(ln)
	return l, nil
}

// Addr is the link's address, host:port.
func (l *Line) Addr() string { return l.addr }

// SetDelay sets the one-way delay of every byte (half the round trip).
func (l *Line) SetDelay(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.delay = d
}

// SetRate limits each direction to bytesPerSecond, shared by every
// connection as on one line; 0 lifts the limit.
func (l *Line) SetRate(bytesPerSecond int64) {
	l.up.setRate(bytesPerSecond)
	l.down.setRate(bytesPerSecond)
}

// Down closes the listener (new connections are refused) and resets every
// open connection.
func (l *Line) Down() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln != nil {
		l.ln.Close()
		l.ln = nil
	}
	l.resetLocked()
}

// BlackHole makes the line lose everything: open connections forward
// nothing more, new ones are accepted and forward nothing, until Up.
func (l *Line) BlackHole() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.hole = true
	for c := range l.conns {
		c.dead = true
	}
}

// Stall makes every open connection forward nothing more (its ends stay
// open, as when a box's address changes); new connections work.
func (l *Line) Stall() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.conns {
		c.dead = true
		l.stalls++
	}
}

// StallAfter makes the first connection that has carried n bytes towards
// the client stall there, once.
func (l *Line) StallAfter(n int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stallAt = n
}

// Stalls is how many connections were stalled.
func (l *Line) Stalls() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stalls
}

// Reset closes every open connection at once (an RST).
func (l *Line) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.resetLocked()
}

// Up ends a black hole, and listens again on the same address if down.
func (l *Line) Up() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	l.hole = false
	if l.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", l.addr)
	if err != nil {
		return err
	}
	l.serveLocked(ln)
	return nil
}

// Close stops the link and its connections, and waits for its goroutines.
func (l *Line) Close() {
	l.mu.Lock()
	l.closed = true
	if l.ln != nil {
		l.ln.Close()
		l.ln = nil
	}
	l.resetLocked()
	l.mu.Unlock()
	l.wg.Wait()
}

func (l *Line) resetLocked() {
	for c := range l.conns {
		if tc, ok := c.client.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		c.client.Close()
		c.server.Close()
		delete(l.conns, c)
	}
}

func (l *Line) serve(ln net.Listener) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.serveLocked(ln)
}

func (l *Line) serveLocked(ln net.Listener) {
	l.ln = ln
	l.wg.Go(func() {
		for {
			cc, err := ln.Accept()
			if err != nil {
				return
			}
			l.accept(ln, cc)
		}
	})
}

// accept proxies cc, which ln accepted: unless the link went down since.
func (l *Line) accept(ln net.Listener, cc net.Conn) {
	sc, err := net.Dial("tcp", l.target)
	if err != nil {
		cc.Close()
		return
	}
	c := &conn{client: cc, server: sc}
	l.mu.Lock()
	if l.closed || l.ln != ln {
		l.mu.Unlock()
		cc.Close()
		sc.Close()
		return
	}
	c.dead = l.hole
	l.conns[c] = struct{}{}
	l.mu.Unlock()
	var both sync.WaitGroup
	both.Add(2)
	l.wg.Go(func() { l.pipe(c, cc, sc, &l.up, false); both.Done() })
	l.wg.Go(func() { l.pipe(c, sc, cc, &l.down, true); both.Done() })
	l.wg.Go(func() {
		both.Wait()
		l.mu.Lock()
		delete(l.conns, c)
		l.mu.Unlock()
		cc.Close()
		sc.Close()
	})
}

// chunk is bytes read from one end, due at the other at a time.
type chunk struct {
	b  []byte
	at time.Time
}

// pipe forwards src to dst: each chunk after the delay, then at the rate
// of the line. A dead connection's bytes are read and dropped.
func (l *Line) pipe(c *conn, src, dst net.Conn, b *bucket, towardsClient bool) {
	q := make(chan chunk, 256)
	go func() {
		defer close(q)
		for {
			buf := make([]byte, 16<<10)
			n, err := src.Read(buf)
			if n > 0 {
				l.mu.Lock()
				d := l.delay
				l.mu.Unlock()
				q <- chunk{buf[:n], time.Now().Add(d)}
			}
			if err != nil {
				return
			}
		}
	}()
	for ch := range q {
		time.Sleep(time.Until(ch.at))
		for p := ch.b; len(p) > 0; {
			l.mu.Lock()
			dead := c.dead
			l.mu.Unlock()
			if dead {
				break
			}
			n := b.take(len(p))
			if towardsClient {
				n = l.countDown(c, n)
			}
			if _, err := dst.Write(p[:n]); err != nil {
				// The far end is gone: so is the connection.
				src.Close()
				for range q {
				}
				return
			}
			p = p[n:]
			if n == 0 {
				break
			}
		}
	}
	if tc, ok := dst.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
}

// countDown counts n bytes towards the client and returns how many may go
// before a StallAfter stalls the connection.
func (l *Line) countDown(c *conn, n int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stallAt <= 0 || c.dead {
		c.downBytes += int64(n)
		return n
	}
	if left := l.stallAt - c.downBytes; int64(n) >= left {
		c.dead = true
		l.stalls++
		l.stallAt = 0
		c.downBytes += left
		return int(left)
	}
	c.downBytes += int64(n)
	return n
}

// bucket is one direction of the line: the bytes of every connection
// queue for it, as on one modem.
type bucket struct {
	mu   sync.Mutex
	rate int64
	next time.Time // when the line is free
}

func (b *bucket) setRate(r int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.rate = r
}

// take waits for the line to carry up to n bytes, and says how many: at
// most a fiftieth of a second's worth at a time, so that connections
// share the line.
func (b *bucket) take(n int) int {
	b.mu.Lock()
	if b.rate <= 0 {
		b.mu.Unlock()
		return n
	}
	n = min(n, max(int(b.rate/50), 1))
	now := time.Now()
	// The line's clock runs on from where the last piece ended, so that a
	// sleep that overslept is made up; only a line idle for a while starts
	// again from now.
	start := b.next
	if now.Sub(start) > 50*time.Millisecond {
		start = now
	}
	b.next = start.Add(time.Duration(int64(n) * int64(time.Second) / b.rate))
	wait := b.next.Sub(now)
	b.mu.Unlock()
	time.Sleep(wait)
	return n
}

// ErrClosed is returned by Up on a closed link.
var ErrClosed = errors.New("testlink: closed")
