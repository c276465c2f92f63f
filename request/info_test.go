package request_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/request"
)

func TestSplitProxyPath(t *testing.T) {
	ok := []struct{ in, cluster, path string }{
		{"/api/v1/cube/proxy/clusters/pivot-cluster/api/v1/pods", "pivot-cluster", "/api/v1/pods"},
		{"/api/v1/cube/proxy/clusters/c1/apis/apps/v1/namespaces/ns-a/deployments", "c1", "/apis/apps/v1/namespaces/ns-a/deployments"},
		{"/api/v1/cube/proxy/clusters/c1/version", "c1", "/version"},
		{"/api/v1/cube/proxy/clusters/c1/api/", "c1", "/api/"},
		{"/api/v1/cube/proxy/clusters/c1/api/v1/namespaces/x/configmaps/a%20b", "c1", "/api/v1/namespaces/x/configmaps/a b"},
	}
	for _, tc := range ok {
		c, _, p, err := request.SplitProxyPath(tc.in)
		if err != nil || c != tc.cluster || p != tc.path {
			t.Errorf("SplitProxyPath(%q) = %q %q %v", tc.in, c, p, err)
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
		if _, _, _, err := request.SplitProxyPath(in); kubegate.ErrorCode(err) != code {
			t.Errorf("SplitProxyPath(%q) = %v, want %s", in, err, code)
		}
	}
}

// FuzzSplitProxyPath: whatever the input, an accepted path stays under a Kubernetes API
// root of a validly named cluster, with no dot segments in any encoding.
func FuzzSplitProxyPath(f *testing.F) {
	for _, s := range []string{"api/v1/pods", "../c2/api", "%2e%2e/x", "api%2f..", "version", "apis//x", "api/%2E/x", "openapi/v3"} {
		f.Add("c1", s)
	}
	f.Fuzz(func(t *testing.T, cluster, rest string) {
		in := request.ProxyPrefix + cluster + "/" + rest
		c, raw, path, err := request.SplitProxyPath(in)
		if err != nil {
			if kubegate.ErrorCode(err) == kubegate.EInternal {
				t.Fatalf("internal error for %q: %v", in, err)
			}
			return
		}
		if u, err := url.PathUnescape(cluster); err != nil || c != u {
			t.Fatalf("cluster %q from %q", c, in)
		}
		if _, err := request.ParseClusterSet(c); err != nil {
			t.Fatalf("accepted cluster segment %q: %v", c, err)
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

// A proxy path may name a set of clusters for a list across them: "*" for all,
// or names joined by commas (escaped or not), each valid and named once.
func TestClusterSets(t *testing.T) {
	ok := map[string][]string{
		"c1":       nil,
		"*":        {"*"},
		"%2A":      {"*"},
		"a,b":      {"a", "b"},
		"a%2Cb,c9": {"a", "b", "c9"},
	}
	for seg, set := range ok {
		r := httptest.NewRequest(http.MethodGet, request.ProxyPrefix+seg+"/apis/apps/v1/deployments", nil)
		info := request.Classify(r)
		if info.PathErr != nil || !slices.Equal(info.ClusterSet, set) || info.Verb != "list" || info.Resource != "deployments" {
			t.Errorf("%q: set %q, verb %s, err %v", seg, info.ClusterSet, info.Verb, info.PathErr)
		}
	}
	many := strings.Repeat("c,", request.MaxClusterSet) + "z"
	for _, seg := range []string{"a,", ",a", "a,,b", "a,a", "a,*", "*,a", "**", "a,B", many} {
		if _, _, _, err := request.SplitProxyPath(request.ProxyPrefix + seg + "/api/v1/pods"); kubegate.ErrorCode(err) != kubegate.EInvalid {
			t.Errorf("%q: %v, want invalid", seg, err)
		}
	}
	if _, err := request.ParseClusterSet("a,a"); err == nil || !strings.Contains(err.Error(), "named twice") {
		t.Errorf("a duplicate is named: %v", err)
	}
}

func TestClassify(t *testing.T) {
	type want struct {
		class                                        request.RouteClass
		dialect                                      request.Dialect
		cluster, path, verb, ns, resource, sub, name string
		longRunning                                  bool
	}
	cases := []struct {
		method, url string
		header      http.Header
		want        want
	}{
		{"GET", "/api/v1/cube/proxy/clusters/c1/apis/apps/v1/namespaces/ns-a/deployments?pageSize=20", nil,
			want{request.ClassProxy, request.DialectKubeCube, "c1", "/apis/apps/v1/namespaces/ns-a/deployments", "list", "ns-a", "deployments", "", "", false}},
		{"GET", "/api/v1/cube/proxy/clusters/c1/api/v1/namespaces/x/pods/p1/log?follow=true", nil,
			want{request.ClassProxy, request.DialectKubeCube, "c1", "/api/v1/namespaces/x/pods/p1/log", "get", "x", "pods", "log", "p1", true}},
		{"GET", "/api/v1/cube/proxy/clusters/c1/api/v1/configmaps?watch=1", nil,
			want{request.ClassProxy, request.DialectKubeCube, "c1", "/api/v1/configmaps", "watch", "", "configmaps", "", "", true}},
		{"GET", "/api/v1/cube/proxy/clusters/c1/api/v1/watch/namespaces/x/configmaps", nil,
			want{request.ClassProxy, request.DialectKubeCube, "c1", "/api/v1/watch/namespaces/x/configmaps", "watch", "x", "configmaps", "", "", true}},
		{"POST", "/api/v1/cube/proxy/clusters/c1/api/v1/namespaces/x/pods/p1/exec?command=ls", http.Header{"Connection": {"Upgrade"}, "Upgrade": {"SPDY/3.1"}},
			want{request.ClassProxy, request.DialectKubeCube, "c1", "/api/v1/namespaces/x/pods/p1/exec", "create", "x", "pods", "exec", "p1", true}},
		{"DELETE", "/api/v1/cube/proxy/clusters/c1/api/v1/namespaces/x/configmaps", nil,
			want{request.ClassProxy, request.DialectKubeCube, "c1", "/api/v1/namespaces/x/configmaps", "deletecollection", "x", "configmaps", "", "", false}},
		{"PATCH", "/api/v1/cube/proxy/clusters/c1/api/v1/namespaces/x", nil,
			want{request.ClassProxy, request.DialectKubeCube, "c1", "/api/v1/namespaces/x", "patch", "x", "namespaces", "", "x", false}},
		{"PUT", "/api/v1/cube/proxy/clusters/c1/api/v1/namespaces/x/finalize", nil,
			want{request.ClassProxy, request.DialectKubeCube, "c1", "/api/v1/namespaces/x/finalize", "update", "x", "namespaces", "finalize", "x", false}},
		{"GET", "/api/v1/cube/proxy/clusters/c1/version", nil,
			want{request.ClassProxy, request.DialectKubeCube, "c1", "/version", "get", "", "", "", "", false}},
		{"GET", "/apis/kpanda.io/v1alpha1/clusters/member-1/namespaces/demo/deployments?page=2", nil,
			want{request.ClassAdapter, request.DialectDCE, "member-1", "/apis/apps/v1/namespaces/demo/deployments", "list", "demo", "deployments", "", "", false}},
		{"GET", "/apis/kpanda.io/v1alpha1/clusters/member-1/gvr/core/v1/configmaps", nil,
			want{request.ClassAdapter, request.DialectDCE, "member-1", "/api/v1/configmaps", "list", "", "configmaps", "", "", false}},
		{"GET", "/apis/kpanda.io/v1alpha1/clusters", nil, want{class: request.ClassAdapter, dialect: request.DialectDCE, verb: "get"}},
		{"GET", "/api/v1/cube/key/token?accessKey=a&secretKey=b", nil, want{class: request.ClassToken, dialect: request.DialectKubeCube, verb: "get"}},
		{"POST", "/apis/ghippo.io/v1alpha1/token", nil, want{class: request.ClassToken, dialect: request.DialectDCE, verb: "post"}},
		{"GET", "/apis/ghippo.io/v1alpha1/users", nil, want{class: request.ClassAPI, dialect: request.DialectDCE, verb: "get"}},
		{"POST", "/api/v1/cube/key/create", nil, want{class: request.ClassAPI, verb: "post"}},
		{"GET", "/.well-known/jwks.json", nil, want{class: request.ClassAPI, verb: "get"}},
		{"GET", "/swagger/index.html", nil, want{class: request.ClassDocs, verb: "get"}},
		{"GET", "/readyz?verbose", nil, want{class: request.ClassHealth, verb: "get"}},
		{"BREW", "/coffee", nil, want{class: request.ClassOther, verb: "brew"}},
	}
	for _, tc := range cases {
		r := httptest.NewRequest(tc.method, tc.url, nil)
		for k, v := range tc.header {
			r.Header[k] = v
		}
		i := request.Classify(r)
		got := want{i.Class, i.Dialect, i.Cluster, i.Path, i.Verb, i.Namespace, i.Resource, i.Subresource, i.Name, i.LongRunning}
		if got != tc.want || i.PathErr != nil {
			t.Errorf("%s %s:\n got %+v (err %v)\nwant %+v", tc.method, tc.url, got, i.PathErr, tc.want)
		}
	}
}

func TestClassifyKeepsRefusedPaths(t *testing.T) {
	for url, code := range map[string]string{
		"/api/v1/cube/proxy/clusters/c1/../c2/api":                 kubegate.EInvalid,
		"/api/v1/cube/proxy/clusters/c1/metrics":                   kubegate.ENotFound,
		"/apis/kpanda.io/v1alpha1/clusters/c1/secrets":             kubegate.ENotFound,
		"/apis/kpanda.io/v1alpha1/clusters/c1/gvr/apps/v1/a/b/c/d": kubegate.ENotFound,
	} {
		i := request.Classify(httptest.NewRequest("GET", url, nil))
		if kubegate.ErrorCode(i.PathErr) != code || i.IsResourceRequest || i.Cluster != "c1" {
			t.Errorf("%s: err %v, resource %v, cluster %q; want %s for cluster c1", url, i.PathErr, i.IsResourceRequest, i.Cluster, code)
		}
	}
}

func TestInfoWithoutClassificationIsOther(t *testing.T) {
	if i := request.InfoFrom(context.Background()); i.Class != request.ClassOther || i.Cluster != "" {
		t.Fatalf("unclassified request = %+v", i)
	}
}

// Connecting into a workload is classified as the apiserver authorizes it:
// exec, attach and port-forward as create whatever the method (a WebSocket GET
// included), a proxy subresource by its method; and each is marked as a connect.
func TestConnectSubresourcesAreClassifiedAsTheApiserverAuthorizesThem(t *testing.T) {
	ws := http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}}
	for _, tc := range []struct {
		method, path string
		header       http.Header
		verb         string
		connect      bool
	}{
		{"GET", "/api/v1/namespaces/x/pods/p/exec?command=sh", ws, "create", true},
		{"POST", "/api/v1/namespaces/x/pods/p/exec?command=sh", nil, "create", true},
		{"GET", "/api/v1/namespaces/x/pods/p/attach", ws, "create", true},
		{"GET", "/api/v1/namespaces/x/pods/p/portforward?ports=80", ws, "create", true},
		{"GET", "/api/v1/namespaces/x/pods/p/proxy/metrics", nil, "get", true},
		{"POST", "/api/v1/namespaces/x/services/s/proxy/admin", nil, "create", true},
		{"GET", "/api/v1/nodes/n/proxy/configz", nil, "get", true},
		{"GET", "/api/v1/namespaces/x/pods/p/log", nil, "get", false},
		{"GET", "/apis/example.io/v1/namespaces/x/pods/p/exec", nil, "get", false}, // not core pods
		{"GET", "/api/v1/namespaces/x/configmaps?watch=true", ws, "watch", false},
	} {
		r := httptest.NewRequest(tc.method, request.ProxyPrefix+"c1"+tc.path, nil)
		for k, v := range tc.header {
			r.Header[k] = v
		}
		i := request.Classify(r)
		if i.Verb != tc.verb || i.Connect != tc.connect {
			t.Errorf("%s %s: verb %q connect %v, want %q %v", tc.method, tc.path, i.Verb, i.Connect, tc.verb, tc.connect)
		}
	}
}

// Requests that make credentials for a cluster are marked, so that a scope can
// refuse them.
func TestCredentialMintingRequestsAreMarked(t *testing.T) {
	for path, mints := range map[string]bool{
		"POST /api/v1/namespaces/x/serviceaccounts/default/token":                true,
		"POST /apis/certificates.k8s.io/v1/certificatesigningrequests":           true,
		"PUT /apis/certificates.k8s.io/v1/certificatesigningrequests/c/approval": true,
		"PATCH /apis/certificates.k8s.io/v1/certificatesigningrequests/c/status": true,
		"GET /api/v1/namespaces/x/serviceaccounts/default":                       false,
		"GET /apis/certificates.k8s.io/v1/certificatesigningrequests":            false,
		"DELETE /apis/certificates.k8s.io/v1/certificatesigningrequests/c":       false,
		"POST /api/v1/namespaces/x/configmaps":                                   false,
	} {
		method, p, _ := strings.Cut(path, " ")
		if got := request.Classify(httptest.NewRequest(method, request.ProxyPrefix+"c1"+p, nil)).Mints; got != mints {
			t.Errorf("%s: mints %v, want %v", path, got, mints)
		}
	}
}
