package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"sync/atomic"
	"testing"
	"time"
)

// TestProcessing: while a handler works, the client is told so by 102s;
// once stopped, the final answer comes whole and no 102 follows it.
func TestProcessing(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stop := processing(w, 10*time.Millisecond)
		time.Sleep(200 * time.Millisecond)
		stop()
		writeJSON(w, http.StatusOK, map[string]string{"outcome": "applied"})
	}))
	defer srv.Close()
	var got atomic.Int32
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, _ textproto.MIMEHeader) error {
		if code == http.StatusProcessing {
			got.Add(1)
		}
		return nil
	}}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), http.MethodPut, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK || string(body) != "{\"outcome\":\"applied\"}\n" {
		t.Fatalf("answer %d %q %v", resp.StatusCode, body, err)
	}
	if got.Load() < 2 {
		t.Errorf("%d 102s while the handler worked 200 ms at one every 10 ms", got.Load())
	}
}
