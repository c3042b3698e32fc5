package server_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/taosync/taosync/internal/api"
	"github.com/taosync/taosync/internal/balancer"
	"github.com/taosync/taosync/internal/clientaddr"
	"github.com/taosync/taosync/internal/testfixture"
)

// TestTrustedProxy: two centres behind one balancer, each on an address
// of its own. With the balancer trusted, the failure limiter counts each
// centre's failures by its own address: ten of one leave the other's token
// requests alone, an X-Forwarded-For the failing centre writes itself does
// not take it out of its count, and the access log names each centre's
// address. With the balancer not trusted, both are the balancer's address:
// one centre's failures refuse the other.
func TestTrustedProxy(t *testing.T) {
	for _, c := range []struct {
		name    string
		trusted []string
		// addrA and addrB are the addresses the server sees.
		addrA, addrB string
	}{
		{"trusted", []string{"127.0.0.1"}, "127.0.0.2", "127.0.0.3"},
		{"not trusted", nil, "127.0.0.1", "127.0.0.1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			proxies, err := clientaddr.Parse(c.trusted)
			if err != nil {
				t.Fatal(err)
			}
			f := testfixture.New(t)
			var log testfixture.LogBuffer
			f.S.AccessLog = slog.New(slog.NewJSONHandler(&log, &slog.HandlerOptions{Level: slog.LevelInfo}))
			f.Start(proxies.Wrap)
			f.Register("ca", "A")
			f.Register("cb", "B")
			lb, err := balancer.Start([]string{f.URL}, balancer.RoundRobin)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { lb.Close() })

			cc := url.Values{"grant_type": {"client_credentials"}}.Encode()
			token := func(from, id, secret, xff string) int {
				t.Helper()
				// The centre's connections come from its own loopback
				// address, as two centres' from two addresses.
				d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
				hc := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
				defer hc.CloseIdleConnections()
				req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, lb.URL+api.TokenPath, strings.NewReader(cc))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", form)
				req.SetBasicAuth(id, secret)
				if xff != "" {
					req.Header.Set("X-Forwarded-For", xff)
				}
				resp, err := hc.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			for i := range 10 {
				// A different address claimed each time, the other
				// centre's among them.
				spoof := []string{"198.51.100.1", "127.0.0.3", "192.0.2.7"}[i%3]
				if st := token("127.0.0.2", "ca", "wrong", spoof); st != http.StatusUnauthorized {
					t.Fatalf("failure %d of A: %d, want 401", i+1, st)
				}
			}
			if st := token("127.0.0.2", "ca", f.Secrets["ca"], ""); st != http.StatusTooManyRequests {
				t.Errorf("A after its ten failures: %d, want 429", st)
			}
			wantB := http.StatusOK
			if c.addrA == c.addrB {
				wantB = http.StatusTooManyRequests
			}
			if st := token("127.0.0.3", "cb", f.Secrets["cb"], ""); st != wantB {
				t.Errorf("B after A's ten failures: %d, want %d", st, wantB)
			}

			type line struct{ Route, Client, Addr string }
			var lines []line
			for _, l := range strings.Split(strings.TrimSpace(log.String()), "\n") {
				var got line
				if err := json.Unmarshal([]byte(l), &got); err != nil {
					t.Fatalf("%v: %s", err, l)
				}
				lines = append(lines, got)
			}
			if len(lines) != 12 {
				t.Fatalf("%d lines in the access log, want 12:\n%s", len(lines), log.String())
			}
			for i, l := range lines {
				want := line{api.TokenPath, "", c.addrA}
				if i == 11 {
					want = line{api.TokenPath, "", c.addrB}
					if wantB == http.StatusOK {
						want.Client = "cb"
					}
				}
				if l != want {
					t.Errorf("access log line %d: %+v, want %+v", i+1, l, want)
				}
			}
		})
	}
}
