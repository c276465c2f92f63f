package scale

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/demo"
	"github.com/kubegate/kubegate/kubeenv"
	"github.com/kubegate/kubegate/kubeproxy"
	"github.com/kubegate/kubegate/test/testbin"
	"github.com/kubegate/kubegate/test/writeload"

	"net/http"
)

// acrossClusters is how many seeded clusters the list across clusters spans.
const acrossClusters = 3

// acrossBed is three clusters of 30k Deployments each (the same seed) behind
// one gateway with the list cache.
type acrossBed struct {
	bed      // client, token, procs, dir of the gateway
	clusters []*kubeenv.Cluster
	css      []*kubernetes.Clientset
}

func (a *acrossBed) stop() {
	a.bed.stop()
	for _, c := range a.clusters {
		_ = c.Stop()
	}
}

var (
	acrossMu  sync.Mutex
	acrossRun *acrossBed
)

// acrossBedOf starts the bed on first use (the other beds stopped first: one at
// a time on this machine).
func acrossBedOf(tb testing.TB, n int) *acrossBed {
	tb.Helper()
	acrossMu.Lock()
	defer acrossMu.Unlock()
	if acrossRun != nil {
		return acrossRun
	}
	bedsMu.Lock()
	for k, b := range beds {
		b.stop()
		delete(beds, k)
	}
	bedsMu.Unlock()
	a, err := startAcrossBed(n)
	if err != nil {
		if a != nil {
			a.stop()
		}
		tb.Fatal(err)
	}
	acrossRun = a
	return a
}

func startAcrossBed(n int) (*acrossBed, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	if err := buildOnce(); err != nil {
		return nil, err
	}
	a := &acrossBed{bed: bed{n: n}}
	var err error
	if a.dir, err = os.MkdirTemp("", "kubegate-scale-across-"); err != nil {
		return nil, err
	}
	seedDir, err := ensureSeed(ctx, n)
	if err != nil {
		return a, err
	}
	tlsArgs, pool, err := serving(a.dir)
	if err != nil {
		return a, err
	}
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--data-dir", filepath.Join(a.dir, "data"),
		"--list-cache", "--cache-memory-limit", strconv.Itoa(12 << 30)}, tlsArgs...)
	for i := range acrossClusters {
		c, err := kubeenv.Start(ctx, kubeenv.Options{Name: fmt.Sprintf("across-%d", i+1), StartTimeout: 5 * time.Minute, EtcdData: seedDir})
		if err != nil {
			return a, err
		}
		a.clusters = append(a.clusters, c)
		cs, err := fastClient(c)
		if err != nil {
			return a, err
		}
		a.css = append(a.css, cs)
		kubeconfig, err := demo.PrepareCluster(ctx, c, filepath.Join(a.dir, c.Name))
		if err != nil {
			return a, err
		}
		if err := grantCacheReader(ctx, cs); err != nil {
			return a, err
		}
		args = append(args, "--cluster", c.Name+"="+kubeconfig)
	}
	a.client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 64}}
	p, err := testbin.Start(filepath.Join(binDir, "kubegate"), []string{"KUBEGATE_BOOTSTRAP_ADMIN_PASSWORD=" + adminPassword}, args...)
	if err != nil {
		return a, err
	}
	a.procs = append(a.procs, p)
	if a.cached, err = p.WaitURL(time.Minute); err != nil {
		return a, fmt.Errorf("%w\n%s", err, p.Output())
	}
	a.token, err = a.login(a.cached)
	return a, err
}

// BenchmarkAcross measures one list query across three clusters of 30k
// Deployments each, from the gateway's caches (the worked example's shape in
// one namespace of every cluster, and a fuzzy name filter over all of them),
// against the baseline a client has without it: call each cluster through the
// gateway (from its cache too) in parallel, asking each for everything up to
// the end of the page, and merge, sort and page client-side. Quiet and under a
// background writer at 100 writes a second to each cluster.
func BenchmarkAcross(b *testing.B) {
	a := acrossBedOf(b, 30_000)
	for _, s := range shapes {
		for _, c := range a.clusters {
			a.warm(b, a.cached+"/api/v1/cube/proxy/clusters/"+c.Name+s.path+"?"+s.query)
		}
		a.sameAcross(b, s.path, s.query)
	}
	for _, load := range []struct {
		name      string
		perSecond int
	}{loads[0], loads[2]} {
		b.Run(fmt.Sprintf("%dx30k/%s", acrossClusters, load.name), func(b *testing.B) {
			for _, s := range shapes {
				a.underLoadAll(b, s.name+"/across", load.perSecond, func(b *testing.B) {
					u := a.cached + "/api/v1/cube/proxy/clusters/*" + s.path + "?" + s.query
					hits := 0
					measure(b, func() {
						if a.get(b, u, a.token).Header.Get(kubeproxy.ListSourceHeader) == "cache" {
							hits++
						}
					})
					b.ReportMetric(100*float64(hits)/float64(b.N), "from-cache-%")
				})
				a.underLoadAll(b, s.name+"/baseline", load.perSecond, func(b *testing.B) {
					measure(b, func() { a.clientMerge(b, s.path, s.query) })
				})
			}
		})
	}
}

