package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"
)

// step is one finished process: how long it ran, its peak memory, and what
// it printed.
type step struct {
	Took   time.Duration
	MaxRSS int64 // bytes
	// CPU is the user and system time of the process (and of the programs
	// a shell pipeline waited for): unlike Took, it hardly changes when
	// other work competes for the CPUs.
	CPU time.Duration
	// CPUPressure is the share of the step's wall time during which some
	// runnable task on the machine waited for a CPU (Linux PSI, "some"),
	// from 0 to 1: high values mean the timing was inflated by contention
	// (including the step's own threads when it runs more than there are
	// CPUs).
	CPUPressure float64
	Stdout      []byte
}

// Seconds is the step's wall time in seconds.
func (s step) Seconds() float64 { return s.Took.Seconds() }

// plus adds the step t run after s: times add up, the peak is the larger,
// and the pressure is weighted by time.
func (s step) plus(t step) step {
	sum := step{Took: s.Took + t.Took, CPU: s.CPU + t.CPU, MaxRSS: max(s.MaxRSS, t.MaxRSS)}
	if sum.Took > 0 {
		sum.CPUPressure = (s.CPUPressure*s.Took.Seconds() + t.CPUPressure*t.Took.Seconds()) / sum.Took.Seconds()
	}
	return sum
}

// RSSMiB is the step's peak resident memory in MiB.
func (s step) RSSMiB() float64 { return float64(s.MaxRSS) / mib }

// runner runs the taosync CLI.
type runner struct {
	bin string
}

// run runs taosync --home home args... and returns its step; a non-zero
// exit is an error carrying its last stderr lines.
func (r *runner) run(ctx context.Context, home string, args ...string) (step, error) {
	return measure(ctx, r.bin, append([]string{"--home", home}, args...)...)
}

// json runs a command given --json and decodes its one JSON object into v.
func (r *runner) json(ctx context.Context, v any, home string, args ...string) (step, error) {
	st, err := r.run(ctx, home, append(args, "--json")...)
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(st.Stdout, v); err != nil {
		return st, fmt.Errorf("taosync %s: output is not one JSON object: %v: %.200s", strings.Join(args, " "), err, st.Stdout)
	}
	return st, nil
}

// shell runs a bash pipeline with pipefail, so that a failure anywhere in
// it fails the step; args are $1, $2, ... in script.
func shell(ctx context.Context, script string, args ...string) (step, error) {
	return measure(ctx, "bash", append([]string{"-c", "set -euo pipefail; " + script, "bench"}, args...)...)
}

// measure runs the program name with args, and times it and takes its
// peak memory through a helper process (see helperMain): the bench process
// grows to hundreds of MiB, and a child it started directly would report at
// least that as its peak.
func measure(ctx context.Context, name string, args ...string) (step, error) {
	self, err := os.Executable()
	if err != nil {
		return step{}, err
	}
	res, err := os.CreateTemp("", "taosync-bench-rusage-")
	if err != nil {
		return step{}, err
	}
	res.Close()
	defer os.Remove(res.Name())
	cmd := exec.CommandContext(ctx, self, append([]string{name}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Env = append(os.Environ(), "TAOSYNC_HOME=", helperEnv+"="+res.Name())
	// The helper and what it runs form a process group, ended together if
	// the bench is interrupted.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	line := strings.Join(append([]string{name}, args...), " ")
	before := pressureTotal("cpu")
	if err := cmd.Run(); err != nil {
		return step{}, fmt.Errorf("%s: %v: %s", line, err, tail(errb.String(), 5))
	}
	var r helperResult
	b, err := os.ReadFile(res.Name())
	if err == nil {
		err = json.Unmarshal(b, &r)
	}
	if err != nil {
		return step{}, fmt.Errorf("%s: no result from the helper: %v", line, err)
	}
	if r.Error != "" {
		return step{}, fmt.Errorf("%s: %s: %s", line, r.Error, tail(errb.String(), 5))
	}
	st := step{Took: time.Duration(r.Nanoseconds), MaxRSS: r.MaxRSSKiB * kib, CPU: time.Duration(r.CPUNanoseconds), Stdout: out.Bytes()}
	if after := pressureTotal("cpu"); before >= 0 && after >= before && st.Took > 0 {
		// The helper's own start and exit add a few milliseconds to the
		// window; negligible beside the steps measured.
		st.CPUPressure = min(1, float64(after-before)/float64(st.Took.Microseconds()))
	}
	return st, nil
}

// pressureTotal reads the total microseconds during which some task waited
// for resource ("cpu" or "io"), from /proc/pressure; -1 if unavailable.
func pressureTotal(resource string) int64 {
	b, err := os.ReadFile("/proc/pressure/" + resource)
	if err != nil {
		return -1
	}
	line, _, _ := strings.Cut(string(b), "\n") // the "some" line
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, "total="); ok {
			var n int64
			if _, err := fmt.Sscan(v, &n); err == nil {
				return n
			}
		}
	}
	return -1
}

// helperEnv, set to a file name, makes the bench binary the helper that
// runs one program and writes its helperResult into that file.
const helperEnv = "TAOSYNC_BENCH_RUSAGE"

type helperResult struct {
	Nanoseconds    int64  `json:"ns"`
	CPUNanoseconds int64  `json:"cpu_ns"`
	MaxRSSKiB      int64  `json:"maxrss_kib"`
	Error          string `json:"error,omitempty"`
}

// helperMain runs args[0] with args[1:] on the helper's own standard
// streams and records the wall time from start to exit and the child's
// ru_maxrss. Go starts children with vfork semantics (CLONE_VM), and Linux
// counts the address space a child leaves at exec into its peak: started
// from this small process, a child's peak is its own (the helper's few
// MiB being the floor), not the bench's.
func helperMain(args []string) int {
	path := os.Getenv(helperEnv)
	var r helperResult
	if len(args) == 0 {
		r.Error = "no program to run"
	} else {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, helperEnv+"=") })
		// If the helper dies, so does what it runs.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		start := time.Now()
		err := cmd.Run()
		r.Nanoseconds = int64(time.Since(start))
		if err != nil {
			r.Error = err.Error()
		}
		if cmd.ProcessState != nil {
			if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
				r.MaxRSSKiB = ru.Maxrss
			}
			r.CPUNanoseconds = int64(cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime())
		}
	}
	b, _ := json.Marshal(r)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		fmt.Fprintf(os.Stderr, "bench helper: %v\n", err)
		return 1
	}
	return 0
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// buildCLI builds ./cmd/taosync into bin, once per run.
func buildCLI(ctx context.Context, root, bin string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/taosync")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/taosync: %v: %s", err, out)
	}
	return nil
}

// checkTools fails early, with the fix, when a baseline program is missing.
func checkTools(ctx context.Context) error {
	var missing []string
	for _, p := range []string{"bash", "zstd", "age"} {
		if _, err := exec.LookPath(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the baselines need %s: apt-get install age zstd", strings.Join(missing, ", "))
	}
	return nil
}

// toolVersion is the first line a program prints for its version.
func toolVersion(ctx context.Context, name string, args ...string) string {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
}
