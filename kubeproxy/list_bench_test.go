package kubeproxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kubegate/kubegate/listquery"
)

// deploymentList builds a Deployment list of n items as the apiserver would send it.
func deploymentList(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"kind":"DeploymentList","apiVersion":"apps/v1","metadata":{"resourceVersion":"1"},"items":[`)
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"metadata":{"name":"app-%06d","namespace":"ns-%d","uid":"%08d-0000-0000-0000-000000000000","resourceVersion":"%d","creationTimestamp":"%s","labels":{"app":"%s","tier":"t%d","app.kubernetes.io/name":"app-%06d"},"annotations":{"deployment.kubernetes.io/revision":"1"}},`+
			`"spec":{"replicas":%d,"selector":{"matchLabels":{"app.kubernetes.io/name":"app-%06d"}},"template":{"metadata":{"labels":{"app.kubernetes.io/name":"app-%06d"}},"spec":{"containers":[{"name":"main","image":"registry.example.com/app:%d","ports":[{"containerPort":8080,"protocol":"TCP"}],"resources":{"requests":{"cpu":"100m","memory":"128Mi"}}}]}},"strategy":{"type":"RollingUpdate"}},`+
			`"status":{"replicas":%d,"readyReplicas":%d,"conditions":[{"type":"Available","status":"True","reason":"MinimumReplicasAvailable"}]}}`,
			i, i%20, i, i, base.Add(time.Duration(i)*time.Second).Format(time.RFC3339), []string{"web", "api", "worker"}[i%3], i%5, i, i%7, i, i, i%10, i%7, i%7)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// peakHeap runs f and returns the peak heap above the level before it, sampled
// every half millisecond. The GC runs at 5% growth meanwhile, so the figure tracks
// live memory rather than garbage the collector has not yet reclaimed (the input
// list alone would otherwise allow ~100% of it as garbage).
func peakHeap(f func()) uint64 {
	old := debug.SetGCPercent(5)
	defer debug.SetGCPercent(old)
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 { metrics.Read(sample); return sample[0].Value.Uint64() }
	base := read()
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(500 * time.Microsecond)
		defer t.Stop()
		for {
			if v := read(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	f()
	close(stop)
	wg.Wait()
	if p := peak.Load(); p > base {
		return p - base
	}
	return 0
}

// BenchmarkListQuery compares the streaming path (decode item by item, keep the
// page's candidates) with decoding the whole list, then filtering, sorting and
// paging it (KubeCube's method), on the guide's worked example plus a filter.
func BenchmarkListQuery(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		list := deploymentList(n)
		v, _ := url.ParseQuery("selector=metadata.labels.app=web&sortName=metadata.creationTimestamp&sortOrder=desc&pageSize=20&pageNum=2")
		q, err := listquery.ParseKubeCube(v, 5000)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("%dk/baseline", n/1000), func(b *testing.B) {
			var peak uint64
			for b.Loop() {
				peak = max(peak, peakHeap(func() {
					var all struct {
						Items []map[string]any `json:"items"`
					}
					if err := json.Unmarshal(list, &all); err != nil {
						b.Fatal(err)
					}
					var matched []map[string]any
					for _, it := range all.Items {
						if q.Match(it) {
							matched = append(matched, it)
						}
					}
					sort.SliceStable(matched, func(i, j int) bool {
						ti := matched[i]["metadata"].(map[string]any)["creationTimestamp"].(string)
						tj := matched[j]["metadata"].(map[string]any)["creationTimestamp"].(string)
						return ti > tj
					})
					if len(matched) < 40 {
						b.Fatal("too few matches")
					}
					_, _ = json.Marshal(matched[20:40])
				}))
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-MiB")
		})
		b.Run(fmt.Sprintf("%dk/streaming", n/1000), func(b *testing.B) {
			var peak uint64
			for b.Loop() {
				peak = max(peak, peakHeap(func() {
					c := listquery.NewPager(q, 5000)
					if _, err := decodeChunk(bytes.NewReader(list), &ListResult{}, c); err != nil {
						b.Fatal(err)
					}
					page, err := c.Page()
					if err != nil || len(page) != 20 {
						b.Fatalf("page %d, %v", len(page), err)
					}
					_, _ = json.Marshal(page)
				}))
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-MiB")
		})
	}
}
