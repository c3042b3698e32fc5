// Package procstat reads what Linux's /proc says of a running process:
// its CPU time, that of a process and its children (as PostgreSQL's
// server runs), and its peak memory, with the same accounting as the
// process's rusage. The benchmarks use it to say whose CPU time went
// where.
package procstat

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// procStat is what /proc/PID/stat says of a running process.
type procStat struct {
	ppid int
	// cpu is the process's user and system time; children's that of its
	// children that exited and were waited for.
	cpu, children time.Duration
}

// readStat reads /proc/PID/stat: fields 4 (the parent), 14 and 15
// (user and system time) and 16 and 17 (those of the children waited
// for), times in clock ticks of 1/100 s, the kernel's USER_HZ.
func readStat(pid int) (procStat, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, fmt.Errorf("CPU time: %w", err)
	}
	// The command name, in parentheses, may hold spaces: fields count
	// from after its closing parenthesis, which is field 2.
	i := bytes.LastIndexByte(raw, ')')
	f := strings.Fields(string(raw[i+1:]))
	if i < 0 || len(f) < 15 {
		return procStat{}, fmt.Errorf("CPU time: /proc/%d/stat: unexpected form", pid)
	}
	var n [5]int64
	var errs []error
	for j, k := range []int{1, 11, 12, 13, 14} {
		var err error
		n[j], err = strconv.ParseInt(f[k], 10, 64)
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return procStat{}, fmt.Errorf("CPU time: /proc/%d/stat: %w", pid, err)
	}
	tick := 10 * time.Millisecond
	return procStat{ppid: int(n[0]), cpu: time.Duration(n[1]+n[2]) * tick, children: time.Duration(n[3]+n[4]) * tick}, nil
}

// CPU is the user and system time of a running process.
func CPU(pid int) (time.Duration, error) {
	s, err := readStat(pid)
	return s.cpu, err
}

// CPUs is the CPU time of the processes pids, summed.
func CPUs(pids []int) (time.Duration, error) {
	var sum time.Duration
	for _, pid := range pids {
		t, err := CPU(pid)
		if err != nil {
			return 0, err
		}
		sum += t
	}
	return sum, nil
}

// TreeCPU is the CPU time of a process and its children, as
// PostgreSQL's server runs: its own, that of the children it has waited
// for, and that of its children still running. Between two readings it
// counts a child's time whether the child still runs at the second or has
// exited (its time then is in the parent's children's); a child reaped
// between the reading of the parent and that of /proc is missed, which
// pooled connections make rare.
// Grandchildren are not counted: PostgreSQL's processes are all the
// postmaster's children.
func TreeCPU(pid int) (time.Duration, error) {
	s, err := readStat(pid)
	if err != nil {
		return 0, err
	}
	sum := s.cpu + s.children
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, fmt.Errorf("CPU time: %w", err)
	}
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil || child == pid {
			continue
		}
		cs, err := readStat(child)
		if err != nil { // it exited meanwhile: its parent now counts it
			continue
		}
		if cs.ppid == pid {
			sum += cs.cpu
		}
	}
	return sum, nil
}

// PeakRSS is the peak resident memory of a running process so far, in
// MiB, from /proc/PID/status (VmHWM).
func PeakRSS(pid int) (float64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("peak memory: %w", err)
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("peak memory: VmHWM %q", v)
			}
			return float64(kb) / 1024, nil
		}
	}
	return 0, fmt.Errorf("peak memory: no VmHWM in /proc/%d/status", pid)
}
