// Package human says quantities as people read them, for the CLI's text
// output and the operator view alike.
package human

import "fmt"

// Bytes says a byte count: 512 B, 22.1 KiB, 3.4 MiB, 1.2 GiB.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, suffix := float64(n)/unit, "KiB"
	for _, s := range []string{"MiB", "GiB", "TiB"} {
		if v < unit {
			break
		}
		v, suffix = v/unit, s
	}
	return fmt.Sprintf("%.1f %s", v, suffix)
}
