package clientaddr_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/taosync/taosync/internal/clientaddr"
)

func mustParse(t testing.TB, list ...string) clientaddr.Proxies {
	t.Helper()
	p, err := clientaddr.Parse(list)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func request(peer string, xff ...string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/oauth2/token", nil)
	r.RemoteAddr = peer
	for _, v := range xff {
		r.Header.Add("X-Forwarded-For", v)
	}
	return r
}

// TestClient: the address chosen for each request, with and without
// trusted proxies.
func TestClient(t *testing.T) {
	lb := []string{"10.0.0.0/8", "fd00::/8"}
	for _, c := range []struct {
		name    string
		proxies []string
		peer    string
		xff     []string
		want    string
	}{
		{"no setting, no header", nil, "192.0.2.7:5000", nil, "192.0.2.7"},
		{"no setting: the header is ignored", nil, "192.0.2.7:5000", []string{"198.51.100.1"}, "192.0.2.7"},
		{"no setting, even from a proxy's address", nil, "10.0.0.2:5000", []string{"198.51.100.1"}, "10.0.0.2"},
		{"untrusted peer sending the header", lb, "192.0.2.7:5000", []string{"198.51.100.1"}, "192.0.2.7"},
		{"trusted peer without the header", lb, "10.0.0.2:5000", nil, "10.0.0.2"},
		{"trusted peer, one entry", lb, "10.0.0.2:5000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"trusted peer, two entries: the right-most", lb, "10.0.0.2:5000", []string{"203.0.113.9, 198.51.100.1"}, "198.51.100.1"},
		{"spoofed left-most entries", lb, "10.0.0.2:5000", []string{"1.1.1.1, 10.9.9.9, 198.51.100.1"}, "198.51.100.1"},
		{"a trusted proxy right of the client is passed", lb, "10.0.0.2:5000", []string{"198.51.100.1, 10.0.0.3"}, "198.51.100.1"},
		{"every entry trusted: the left-most", lb, "10.0.0.2:5000", []string{"10.0.0.5, 10.0.0.3"}, "10.0.0.5"},
		{"several header lines are one list", lb, "10.0.0.2:5000", []string{"203.0.113.9", "198.51.100.1"}, "198.51.100.1"},
		{"spaces around entries", lb, "10.0.0.2:5000", []string{"  203.0.113.9 ,\t198.51.100.1  "}, "198.51.100.1"},
		{"IPv6 proxy and client", lb, "[fd00::2]:5000", []string{"2001:db8::1"}, "2001:db8::1"},
		{"IPv6 client through an IPv4 proxy", lb, "10.0.0.2:5000", []string{"2001:db8::1"}, "2001:db8::1"},
		{"IPv4-mapped entry", lb, "10.0.0.2:5000", []string{"::ffff:198.51.100.1"}, "198.51.100.1"},
		{"IPv4-mapped trusted entry is passed", lb, "10.0.0.2:5000", []string{"198.51.100.1, ::ffff:10.0.0.3"}, "198.51.100.1"},
		{"an untrusted IPv6 peer", lb, "[2001:db8::9]:5000", []string{"198.51.100.1"}, "2001:db8::9"},
		{"one proxy by its address", []string{"10.0.0.2"}, "10.0.0.2:5000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"one proxy by its address, another peer", []string{"10.0.0.2"}, "10.0.0.3:5000", []string{"198.51.100.1"}, "10.0.0.3"},
		{"malformed: a word", lb, "10.0.0.2:5000", []string{"unknown"}, "10.0.0.2"},
		{"malformed: an address with a port", lb, "10.0.0.2:5000", []string{"198.51.100.1:4000"}, "10.0.0.2"},
		{"malformed: bracketed IPv6", lb, "10.0.0.2:5000", []string{"[2001:db8::1]"}, "10.0.0.2"},
		{"malformed: an empty entry", lb, "10.0.0.2:5000", []string{"198.51.100.1,"}, "10.0.0.2"},
		{"malformed: an empty header", lb, "10.0.0.2:5000", []string{""}, "10.0.0.2"},
		{"malformed left of the client is not read", lb, "10.0.0.2:5000", []string{"junk, 198.51.100.1"}, "198.51.100.1"},
		{"malformed right of the client", lb, "10.0.0.2:5000", []string{"198.51.100.1, junk"}, "10.0.0.2"},
		{"a peer without a port", lb, "10.0.0.2", []string{"198.51.100.1"}, "198.51.100.1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := mustParse(t, c.proxies...).Client(request(c.peer, c.xff...)); got != c.want {
				t.Errorf("peer %s, X-Forwarded-For %q: %s, want %s", c.peer, c.xff, got, c.want)
			}
		})
	}
}

// TestParse: what --trusted-proxy takes, and what it refuses.
func TestParse(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want []string
	}{
		{nil, nil},
		{[]string{"10.0.0.0/8"}, []string{"10.0.0.0/8"}},
		{[]string{" 10.1.2.3/8 ", "192.0.2.7"}, []string{"10.0.0.0/8", "192.0.2.7/32"}},
		{[]string{"fd00::1/8", "2001:db8::1"}, []string{"fd00::/8", "2001:db8::1/128"}},
		{[]string{"::ffff:10.0.0.0/104", "::ffff:192.0.2.7"}, []string{"10.0.0.0/8", "192.0.2.7/32"}},
	} {
		p, err := clientaddr.Parse(c.in)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		var got []string
		for _, pre := range p {
			got = append(got, pre.String())
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%q: %q, want %q", c.in, got, c.want)
		}
	}
	for _, bad := range []string{"", "10.0.0.0/33", "10.0.0/8", "proxy.example.org", "10.0.0.1:80", "fe80::1%eth0", "10.0.0.0/8/8", "*"} {
		_, err := clientaddr.Parse([]string{"10.0.0.0/8", bad})
		if err == nil || !strings.Contains(err.Error(), "not an address or a CIDR") {
			t.Errorf("%q: %v, want a refusal", bad, err)
		}
	}
}

