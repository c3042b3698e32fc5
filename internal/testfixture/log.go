package testfixture

import (
	"bytes"
	"log/slog"
	"sync"
	"testing"
)

// DefaultLog points slog.Default at a buffer, at debug level, until the test
// ends, and returns a function that reads what was logged: for the tests that
// a nil *slog.Logger means slog.Default(). Tests that use it must not run in
// parallel with others.
func DefaultLog(t *testing.T) func() string {
	t.Helper()
	var (
		mu  sync.Mutex
		buf bytes.Buffer
	)
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() { slog.SetDefault(old) })
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		return buf.String()
	}
}

// lockedWriter lets the goroutines of a server under test write the log.
type lockedWriter struct {
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}
