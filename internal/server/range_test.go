package server

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// FuzzEmptySuffixes: whatever Range a client sends, the file served
// through emptySuffixes and net/http never has an invalid Content-Range: a
// single range is within the file, and an unsatisfiable one is a 416 with
// "bytes */SIZE" (or none, for a Range net/http cannot parse).
func FuzzEmptySuffixes(f *testing.F) {
	for _, h := range []string{"bytes=-0", "bytes=0-0, -0", "bytes=-000,5-", "bytes=- 0", "bytes=-+0", "bytes=-1", "bytes=--0", "items=-0", "bytes=", "bytes=9223372036854775807-"} {
		f.Add(h, uint16(100))
	}
	f.Fuzz(func(t *testing.T, h string, n uint16) {
		// No file served is empty (a chunk, a signature, a manifest).
		size := int(n) + 1
		req := httptest.NewRequest("GET", "/f", nil)
		req.Header.Set("Range", emptySuffixes(h, int64(size)))
		w := httptest.NewRecorder()
		http.ServeContent(w, req, "f", time.Time{}, bytes.NewReader(make([]byte, size)))
		cr := w.Header().Get("Content-Range")
		switch w.Code {
		case http.StatusRequestedRangeNotSatisfiable:
			// net/http answers a Range it cannot parse without one.
			if want := fmt.Sprintf("bytes */%d", size); cr != want && cr != "" {
				t.Fatalf("Range %q, size %d: 416 with Content-Range %q, want %q", h, size, cr, want)
			}
		case http.StatusPartialContent:
			if cr == "" {
				return // several ranges: each part has its own
			}
			var first, last, total int
			if _, err := fmt.Sscanf(cr, "bytes %d-%d/%d", &first, &last, &total); err != nil || first > last || last >= total || total != size {
				t.Fatalf("Range %q, size %d: Content-Range %q", h, size, cr)
			}
		}
	})
}