// underLoadAll runs a sub-benchmark with a background writer at perSecond on
// every cluster.
func (a *acrossBed) underLoadAll(b *testing.B, name string, perSecond int, f func(b *testing.B)) {
	b.Run(name, func(b *testing.B) {
		var ws []*writeload.Writer
		for _, cs := range a.css {
			w, err := writeload.Start(cs, "kube-system", "scale-bench-writer", perSecond, 8)
			if err != nil {
				b.Fatal(err)
			}
			ws = append(ws, w)
		}
		f(b)
		rate := 0.0
		for _, w := range ws {
			rate += w.Stop()
		}
		if rate > 0 {
			b.ReportMetric(rate/float64(len(ws)), "writes/s")
		}
	})
}

// mergedItem is what a client merging lists needs of an item.
type mergedItem struct {
	cluster string
	created time.Time
	ns      string
	name    string
}

// clientMerge answers the shape (newest first) the way a client must without
// lists across clusters: each cluster's first pageSize×pageNum matches through
// the gateway, in parallel, then decoded, merged, sorted and paged here.
func (a *acrossBed) clientMerge(b *testing.B, path, query string) page {
	b.Helper()
	v, err := url.ParseQuery(query)
	if err != nil {
		b.Fatal(err)
	}
	size, _ := strconv.Atoi(v.Get("pageSize"))
	num, _ := strconv.Atoi(v.Get("pageNum"))
	one := url.Values{}
	for k, vs := range v {
		one[k] = vs
	}
	one.Set("pageSize", strconv.Itoa(size*num))
	one.Set("pageNum", "1")
	lists := make([][]mergedItem, len(a.clusters))
	totals := make([]int, len(a.clusters))
	errs := make([]error, len(a.clusters))
	var wg sync.WaitGroup
	for i, c := range a.clusters {
		wg.Go(func() {
			ans, err := do(a.client, a.cached+"/api/v1/cube/proxy/clusters/"+c.Name+path+"?"+one.Encode(), a.token)
			if err != nil {
				errs[i] = err
				return
			}
			var l struct {
				Total int
				Items []struct {
					Metadata struct {
						Namespace, Name   string
						CreationTimestamp time.Time
					}
				}
			}
			if errs[i] = json.Unmarshal(ans.Body, &l); errs[i] != nil {
				return
			}
			totals[i] = l.Total
			for _, it := range l.Items {
				lists[i] = append(lists[i], mergedItem{c.Name, it.Metadata.CreationTimestamp, it.Metadata.Namespace, it.Metadata.Name})
			}
		})
	}
	wg.Wait()
	var all []mergedItem
	p := page{}
	for i := range lists {
		if errs[i] != nil {
			b.Fatal(errs[i])
		}
		all = append(all, lists[i]...)
		p.Total += totals[i]
	}
	sort.SliceStable(all, func(i, j int) bool {
		x, y := all[i], all[j]
		if !x.created.Equal(y.created) {
			return x.created.After(y.created) // newest first
		}
		if x.cluster != y.cluster {
			return x.cluster < y.cluster
		}
		if x.ns != y.ns {
			return x.ns < y.ns
		}
		return x.name < y.name
	})
	start := min((num-1)*size, len(all))
	for _, it := range all[start:min(start+size, len(all))] {
		var e struct {
			Metadata struct{ Namespace, Name string }
		}
		e.Metadata.Namespace, e.Metadata.Name = it.cluster+"/"+it.ns, it.name
		p.Items = append(p.Items, e)
	}
	return p
}

// sameAcross checks that the list across clusters and the client-side merge
// agree on the shape's page, so that what is timed is the same answer.
func (a *acrossBed) sameAcross(b *testing.B, path, query string) {
	b.Helper()
	var l struct {
		Total int
		Items []struct {
			Metadata struct {
				Namespace, Name string
				Annotations     map[string]string
			}
		}
	}
	if err := json.Unmarshal(a.get(b, a.cached+"/api/v1/cube/proxy/clusters/*"+path+"?"+query, a.token).Body, &l); err != nil {
		b.Fatal(err)
	}
	got := page{Total: l.Total}
	for _, it := range l.Items {
		var e struct {
			Metadata struct{ Namespace, Name string }
		}
		e.Metadata.Namespace, e.Metadata.Name = it.Metadata.Annotations[kubegate.ClusterAnnotation]+"/"+it.Metadata.Namespace, it.Metadata.Name
		got.Items = append(got.Items, e)
	}
	want := a.clientMerge(b, path, query)
	if got.String() != want.String() || got.Total == 0 || !strings.Contains(got.String(), "across-") {
		b.Fatalf("%s?%s: across clusters and merged client-side differ (or are empty):\nacross: %s\nmerged: %s", path, query, got, want)
	}
}
