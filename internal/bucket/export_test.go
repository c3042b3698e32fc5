package bucket

import "time"

// SetStallTimeout sets how long a request waits on a stalled object store,
// until the test ends.
func SetStallTimeout(t interface{ Cleanup(func()) }, d time.Duration) {
	old := stallTimeout
	stallTimeout = d
	t.Cleanup(func() { stallTimeout = old })
}
