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
	var buf LogBuffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() { slog.SetDefault(old) })
	return buf.String
}

// LogBuffer is a log's text, which the goroutines of a server under test
// may write while the test reads it.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String is what was written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
