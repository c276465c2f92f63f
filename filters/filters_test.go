package filters_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/kubegate/kubegate/filters"
)

func TestClientIPTrustsOnlyConfiguredProxies(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.1/32")}
	cases := []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"direct client", "203.0.113.7:5000", nil, "203.0.113.7"},
		{"spoofed header from an untrusted peer", "203.0.113.7:5000", []string{"1.2.3.4"}, "203.0.113.7"},
		{"one trusted proxy", "10.1.2.3:443", []string{"198.51.100.9"}, "198.51.100.9"},
		{"client-supplied hops left of the real client are ignored", "10.1.2.3:443", []string{"6.6.6.6, 198.51.100.9"}, "198.51.100.9"},
		{"a chain of trusted proxies", "10.1.2.3:443", []string{"198.51.100.9, 192.168.1.1", "10.9.9.9"}, "198.51.100.9"},
		{"garbage stops the walk", "10.1.2.3:443", []string{"198.51.100.9, not-an-ip"}, "10.1.2.3"},
		{"IPv4-mapped IPv6 peer", "[::ffff:203.0.113.7]:5000", nil, "203.0.113.7"},
		{"IPv6 client", "[2001:db8::1]:5000", nil, "2001:db8::1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got string
			h := filters.WithClientIP(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				got = filters.ClientIP(r.Context())
			}), trusted)
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				req.Header.Add("X-Forwarded-For", v)
			}
			h.ServeHTTP(httptest.NewRecorder(), req)
			if got != tc.want {
				t.Fatalf("client IP = %q, want %q", got, tc.want)
			}
		})
	}
}
