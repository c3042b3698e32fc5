//go:build !linux

package main

import "os"

// isTerminal takes a character device for a terminal, where asking the
// terminal's settings is not at hand.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
