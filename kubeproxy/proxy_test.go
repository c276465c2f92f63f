package kubeproxy_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/kubeproxy"
)

func TestSplitPath(t *testing.T) {
	ok := []struct{ in, cluster, path string }{
		{"/api/v1/cube/proxy/clusters/pivot-cluster/api/v1/pods", "pivot-cluster", "/api/v1/pods"},
		{"/api/v1/cube/proxy/clusters/c1/apis/apps/v1/namespaces/ns-a/deployments", "c1", "/apis/apps/v1/namespaces/ns-a/deployments"},
		{"/api/v1/cube/proxy/clusters/c1/version", "c1", "/version"},
		{"/api/v1/cube/proxy/clusters/c1/api/", "c1", "/api/"},
		{"/api/v1/cube/proxy/clusters/c1/api/v1/namespaces/x/configmaps/a%20b", "c1", "/api/v1/namespaces/x/configmaps/a b"},
	}
	for _, tc := range ok {
		c, _, p, err := kubeproxy.SplitPath(tc.in)
		if err != nil || c != tc.cluster || p != tc.path {
			t.Errorf("SplitPath(%q) = %q %q %v", tc.in, c, p, err)
		}
	}
	bad := map[string]string{
		"/api/v1/cube/proxy/clusters/c1/../c2/api":       kubegate.EInvalid,
		"/api/v1/cube/proxy/clusters/c1/%2e%2E/c2/api":   kubegate.EInvalid,
		"/api/v1/cube/proxy/clusters/c1/api%2Fv1":        kubegate.EInvalid,
		"/api/v1/cube/proxy/clusters/c1/api%5Cv1":        kubegate.EInvalid,
		"/api/v1/cube/proxy/clusters/c1//api":            kubegate.EInvalid,
		"/api/v1/cube/proxy/clusters/c1/api/%zz":         kubegate.EInvalid,
		"/api/v1/cube/proxy/clusters/c1/api/%0d%0a":      kubegate.EInvalid,
		"/api/v1/cube/proxy/clusters/C1/api":             kubegate.EInvalid,
		"/api/v1/cube/proxy/clusters//api":               kubegate.EInvalid,
		"/api/v1/cube/proxy/clusters/c1/metrics":         kubegate.ENotFound,
		"/api/v1/cube/proxy/clusters/c1":                 kubegate.ENotFound,
		"/api/v1/cube/proxy/clusters/c1/apiserver/x":     kubegate.ENotFound,
		"/api/v1/cube/proxy/clusters/c1/api/v1/../../..": kubegate.EInvalid,
	}
	for in, code := range bad {
		if _, _, _, err := kubeproxy.SplitPath(in); kubegate.ErrorCode(err) != code {
			t.Errorf("SplitPath(%q) = %v, want %s", in, err, code)
		}
	}
}

// FuzzSplitPath: whatever the input, an accepted path stays under a Kubernetes API
// root of a validly named cluster, with no dot segments in any encoding.
func FuzzSplitPath(f *testing.F) {
	for _, s := range []string{"api/v1/pods", "../c2/api", "%2e%2e/x", "api%2f..", "version", "apis//x", "api/%2E/x", "openapi/v3"} {
		f.Add("c1", s)
	}
	f.Fuzz(func(t *testing.T, cluster, rest string) {
		in := kubeproxy.Prefix + cluster + "/" + rest
		c, raw, path, err := kubeproxy.SplitPath(in)
		if err != nil {
			if kubegate.ErrorCode(err) == kubegate.EInternal {
				t.Fatalf("internal error for %q: %v", in, err)
			}
			return
		}
		if c != cluster {
			t.Fatalf("cluster %q from %q", c, in)
		}
		if dec, err := url.PathUnescape(raw); err != nil || dec != path {
			t.Fatalf("raw %q does not decode to %q", raw, path)
		}
		segs := strings.Split(path, "/")
		for i, s := range segs[1:] {
			if s == "." || s == ".." || (s == "" && i != len(segs)-2) || strings.Contains(s, "\\") {
				t.Fatalf("accepted %q with segment %q", in, s)
			}
		}
		switch segs[1] {
		case "api", "apis", "version", "openapi", "healthz", "readyz", "livez":
		default:
			t.Fatalf("accepted %q outside the API roots", in)
		}
	})
}
