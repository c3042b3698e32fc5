// Package clientaddr finds the address of the client a request comes from,
// also behind the balancers and reverse proxies that central is told to
// trust (serve --trusted-proxy). The failure limiters count failed logins
// by it, and the logs name it.
//
// Behind a trusted proxy the client is the right-most address of
// X-Forwarded-For that is not itself a trusted proxy: each proxy appends
// the address it got the request from, so the entries right of the first
// untrusted one were written by proxies we trust, and everything left of
// it by the client, who may write anything. Without trusted proxies the
// header is ignored: a client never chooses its own address.
package clientaddr

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Proxies are the addresses of the proxies whose X-Forwarded-For is
// believed.
type Proxies []netip.Prefix

// Parse reads proxies: each an address (one host) or a CIDR prefix, such
// as 10.0.0.0/8 or fd00::/8.
func Parse(list []string) (Proxies, error) {
	var p Proxies
	for _, s := range list {
		s = strings.TrimSpace(s)
		pre, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil || a.Zone() != "" {
				return nil, fmt.Errorf("%q is not an address or a CIDR such as 10.0.0.0/8", s)
			}
			a = a.Unmap()
			pre = netip.PrefixFrom(a, a.BitLen())
		}
		// 10.1.2.3/8 is 10.0.0.0/8, as net.ParseCIDR reads it. An
		// IPv4-mapped prefix is the IPv4 one (the addresses it is compared
		// with are unmapped).
		if pre.Addr().Is4In6() && pre.Bits() >= 96 {
			pre = netip.PrefixFrom(pre.Addr().Unmap(), pre.Bits()-96)
		}
		p = append(p, pre.Masked())
	}
	return p, nil
}

// Contains says whether a is the address of a trusted proxy.
func (p Proxies) Contains(a netip.Addr) bool {
	a = a.Unmap().WithZone("")
	for _, pre := range p {
		if pre.Contains(a) {
			return true
		}
	}
	return false
}

// Client is the address of the client of r: the TCP peer's, or, when the
// peer is a trusted proxy, the right-most address of X-Forwarded-For that
// is not a trusted proxy (the left-most one if all are). A header that
// does not read as a list of addresses, where it is read, is ignored: the
// peer's address is the client's.
func (p Proxies) Client(r *http.Request) string {
	peer := r.RemoteAddr
	if host, _, err := net.SplitHostPort(peer); err == nil {
		peer = host
	}
	a, err := netip.ParseAddr(peer)
	if err != nil || !p.Contains(a) {
		return peer
	}
	// Several X-Forwarded-For lines are one list, in order (RFC 9110 §5.3).
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return peer
		}
		client = a.Unmap().WithZone("").String()
		if !p.Contains(a) {
			break
		}
	}
	return client
}

type key struct{}

// Wrap serves h with the client address of each request found once, for
// Of.
func (p Proxies) Wrap(h http.Handler) http.Handler {
	if len(p) == 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), key{}, p.Client(r))))
	})
}

// Of is the client address of r as found by the Wrap it was served
// through, or the TCP peer's if none.
func Of(r *http.Request) string {
	if a, ok := r.Context().Value(key{}).(string); ok {
		return a
	}
	return Proxies(nil).Client(r)
}
