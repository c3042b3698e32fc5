package central_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/taosync/taosync/internal/central"
	"github.com/taosync/taosync/internal/home"
)

// TestOpenNilLog: a central opened with a nil logger logs on slog.Default()
// instead of panicking at its first line.
func TestOpenNilLog(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "central")
	h, err := home.Init(ctx, dir, home.RoleCentral)
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	c, err := central.Open(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Log != slog.Default() {
		t.Fatalf("Log is %v, want slog.Default()", c.Log)
	}
}
