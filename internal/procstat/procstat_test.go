package procstat

import (
	"crypto/sha256"
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestCPU: a process's CPU time read from /proc grows as it works, and
// a process that is not there is an error.
func TestCPU(t *testing.T) {
	before, err := CPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Hash until the kernel has counted two ticks more, for at most
	// 4 GiB hashed (seconds of CPU).
	b := make([]byte, 1<<20)
	after := before
	for i := 0; i < 4096 && after-before < 20e6; i++ {
		sum := sha256.Sum256(b)
		b[0] = sum[0]
		if after, err = CPU(os.Getpid()); err != nil {
			t.Fatal(err)
		}
	}
	if after-before < 20e6 {
		t.Errorf("CPU time %v, then %v after hashing: it did not grow", before, after)
	}
	if _, err := CPU(1 << 30); err == nil {
		t.Error("no error for a process that is not there")
	}
}

// TestTreeCPU: a process's tree counts a child's CPU time while the
// child runs and after it has exited and been waited for.
func TestTreeCPU(t *testing.T) {
	cmd := exec.Command("sh", "-c", "while :; do :; done")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var child time.Duration
	for deadline := time.Now().Add(10 * time.Second); child < 50*time.Millisecond && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		var err error
		if child, err = CPU(cmd.Process.Pid); err != nil {
			t.Fatal(err)
		}
	}
	own, err := CPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	running, err := TreeCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if running < own+child {
		t.Errorf("tree %v while the child runs, less than the process's own %v and the child's %v", running, own, child)
	}
	cmd.Process.Kill()
	cmd.Wait()
	done, err := TreeCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	used := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if done < running || done+20*time.Millisecond < used { // /proc counts whole ticks of 10 ms
		t.Errorf("tree %v after the child exited (%v before, the child used %v): its time is lost", done, running, used)
	}
}

// TestPeakRSS: a process's peak memory counts what it touched, and a
// child's is its own, not its parent's: Go starts a child with vfork
// semantics, and the rusage of a child that exited counts the parent's
// memory at exec (why the benchmarks read a server's peak from /proc).
func TestPeakRSS(t *testing.T) {
	held := make([]byte, 256<<20)
	for i := 0; i < len(held); i += 4096 {
		held[i] = 1
	}
	own, err := PeakRSS(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if own < 256 {
		t.Errorf("peak %.0f MiB after touching 256 MiB", own)
	}
	cmd := exec.Command("sleep", "10")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	child, err := PeakRSS(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if child > 64 {
		t.Errorf("the child's peak %.0f MiB: its parent's %.0f MiB counted in", child, own)
	}
	if _, err := PeakRSS(1 << 30); err == nil {
		t.Error("no error for a process that is not there")
	}
}
