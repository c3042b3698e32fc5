package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/taosync/taosync/importer"
	"github.com/taosync/taosync/internal/central"
	"github.com/taosync/taosync/internal/client"
)

// The CLI has no profiling hook, so with -profile the bench repeats the
// measured work in its own process, calling the same library functions as
// the commands (exporter.Data, importer.Data, exporter.Results,
// importer.Results) with the same settings, under the CPU profiler and the
// execution tracer. It writes NAME.cpu.pprof, NAME.trace,
// NAME.allocs.pprof (allocations during the run: compare with -diff_base
// NAME.allocs-before.pprof) and a line in summary.txt with the time and
// the Go heap's peak. Read them with
//
//	go tool pprof -top -nodecount=30 DIR/NAME.cpu.pprof
//	go tool trace -pprof=syscall DIR/NAME.trace > syscall.pprof   # time blocked in syscalls and cgo (SQLite), with stacks
//
// The CPU profile shows only time on a CPU; the trace's syscall profile
// shows where the wall time off it goes (fsync, SQLite).
//
// By default the library calls get a context that cannot be cancelled
// (-profile-ctx background): go-sqlite3 then runs each statement on the
// calling goroutine, so that the profiles attribute SQLite's time to the
// store function that ran it. The CLI's context can be cancelled (by
// Ctrl-C), and with it go-sqlite3 runs every Exec on a goroutine of its own;
// -profile-ctx cancel profiles that.

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// profileContext is the context the profiled library calls get.
func (b *bench) profileContext(ctx context.Context) context.Context {
	if b.o.profileCtx == "cancel" {
		return ctx
	}
	return context.WithoutCancel(ctx)
}

// profiled runs fn under the CPU profiler.
func (b *bench) profiled(name string, fn func() error) error {
	dir := b.o.profile
	runtime.GC()
	if err := writeProfile(filepath.Join(dir, name+".allocs-before.pprof"), "allocs"); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, name+".cpu.pprof"))
	if err != nil {
		return err
	}
	defer f.Close()
	tf, err := os.Create(filepath.Join(dir, name+".trace"))
	if err != nil {
		return err
	}
	defer tf.Close()
	peak := startPeakSampler()
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	if err := trace.Start(tf); err != nil {
		pprof.StopCPUProfile()
		return err
	}
	start := time.Now()
	err = fn()
	took := time.Since(start)
	trace.Stop()
	pprof.StopCPUProfile()
	heap, sys, rss := peak()
	if err != nil {
		return fmt.Errorf("profile %s: %w", name, err)
	}
	if err := writeProfile(filepath.Join(dir, name+".allocs.pprof"), "allocs"); err != nil {
		return err
	}
	line := fmt.Sprintf("%-16s %7.2fs  peak Go heap in use %6.1f MiB, Go runtime from the OS %6.1f MiB, process RSS %6.1f MiB (bench included)\n",
		name, took.Seconds(), float64(heap)/mib, float64(sys)/mib, float64(rss)/mib)
	b.logf("profiled %s", strings.TrimSpace(line))
	s, err := os.OpenFile(filepath.Join(dir, "summary.txt"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer s.Close()
	_, err = s.WriteString(line)
	return err
}

func writeProfile(path, name string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// startPeakSampler samples the Go heap, the runtime's memory from the OS,
// and the process's resident set every 20 ms until the returned function is
// called, which returns their peaks.
func startPeakSampler() func() (heap, sys, rss uint64) {
	var mu sync.Mutex
	var heap, sys, rss uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			r := currentRSS()
			mu.Lock()
			heap, sys, rss = max(heap, ms.HeapInuse), max(sys, ms.Sys), max(rss, r)
			mu.Unlock()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() (uint64, uint64, uint64) {
		close(done)
		wg.Wait()
		return heap, sys, rss
	}
}

// currentRSS is the process's resident set now, from /proc/self/status.
func currentRSS() uint64 {
	for _, line := range strings.Split(readString("/proc/self/status"), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n * kib
		}
	}
	return 0
}

// profileDataExport writes a full data bundle for the pair's client, as
// `export data --full` does.
func (b *bench) profileDataExport(ctx context.Context, p *pair, name string) error {
	ctx = b.profileContext(ctx)
	cc, err := central.Open(ctx, p.central, quiet)
	if err != nil {
		return err
	}
	defer cc.Close()
	out := filepath.Join(p.dir, "profile-"+name)
	defer os.RemoveAll(out)
	return b.profiled(name, func() error {
		_, err := cc.ExportData(ctx, p.clientID, out, central.ExportOptions{Full: true})
		return err
	})
}

// profileDataImport copies the pristine client home (registered, never
// imported) and imports the bundles in stick into the copy, as `import`
// does on a client.
func (b *bench) profileDataImport(ctx context.Context, pristine, stick, name string) error {
	ctx = b.profileContext(ctx)
	dir := pristine + "-" + name
	if err := copyDir(pristine, dir); err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cl, err := client.Open(ctx, dir, quiet)
	if err != nil {
		return err
	}
	defer cl.Close()
	opts, err := cl.Options(ctx, "folder")
	if err != nil {
		return err
	}
	return b.profiled(name, func() error {
		lines, err := cl.Import(ctx, stick, opts)
		if err != nil {
			return err
		}
		return allApplied(lines)
	})
}

// allApplied fails unless every bundle of an import was applied.
func allApplied[L interface{ Base() importer.Line }](lines []L) error {
	for _, x := range lines {
		if l := x.Base(); l.Outcome != importer.Applied {
			return fmt.Errorf("bundle %s: %s %s", l.Bundle, l.Outcome, l.Reason)
		}
	}
	return nil
}

// profileResultsExport sends the client's executions again (as `export
// results --resend`: they were sent by the measured export).
func (b *bench) profileResultsExport(ctx context.Context, p *pair, name string) error {
	ctx = b.profileContext(ctx)
	cl, err := client.Open(ctx, p.client, quiet)
	if err != nil {
		return err
	}
	defer cl.Close()
	out := filepath.Join(p.dir, "profile-"+name)
	defer os.RemoveAll(out)
	return b.profiled(name, func() error {
		_, _, err := cl.ExportResults(ctx, out, true, "folder")
		return err
	})
}

// profileResultsImport imports the result bundle in stick into a copy of
// central taken before the measured import, and writes the receipts, as
// `import` does on central.
func (b *bench) profileResultsImport(ctx context.Context, centralCopy, stick, bundleDir, name string) error {
	ctx = b.profileContext(ctx)
	defer os.RemoveAll(centralCopy)
	// Only the result bundle: the measured import wrote receipts beside it.
	dir := filepath.Join(filepath.Dir(centralCopy), "profile-"+name)
	if err := copyDir(bundleDir, filepath.Join(dir, filepath.Base(bundleDir))); err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cc, err := central.Open(ctx, centralCopy, quiet)
	if err != nil {
		return err
	}
	defer cc.Close()
	opts, err := cc.Home.ImportOptions(ctx, "folder", quiet)
	if err != nil {
		return err
	}
	return b.profiled(name, func() error {
		lines, _, err := cc.ImportResults(ctx, dir, opts, dir)
		if err != nil {
			return err
		}
		return allApplied(lines)
	})
}