// TestWrap: a handler served through Wrap reads the address it found; one
// served without reads the peer's, whatever the header.
func TestWrap(t *testing.T) {
	var got string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = clientaddr.Of(r) })
	mustParse(t, "10.0.0.0/8").Wrap(h).ServeHTTP(httptest.NewRecorder(), request("10.0.0.2:1", "198.51.100.1"))
	if got != "198.51.100.1" {
		t.Errorf("through Wrap: %s, want 198.51.100.1", got)
	}
	h.ServeHTTP(httptest.NewRecorder(), request("10.0.0.2:1", "198.51.100.1"))
	if got != "10.0.0.2" {
		t.Errorf("without Wrap: %s, want 10.0.0.2", got)
	}
	clientaddr.Proxies(nil).Wrap(h).ServeHTTP(httptest.NewRecorder(), request("10.0.0.2:1", "198.51.100.1"))
	if got != "10.0.0.2" {
		t.Errorf("through Wrap without proxies: %s, want 10.0.0.2", got)
	}
}

// FuzzClient: whatever X-Forwarded-For says, the address chosen is the
// peer's when the peer is not trusted, and else the peer's or one of the
// header's entries.
func FuzzClient(f *testing.F) {
	f.Add("10.0.0.2", "198.51.100.1")
	f.Add("10.0.0.2", "1.1.1.1, 10.9.9.9, 198.51.100.1")
	f.Add("192.0.2.7", "198.51.100.1")
	f.Add("fd00::2", "2001:db8::1, ::ffff:10.0.0.3")
	f.Add("10.0.0.2", "junk,,")
	p := mustParse(f, "10.0.0.0/8", "fd00::/8")
	f.Fuzz(func(t *testing.T, peer, xff string) {
		r := request(net.JoinHostPort(peer, "5000"), xff)
		got := p.Client(r)
		host := clientaddr.Proxies(nil).Client(r)
		if a, err := netip.ParseAddr(host); err != nil || !p.Contains(a) {
			if got != host {
				t.Fatalf("untrusted peer %q, X-Forwarded-For %q: %q", host, xff, got)
			}
			return
		}
		if got == host {
			return
		}
		for _, e := range strings.Split(xff, ",") {
			if a, err := netip.ParseAddr(strings.TrimSpace(e)); err == nil && a.Unmap().WithZone("").String() == got {
				return
			}
		}
		t.Fatalf("peer %q, X-Forwarded-For %q: %q is neither", host, xff, got)
	})
}
