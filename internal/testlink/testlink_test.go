package testlink

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"testing"
	"time"
)

// echo serves loopback connections that send back what they get.
func echo(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

func start(t *testing.T) *Line {
	t.Helper()
	l, err := Start(echo(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l
}

// roundTrip sends p through the link and reads it back, failing after a
// bounded wait.
func roundTrip(t *testing.T, c net.Conn, p []byte) error {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	go c.Write(p)
	got := make([]byte, len(p))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if !bytes.Equal(got, p) {
		t.Fatal("bytes changed on the way")
	}
	return nil
}

func dial(t *testing.T, l *Line) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", l.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestForwardsWithDelayAndRate(t *testing.T) {
	l := start(t)
	l.SetDelay(50 * time.Millisecond)
	l.SetRate(400 << 10)
	p := make([]byte, 100<<10)
	for i := range p {
		p[i] = byte(rand.IntN(256))
	}
	c := dial(t, l)
	began := time.Now()
	if err := roundTrip(t, c, p); err != nil {
		t.Fatal(err)
	}
	// Lower bounds only: 100 KiB at 400 KiB/s each way, one round trip.
	if d := time.Since(began); d < 250*time.Millisecond+100*time.Millisecond {
		t.Errorf("100 KiB there and back took %v, want at least the rate's 250 ms and the round trip's 100 ms", d)
	}
}

func TestDownRefusesThenUp(t *testing.T) {
	l := start(t)
	c := dial(t, l)
	if err := roundTrip(t, c, []byte("x")); err != nil {
		t.Fatal(err)
	}
	l.Down()
	if err := roundTrip(t, c, []byte("x")); err == nil {
		t.Error("an open connection survived Down")
	}
	if _, err := net.Dial("tcp", l.Addr()); err == nil {
		t.Fatal("a connection to a link that is down was accepted")
	}
	if err := l.Up(); err != nil {
		t.Fatal(err)
	}
	if err := roundTrip(t, dial(t, l), []byte("back")); err != nil {
		t.Fatal(err)
	}
}

func TestBlackHole(t *testing.T) {
	l := start(t)
	before := dial(t, l)
	if err := roundTrip(t, before, []byte("a")); err != nil {
		t.Fatal(err)
	}
	l.BlackHole()
	during := dial(t, l)
	for _, c := range []net.Conn{before, during} {
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		c.Write([]byte("lost"))
		if _, err := c.Read(make([]byte, 4)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("read in a black hole: %v, want nothing", err)
		}
	}
	if err := l.Up(); err != nil {
		t.Fatal(err)
	}
	if err := roundTrip(t, dial(t, l), []byte("after")); err != nil {
		t.Fatal(err)
	}
}

func TestStallAfter(t *testing.T) {
	l := start(t)
	l.StallAfter(1000)
	c := dial(t, l)
	c.SetDeadline(time.Now().Add(300 * time.Millisecond))
	go c.Write(make([]byte, 5000))
	n, err := io.ReadFull(c, make([]byte, 5000))
	if n != 1000 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read %d bytes (%v), want 1000 then a stall", n, err)
	}
	if l.Stalls() != 1 {
		t.Errorf("%d stalls, want 1", l.Stalls())
	}
	if err := roundTrip(t, dial(t, l), make([]byte, 5000)); err != nil {
		t.Errorf("a new connection after the stall: %v", err)
	}
	l.Stall()
	c = dial(t, l)
	if err := roundTrip(t, c, []byte("y")); err != nil {
		t.Fatal(err)
	}
	l.Stall()
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	c.Write([]byte("z"))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read on a stalled connection: %v", err)
	}
}

func TestReset(t *testing.T) {
	l := start(t)
	c := dial(t, l)
	if err := roundTrip(t, c, []byte("a")); err != nil {
		t.Fatal(err)
	}
	l.Reset()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read after a reset: %v, want the connection closed", err)
	}
	if err := roundTrip(t, dial(t, l), []byte("b")); err != nil {
		t.Errorf("a new connection after a reset: %v", err)
	}
}
