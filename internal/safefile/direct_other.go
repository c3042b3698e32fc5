//go:build !linux

package safefile

import "os"

// writeBulk writes data, a file's whole content, into f, just created.
func writeBulk(f *os.File, data []byte) error {
	_, err := f.Write(data)
	return err
}
