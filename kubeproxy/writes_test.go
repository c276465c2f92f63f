package kubeproxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/cluster"
	"github.com/kubegate/kubegate/filters"
	"github.com/kubegate/kubegate/listcache"
	"github.com/kubegate/kubegate/request"
)

// What a carried write leaves for the next answers of its collection: the
// version of a create or update, the absence of an object deleted at once (by
// its version, or by name when a Status answered), strictness after a
// deletecollection or an answer without a version — until a strict read
// settles it, or a minute passes. Other collections and clusters are untouched.
func TestWritesMarkTheirCollection(t *testing.T) {
	now := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	target, other := &cluster.Member{Name: "c1"}, &cluster.Member{Name: "c2"}
	p := &Proxy{writes: newWrites(func() time.Time { return now })}
	write := func(method, path, body string, contentType ...string) {
		t.Helper()
		ct := "application/json"
		if len(contentType) > 0 {
			ct = contentType[0]
		}
		req := httptest.NewRequest(method, request.ProxyPrefix+"c1"+path, nil)
		filters.WithRequestInfo(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { req = r })).ServeHTTP(httptest.NewRecorder(), req)
		ctx := withUpstream(req.Context(), target, request.InfoFrom(req.Context()).Path)
		resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {ct}}, Body: io.NopCloser(strings.NewReader(body)),
			Request: req.WithContext(ctx)}
		if err := p.recordWrite(resp); err != nil {
			t.Fatal(err)
		}
		if b, _ := io.ReadAll(resp.Body); string(b) != body {
			t.Fatalf("the client gets %q, not the cluster's %q", b, body)
		}
	}
	cms := writeKey{target, "", "configmaps"}

	write("POST", "/api/v1/namespaces/a/configmaps", `{"kind":"ConfigMap","metadata":{"namespace":"a","name":"x","resourceVersion":"41"}}`)
	write("PUT", "/api/v1/namespaces/a/configmaps/y", `{"kind":"ConfigMap","metadata":{"namespace":"a","name":"y","resourceVersion":"40"}}`)
	if m := p.writes.mark(cms); m.ResourceVersion != 41 || m.strict() || len(m.Gone) != 0 {
		t.Fatalf("after a create and an older update: %+v", m)
	}
	write("DELETE", "/api/v1/namespaces/a/configmaps/x", `{"kind":"ConfigMap","metadata":{"namespace":"a","name":"x","resourceVersion":"41"}}`)
	write("DELETE", "/api/v1/namespaces/a/configmaps/y", `{"kind":"Status","status":"Success","details":{"name":"y","kind":"configmaps"}}`)
	if m := p.writes.mark(cms); len(m.Gone) != 2 || m.Gone[0] != (listcache.Gone{Namespace: "a", Name: "x", ResourceVersion: 41}) || m.Gone[1] != (listcache.Gone{Namespace: "a", Name: "y"}) {
		t.Fatalf("after two deletes: %+v", m)
	}
	write("DELETE", "/api/v1/namespaces/a/pods/z", `{"kind":"Pod","metadata":{"namespace":"a","name":"z","resourceVersion":"50","deletionTimestamp":"2026-12-07T08:00:00Z"}}`)
	if m := p.writes.mark(writeKey{target, "", "pods"}); m.ResourceVersion != 50 || len(m.Gone) != 0 {
		t.Fatalf("a graceful delete is an update: %+v", m)
	}
	write("DELETE", "/api/v1/namespaces/a/configmaps", `{"kind":"ConfigMapList","metadata":{"resourceVersion":"60"},"items":[]}`)
	m := p.writes.mark(cms)
	if !m.strict() {
		t.Fatalf("after a deletecollection: %+v", m)
	}
	p.writes.settle(cms, m.Strict, 70)
	if m := p.writes.mark(cms); m.strict() || m.ResourceVersion != 70 {
		t.Fatalf("after a strict read: %+v", m)
	}
	if m := p.writes.mark(writeKey{other, "", "configmaps"}); m.ResourceVersion != 0 || m.strict() {
		t.Fatalf("another cluster's collection: %+v", m)
	}
	for i := range kubegate.MaxWriteMarkGone + 1 {
		write("DELETE", "/api/v1/namespaces/a/secrets/s"+strings.Repeat("x", i), `{"kind":"Status","details":{"name":"s"}}`)
	}
	if m := p.writes.mark(writeKey{target, "", "secrets"}); !m.strict() || len(m.Gone) != 0 {
		t.Fatalf("past %d deletes the mark is strict: %+v", kubegate.MaxWriteMarkGone, m)
	}
	// One resource whatever the version it is written through; a dry run marks
	// nothing; an answer not read here (protobuf) makes the next answers strict.
	write("PATCH", "/apis/autoscaling/v2/namespaces/a/horizontalpodautoscalers/h", `{"kind":"HorizontalPodAutoscaler","metadata":{"resourceVersion":"80"}}`)
	write("PATCH", "/apis/autoscaling/v1/namespaces/a/horizontalpodautoscalers/h?dryRun=All", `{"kind":"HorizontalPodAutoscaler","metadata":{"resourceVersion":"99"}}`)
	if m := p.writes.mark(writeKey{target, "autoscaling", "horizontalpodautoscalers"}); m.ResourceVersion != 80 {
		t.Fatalf("autoscaling/v2 and v1 are one resource, dry runs mark nothing: %+v", m)
	}
	write("POST", "/apis/apps/v1/namespaces/a/deployments", "\x6b\x38\x73\x00", "application/vnd.kubernetes.protobuf")
	if m := p.writes.mark(writeKey{target, "apps", "deployments"}); !m.strict() {
		t.Fatalf("a protobuf answer: %+v", m)
	}
	p.writes.settle(cms, 7, 0) // as if another replica's seven strict writes were covered
	now = now.Add(writeMarkTTL + time.Second)
	if m := p.writes.mark(cms); m.ResourceVersion != 0 {
		t.Fatalf("a mark outlived its minute: %+v", m)
	}
	// A stale mark starts afresh when written, its settled count too: the
	// shared count it was compared with may itself have started afresh.
	p.writes.settle(cms, 7, 0)
	now = now.Add(writeMarkTTL + time.Second)
	write("POST", "/api/v1/namespaces/a/configmaps", `{"kind":"ConfigMap","metadata":{"namespace":"a","name":"z","resourceVersion":"90"}}`)
	if m := p.writes.mark(cms); m.settled != 0 || m.ResourceVersion != 90 {
		t.Fatalf("a write after a stale mark: %+v", m)
	}
}
