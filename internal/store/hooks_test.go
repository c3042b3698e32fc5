package store

// HoldReads takes every read slot of d, so that BeginRead waits, until
// release is called.
func HoldReads(d *DB) (release func()) {
	for range cap(d.readers) {
		d.readers <- struct{}{}
	}
	return func() {
		for range cap(d.readers) {
			<-d.readers
		}
	}
}
