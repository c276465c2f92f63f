package scale

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/kubegate/kubegate/cluster"
	"github.com/kubegate/kubegate/kubeproxy"
	"github.com/kubegate/kubegate/listcache"
	"github.com/kubegate/kubegate/listquery"
)

// shapes are the queries measured: the guide's worked example (a namespace's
// Deployments, newest first, page 2 of 20) and a fuzzy name filter over the
// whole cluster; each with the label selector the apiserver itself can answer
// for the same scope, as the reference of what a list costs without our
// parameters.
var shapes = []struct {
	name, path, query, selector string
}{
	{"worked-example", "/apis/apps/v1/namespaces/ns-007/deployments", "sortName=metadata.creationTimestamp&sortOrder=desc&pageSize=20&pageNum=2", "labelSelector=app%3Dweb&limit=20"},
	{"fuzzy-name", "/apis/apps/v1/deployments", "selector=metadata.name~web-0001&sortName=metadata.creationTimestamp&sortOrder=desc&pageSize=20&pageNum=1", "labelSelector=app%3Dweb&limit=20"},
}

// BenchmarkScale measures, at each size in one run and over HTTPS: p50/p99 of
// each shape from the gateway's cache and by KubeCube's method (the baseline:
// fetch everything in scope, decode, filter, sort, page), quiet and under a
// background writer at 10 and 100 writes a second to another resource; the
// staleness a user could see of a write made straight on the cluster, under
// each load; on the quiet cluster the gateway's streaming upstream path and the
// apiserver's own selector list too; 50 concurrent clients on the worked
// example from the cache against the apiserver's selector list; and the cache's
// warm-up time and memory against one full paged LIST.
func BenchmarkScale(b *testing.B) {
	sizes := []int{30_000, 100_000}
	if os.Getenv("KUBEGATE_BENCH_300K") == "1" {
		sizes = append(sizes, 300_000)
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("%dk", n/1000), func(b *testing.B) {
			bed := bedOf(b, n)
			for _, s := range shapes {
				cachedURL := bed.cached + "/api/v1/cube/proxy/clusters/" + bed.cluster.Name + s.path + "?" + s.query
				bed.warm(b, cachedURL)
				bed.sameAnswers(b, s.path, s.query)
			}
			for _, load := range loads {
				b.Run(load.name, func(b *testing.B) {
					for _, s := range shapes {
						bed.shape(b, s.name, s.path, s.query, s.selector, load.perSecond)
					}
					bed.underLoad(b, "staleness/cache", load.perSecond, bed.staleness)
				})
			}
			worked := bed.cached + "/api/v1/cube/proxy/clusters/" + bed.cluster.Name + shapes[0].path + "?" + shapes[0].query
			for _, load := range []struct {
				name      string
				perSecond int
			}{loads[0], loads[2]} {
				bed.underLoad(b, load.name+"/50-clients/cache", load.perSecond, func(b *testing.B) { bed.parallel(b, worked, bed.token) })
				bed.underLoad(b, load.name+"/50-clients/baseline", load.perSecond, func(b *testing.B) {
					bed.parallelWith(b, bed.direct, bed.cluster.URL+shapes[0].path+"?"+shapes[0].selector, "")
				})
			}
			b.Run("warm-up/baseline", func(b *testing.B) {
				for b.Loop() {
					bed.pagedList(b)
				}
			})
			b.Run("warm-up/cache", func(b *testing.B) { bed.warmUp(b) })
		})
	}
}

