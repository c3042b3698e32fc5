package balancer

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// replicas starts n servers that answer a token request with a token
// naming them, and any other request with their name.
func replicas(t *testing.T, n int) []string {
	t.Helper()
	var urls []string
	for i := range n {
		name := fmt.Sprintf("r%d", i)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == tokenPath {
				fmt.Fprintf(w, `{"access_token":"tok-%s-%s","token_type":"Bearer"}`, name, r.URL.Query().Get("c"))
				return
			}
			io.WriteString(w, name)
		}))
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL)
	}
	return urls
}

func get(t *testing.T, url, auth string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRoundRobin: consecutive requests, of one client too, land on each
// replica in turn; the balancer listens on loopback only.
func TestRoundRobin(t *testing.T) {
	b, err := Start(replicas(t, 2), RoundRobin)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !strings.HasPrefix(b.URL, "http://127.0.0.1:") {
		t.Errorf("listens on %s, not loopback", b.URL)
	}
	var got []string
	for range 4 {
		got = append(got, get(t, b.URL+"/api/v1/x", "Bearer same"))
	}
	if want := []string{"r0", "r1", "r0", "r1"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("replicas %v, want %v", got, want)
	}
	if c := b.Counts(); c[0] != 2 || c[1] != 2 {
		t.Errorf("counts %v, want [2 2]", c)
	}
}

// TestSticky: a token's requests go to the replica that issued it, even
// as other requests go round robin; an unknown token goes round robin.
func TestSticky(t *testing.T) {
	b, err := Start(replicas(t, 2), Sticky)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	tokA := get(t, b.URL+tokenPath+"?c=a", "Basic a")
	tokB := get(t, b.URL+tokenPath+"?c=b", "Basic b")
	if !strings.Contains(tokA, "tok-r0-a") || !strings.Contains(tokB, "tok-r1-b") {
		t.Fatalf("token answers %q and %q, not handed on whole", tokA, tokB)
	}
	for range 3 {
		if got := get(t, b.URL+"/api/v1/x", "Bearer tok-r1-b"); got != "r1" {
			t.Errorf("token of r1 sent to %s", got)
		}
		if got := get(t, b.URL+"/api/v1/x", "Bearer tok-r0-a"); got != "r0" {
			t.Errorf("token of r0 sent to %s", got)
		}
	}
	first, second := get(t, b.URL+"/api/v1/x", "Bearer unknown"), get(t, b.URL+"/api/v1/x", "Bearer unknown")
	if first == second {
		t.Errorf("an unknown token went to %s twice, not round robin", first)
	}
}

func TestStartRefuses(t *testing.T) {
	if _, err := Start(nil, RoundRobin); err == nil {
		t.Error("no error without replicas")
	}
	if _, err := Start([]string{"ftp://x"}, RoundRobin); err == nil {
		t.Error("no error for a replica that is not http://")
	}
	if _, err := ParseMode("random"); err == nil {
		t.Error("no error for an unknown mode")
	}
}

// TestForwardedFor: a replica gets the address the request came from
// appended to the X-Forwarded-For it came with, or alone without one.
func TestForwardedFor(t *testing.T) {
	var (
		mu  sync.Mutex
		got []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, strings.Join(r.Header.Values("X-Forwarded-For"), " | "))
	}))
	t.Cleanup(srv.Close)
	b, err := Start([]string{srv.URL}, RoundRobin)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, xff := range [][]string{nil, {"198.51.100.1"}, {"203.0.113.9, 198.51.100.1", "192.0.2.7"}} {
		req, err := http.NewRequest(http.MethodGet, b.URL+"/api/v1/health", nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range xff {
			req.Header.Add("X-Forwarded-For", v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"127.0.0.1", "198.51.100.1, 127.0.0.1", "203.0.113.9, 198.51.100.1, 192.0.2.7, 127.0.0.1"}
	if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", want) {
		t.Errorf("X-Forwarded-For at the replica %q, want %q", got, want)
	}
}
