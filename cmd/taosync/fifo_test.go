package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/taosync/taosync/internal/central"
	"github.com/taosync/taosync/internal/testfixture"
	"github.com/taosync/taosync/manifest"
)

// TestFIFOOnStick: a named pipe on a stick in place of a bundle's
// manifest, signature or chunk is refused at once by import and verify,
// in one line naming the file, instead of hanging for ever on its open.
// (The test's own deadline bounds a run that would hang.)
func TestFIFOOnStick(t *testing.T) {
	f := testfixture.New(t)
	cl := f.Register("c1", "A")
	res, err := f.C.ExportData(f.Ctx, "c1", t.TempDir(), central.ExportOptions{Full: true})
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(res.Dir)
	if err != nil {
		t.Fatal(err)
	}
	chunk := ""
	for _, e := range entries {
		if len(e.Name()) == 64 {
			chunk = e.Name()
		}
	}
	for _, name := range []string{manifest.FileName, manifest.SigName, chunk} {
		stick := t.TempDir()
		dir := filepath.Join(stick, filepath.Base(res.Dir))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Name() == name {
				continue
			}
			b, err := os.ReadFile(filepath.Join(res.Dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := syscall.Mkfifo(filepath.Join(dir, name), 0o644); err != nil {
			t.Fatal(err)
		}
		want := "not a regular file: " + name + " is a named pipe (FIFO)"
		for _, cmd := range []string{"import", "verify"} {
			type result struct {
				code     int
				out, err string
			}
			done := make(chan result, 1)
			go func() {
				code, out, errs := runCLI(t, "--home", cl.Home.Dir, cmd, stick)
				done <- result{code, out, errs}
			}()
			select {
			case r := <-done:
				if r.code != exitRefused || !strings.Contains(r.out, want) || strings.Count(r.err, "\n") != 1 {
					t.Errorf("%s with %s a FIFO: exit %d\n%s%s\nwant exit 4 and %q", cmd, name, r.code, r.out, r.err, want)
				}
			case <-time.After(time.Minute):
				t.Fatalf("%s with %s a FIFO hangs", cmd, name)
			}
		}
	}
	if s, err := cl.Local.DataState(f.Ctx); err != nil || s.Seq != 0 {
		t.Fatalf("data state %+v (%v), want nothing applied", s, err)
	}
}
