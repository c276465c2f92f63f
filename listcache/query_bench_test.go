package listcache

import (
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/kubegate/kubegate/listquery"
)

// benchCollection holds n deployment-like objects across 100 namespaces, parsed
// as the cache stores them.
func benchCollection(b *testing.B, n int) *Collection {
	b.Helper()
	c := &Collection{store: newStore(), advance: make(chan struct{}), synced: true}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		ns := fmt.Sprintf("ns-%02d", i%100)
		app := []string{"web", "api", "worker", "cache"}[i%4]
		raw, _ := json.Marshal(map[string]any{
			"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]any{
				"name": fmt.Sprintf("%s-%d", app, i), "namespace": ns, "resourceVersion": fmt.Sprint(1000 + i),
				"creationTimestamp": base.Add(time.Duration(i) * time.Second).Format(time.RFC3339),
				"labels":            map[string]string{"app": app, "tier": []string{"frontend", "backend"}[i%2]},
			},
			"spec":   map[string]any{"replicas": i % 5, "template": map[string]any{"spec": map[string]any{"containers": []any{map[string]any{"name": app, "image": "registry.example.com/" + app + ":1.2.3"}}}}},
			"status": map[string]any{"replicas": i % 5, "readyReplicas": i % 3},
		})
		o, _, err := parseObject(raw)
		if err != nil {
			b.Fatal(err)
		}
		k := keyOf(o.Namespace, o.Name)
		c.store.objects[k] = o
		if c.store.byNS[ns] == nil {
			c.store.byNS[ns] = map[string]*Object{}
		}
		c.store.byNS[ns][k] = o
		c.store.bytes += o.size()
	}
	return c
}

// The guide's worked-example shape (a fuzzy name filter, newest first, a page of
// 20) from the cache — over the whole collection, and in one namespace of 100 —
// against the baseline: decoding every object, as fetching everything then
// filtering does (KubeCube's method, without the fetch). mem/json is the cache's
// accounted memory over the objects' JSON size.
func BenchmarkQuery(b *testing.B) {
	v := url.Values{"selector": {"metadata.name~web"}, "sortName": {"metadata.creationTimestamp"}, "sortOrder": {"desc"}, "pageSize": {"20"}, "pageNum": {"1"}}
	q, err := listquery.ParseKubeCube(v, 5000)
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{10_000, 100_000} {
		c := benchCollection(b, n)
		var jsonBytes int
		for _, o := range c.store.objects {
			jsonBytes += len(o.Raw)
		}
		ratio := float64(c.store.bytes) / float64(jsonBytes)
		size := fmt.Sprintf("%dk", n/1000)
		b.Run(size+"/cache", func(b *testing.B) {
			for b.Loop() {
				if _, err := c.Query(q, "", 5000); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(ratio, "mem/json")
		})
		b.Run(size+"/cache-one-namespace", func(b *testing.B) {
			for b.Loop() {
				if _, err := c.Query(q, "ns-07", 5000); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(size+"/baseline", func(b *testing.B) {
			objs, _ := c.Snapshot("")
			for b.Loop() {
				col := listquery.NewPager(q, 5000)
				for _, o := range objs {
					if err := col.Add(o.Raw); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := col.Page(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
