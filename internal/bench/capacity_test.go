package main

import (
	"crypto/sha256"
	"os"
	"testing"
)

// TestProcCPU: a process's CPU time read from /proc grows as it works, and
// a process that is not there is an error.
func TestProcCPU(t *testing.T) {
	before, err := procCPU(os.Getpid())
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
		if after, err = procCPU(os.Getpid()); err != nil {
			t.Fatal(err)
		}
	}
	if after-before < 20e6 {
		t.Errorf("CPU time %v, then %v after hashing: it did not grow", before, after)
	}
	if _, err := procCPU(1 << 30); err == nil {
		t.Error("no error for a process that is not there")
	}
}
