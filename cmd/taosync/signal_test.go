//go:build unix

package main

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/taosync/taosync/internal/home"
)

// TestSignalExitCode: a command waiting for a held home, stopped by Ctrl-C
// (SIGINT) or SIGTERM, ends with one error line and exits 128 + the
// signal's number, as shells expect, and writes nothing.
func TestSignalExitCode(t *testing.T) {
	c := &cliRunner{t: t, bin: taosyncBin(t), dir: t.TempDir()}
	c.must("--home", "k", "init", "--role", "client")
	unlock, err := (&home.Home{Dir: filepath.Join(c.dir, "k")}).Lock(context.Background(), "sync", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	for _, tt := range []struct {
		sig  syscall.Signal
		code int
		line string
	}{
		{syscall.SIGINT, 130, "taosync: error: interrupted (Ctrl-C)"},
		{syscall.SIGTERM, 143, "taosync: error: stopped by SIGTERM"},
	} {
		t.Run(tt.sig.String(), func(t *testing.T) {
			cmd := c.command("--home", "k", "export", "results", "--out", "out", "--wait", "1m")
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Kill it at the end whatever happens: the test never hangs.
			timer := time.AfterFunc(time.Minute, func() { cmd.Process.Kill() })
			defer timer.Stop()
			lines := bufio.NewScanner(stderr)
			if !lines.Scan() || !strings.HasPrefix(lines.Text(), "taosync: waiting up to 1m0s for taosync sync") {
				t.Fatalf("first stderr line %q, want the wait", lines.Text())
			}
			if err := cmd.Process.Signal(tt.sig); err != nil {
				t.Fatal(err)
			}
			var rest []string
			for lines.Scan() {
				rest = append(rest, lines.Text())
			}
			var ee *exec.ExitError
			if err := cmd.Wait(); !errors.As(err, &ee) || ee.ExitCode() != tt.code {
				t.Fatalf("exit %v, want code %d; stderr %q", err, tt.code, rest)
			}
			if len(rest) != 1 || rest[0] != tt.line {
				t.Fatalf("stderr after the signal %q, want %q", rest, tt.line)
			}
			if _, err := os.Stat(filepath.Join(c.dir, "out")); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("out after the signal: %v, want nothing written", err)
			}
		})
	}
}