// shape measures one query shape under a background writer at perSecond: from
// the cache and by KubeCube's method; on the quiet cluster also from the cache
// at any version, through the streaming path and as the apiserver's selector
// page.
func (bed *bed) shape(b *testing.B, name, path, query, selector string, perSecond int) {
	cachedURL := bed.cached + "/api/v1/cube/proxy/clusters/" + bed.cluster.Name + path + "?" + query
	bed.underLoad(b, name+"/cache", perSecond, func(b *testing.B) {
		hits := 0
		measure(b, func() {
			if bed.get(b, cachedURL, bed.token).Header.Get(kubeproxy.ListSourceHeader) == "cache" {
				hits++
			}
		})
		b.ReportMetric(100*float64(hits)/float64(b.N), "from-cache-%")
	})
	bed.underLoad(b, name+"/baseline", perSecond, func(b *testing.B) {
		q := parse(b, query)
		measure(b, func() { bed.kubecube(b, path, q) })
	})
	if perSecond > 0 {
		return
	}
	// resourceVersion=0: whatever the cache holds, without waiting for
	// anything: the cache's own cost.
	b.Run(name+"/cache-any-version", func(b *testing.B) {
		measure(b, func() { bed.get(b, cachedURL+"&resourceVersion=0", bed.token) })
	})
	b.Run(name+"/streaming", func(b *testing.B) {
		u := bed.uncached + "/api/v1/cube/proxy/clusters/" + bed.cluster.Name + path + "?" + query
		measure(b, func() { bed.get(b, u, bed.uncachedToken) })
	})
	b.Run(name+"/apiserver-selector", func(b *testing.B) {
		u := bed.cluster.URL + path + "?" + selector
		measure(b, func() { bed.getWith(b, bed.direct, u, "") })
	})
}

// measure runs op in the benchmark loop and reports its p50 and p99.
func measure(b *testing.B, op func()) {
	b.Helper()
	var lat []time.Duration
	for b.Loop() {
		start := time.Now()
		op()
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[min(len(lat)-1, len(lat)*99/100)]), "p99-ms")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func parse(b *testing.B, query string) *listquery.Query {
	b.Helper()
	v, err := url.ParseQuery(query)
	if err != nil {
		b.Fatal(err)
	}
	q, err := listquery.ParseKubeCube(v, 5000)
	if err != nil {
		b.Fatal(err)
	}
	return q
}

// answer is a response with its body read.
type answer struct {
	Header http.Header
	Body   []byte
}

func (bed *bed) get(b *testing.B, u, token string) answer {
	b.Helper()
	return bed.getWith(b, bed.client, u, token)
}

// getWith GETs u and fails the benchmark unless it is a 200.
func (bed *bed) getWith(b *testing.B, c *http.Client, u, token string) answer {
	b.Helper()
	a, err := do(c, u, token)
	if err != nil {
		b.Fatal(err)
	}
	return a
}

func do(c *http.Client, u, token string) (answer, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, u, nil)
	if err != nil {
		return answer{}, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return answer{}, fmt.Errorf("GET %s: %d %s", u, resp.StatusCode, body)
	}
	return answer{Header: resp.Header, Body: body}, nil
}

