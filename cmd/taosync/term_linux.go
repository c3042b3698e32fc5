package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// isTerminal tells a terminal from any other file, /dev/null and other
// character devices included: only a terminal answers its settings.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
