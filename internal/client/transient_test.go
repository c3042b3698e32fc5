package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// TestTransient: Go's dial timeout and its wait for an answer's headers
// both match context.DeadlineExceeded, as a command's own deadline does;
// only the command's context tells them apart. A timeout is retried
// unless the command is done.
func TestTransient(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// Accepted, never answered.
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	_, dialTimeout := (&net.Dialer{Timeout: time.Nanosecond}).Dial("tcp", ln.Addr().String())
	_, headerTimeout := (&http.Client{Transport: &http.Transport{ResponseHeaderTimeout: 50 * time.Millisecond}}).Get("http://" + ln.Addr().String())
	for _, err := range []error{dialTimeout, headerTimeout} {
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%v does not match context.DeadlineExceeded: the case this test is for is gone", err)
		}
	}

	live := context.Background()
	done, cancel := context.WithCancel(live)
	cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		err  error
		want bool
	}{
		{"dial timeout", live, dialTimeout, true},
		{"header timeout", live, headerTimeout, true},
		{"stalled", live, fmt.Errorf("%w for 30s", ErrStalled), true},
		{"refused", live, &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", errors.New("connection refused"))}, true},
		{"command stopped", done, dialTimeout, false},
		{"command stopped, its own error", done, context.Canceled, false},
		{"503", live, &StatusError{Status: 503}, true},
		{"429", live, &StatusError{Status: 429}, true},
		{"401 from the API", live, &StatusError{Status: 401}, true},
		{"404", live, &StatusError{Status: 404}, false},
		{"token endpoint 401", live, &oauth2.RetrieveError{Response: &http.Response{StatusCode: 401}}, false},
		{"token endpoint 502", live, &oauth2.RetrieveError{Response: &http.Response{StatusCode: 502}}, true},
		{"full disk", live, &fs.PathError{Op: "write", Path: "part", Err: errors.New("no space left on device")}, false},
		{"rename", live, &os.LinkError{Op: "rename", Old: "a", New: "b", Err: errors.New("busy")}, false},
		{"certificate of another name", live, &url.Error{Op: "Post", URL: "https://x", Err: &tls.CertificateVerificationError{Err: x509.HostnameError{Host: "x"}}}, false},
		{"unknown authority", live, fmt.Errorf("get a token: %w", x509.UnknownAuthorityError{}), false},
	} {
		if got := transient(tc.ctx, tc.err); got != tc.want {
			t.Errorf("%s: transient(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

// TestAttempts: the attempts that fit a total wait, and their waits.
func TestAttempts(t *testing.T) {
	for _, tc := range []struct {
		total time.Duration
		want  int
	}{
		{time.Second, 2},              // 0.5
		{4 * time.Second, 4},          // 0.5 1 2
		{31500 * time.Millisecond, 7}, // 0.5 1 2 4 8 16
		{5 * time.Minute, 15},         // ... and 8 × 30
		{24 * time.Hour, 2885},
	} {
		if got := Attempts(tc.total); got != tc.want {
			t.Errorf("Attempts(%v) = %d, want %d", tc.total, got, tc.want)
		}
	}
	if backoff(1) != 500*time.Millisecond || backoff(6) != 16*time.Second || backoff(7) != MaxWait || backoff(100) != MaxWait {
		t.Errorf("backoff: %v %v %v %v", backoff(1), backoff(6), backoff(7), backoff(100))
	}
}