// warm waits until the cached gateway answers u from its cache.
func (bed *bed) warm(b *testing.B, u string) {
	b.Helper()
	deadline := time.Now().Add(10 * time.Minute)
	for bed.get(b, u, bed.token).Header.Get(kubeproxy.ListSourceHeader) != "cache" {
		if time.Now().After(deadline) {
			b.Fatalf("the cache never answered %s", u)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// page is what the comparisons look at of a list query's answer.
type page struct {
	Total int `json:"total"`
	Items []struct {
		Metadata struct{ Namespace, Name string }
	} `json:"items"`
}

func (p page) String() string {
	var names []string
	for _, it := range p.Items {
		names = append(names, it.Metadata.Namespace+"/"+it.Metadata.Name)
	}
	return fmt.Sprintf("total %d: %s", p.Total, strings.Join(names, " "))
}

// sameAnswers checks that the cache, the streaming path and KubeCube's method
// agree on the shape's page, so that what is timed is the same answer.
func (bed *bed) sameAnswers(b *testing.B, path, query string) {
	b.Helper()
	var answers []string
	for _, gw := range []struct{ url, token string }{{bed.cached, bed.token}, {bed.uncached, bed.uncachedToken}} {
		var p page
		if err := json.Unmarshal(bed.get(b, gw.url+"/api/v1/cube/proxy/clusters/"+bed.cluster.Name+path+"?"+query, gw.token).Body, &p); err != nil {
			b.Fatal(err)
		}
		answers = append(answers, p.String())
	}
	answers = append(answers, bed.kubecube(b, path, parse(b, query)).String())
	if answers[0] != answers[1] || answers[0] != answers[2] || strings.HasPrefix(answers[0], "total 0:") {
		b.Fatalf("%s?%s answers differ (or are empty):\ncache:     %s\nstreaming: %s\nkubecube:  %s", path, query, answers[0], answers[1], answers[2])
	}
}

// kubecube answers q by KubeCube's method: the whole scope from the apiserver,
// decoded, then filtered, sorted and paged.
func (bed *bed) kubecube(b *testing.B, path string, q *listquery.Query) page {
	b.Helper()
	resp := bed.getWith(b, bed.direct, bed.cluster.URL+path, "")
	var list struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal(resp.Body, &list); err != nil {
		b.Fatal(err)
	}
	col := listquery.NewPager(q, 5000)
	for _, it := range list.Items {
		col.AddDecoded(it, nil)
	}
	items, err := col.Page()
	if err != nil {
		b.Fatal(err)
	}
	p := page{Total: col.Total()}
	for _, raw := range items {
		var it struct {
			Metadata struct{ Namespace, Name string }
		}
		if err := json.Unmarshal(raw, &it); err != nil {
			b.Fatal(err)
		}
		p.Items = append(p.Items, it)
	}
	return p
}

// parallel GETs u with 50 clients at once and reports requests per second.
func (bed *bed) parallel(b *testing.B, u, token string) {
	bed.parallelWith(b, bed.client, u, token)
}

func (bed *bed) parallelWith(b *testing.B, c *http.Client, u, token string) {
	b.SetParallelism((50 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := do(c, u, token); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

// pagedList lists every Deployment in pages of 500, as the cache's warm-up
// does, reading each page's body: what one full LIST of the collection costs.
func (bed *bed) pagedList(b *testing.B) {
	cont := ""
	for {
		resp := bed.getWith(b, bed.direct, bed.cluster.URL+"/apis/apps/v1/deployments?limit=500&continue="+url.QueryEscape(cont), "")
		var l struct {
			Metadata struct{ Continue string }
		}
		if err := json.Unmarshal(resp.Body, &l); err != nil {
			b.Fatal(err)
		}
		if cont = l.Metadata.Continue; cont == "" {
			return
		}
	}
}

// warmUp starts a cache of the Deployments in this process and waits until it
// holds them: the time, and the heap it takes over the objects' JSON size.
func (bed *bed) warmUp(b *testing.B) {
	tr, err := rest.TransportFor(bed.cluster.Config)
	if err != nil {
		b.Fatal(err)
	}
	u, err := url.Parse(bed.cluster.URL)
	if err != nil {
		b.Fatal(err)
	}
	target := cluster.NewMember(context.Background(), bed.cluster.Name, u, tr, nil)
	var heap, jsonBytes float64
	first := true
	for b.Loop() {
		b.StopTimer()
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		before := ms.HeapAlloc
		ctx, cancel := context.WithCancel(context.Background())
		b.StartTimer()
		c := listcache.Start(ctx, target, "/apis/apps/v1/deployments", listcache.Options{})
		if err := c.WaitFor(ctx, 0); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		// A cluster-wide query builds the scan view, which the heap then counts.
		if _, err := c.Query(parse(b, shapes[1].query), "", 5000); err != nil {
			b.Fatal(err)
		}
		objs, _ := c.Snapshot("")
		if len(objs) != bed.n {
			b.Fatalf("the cache holds %d deployments, want %d", len(objs), bed.n)
		}
		// The heap once, in the first round: a cancelled collection's goroutine
		// may still hold it when the next round measures its start.
		if first {
			for _, o := range objs {
				jsonBytes += float64(len(o.Raw))
			}
			objs = nil //nolint:wastedassign // not kept alive by the measurement.
			runtime.GC()
			runtime.ReadMemStats(&ms)
			heap = float64(ms.HeapAlloc) - float64(before)
			runtime.KeepAlive(c)
			first = false
		}
		cancel()
		b.StartTimer()
	}
	b.ReportMetric(heap/jsonBytes, "heap/json")
	b.ReportMetric(heap/float64(bed.n), "heap-B/object")
	b.ReportMetric(jsonBytes/float64(bed.n), "json-B/object")
}
