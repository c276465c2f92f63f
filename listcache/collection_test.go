package listcache_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kubegate/kubegate/cluster"
	"github.com/kubegate/kubegate/kubeenv"
	"github.com/kubegate/kubegate/kubeenv/kubeenvtest"
	"github.com/kubegate/kubegate/listcache"
)

var testCluster *kubeenv.Cluster

func TestMain(m *testing.M) {
	kubeenvtest.Main(m, "listcache", func(c *kubeenv.Cluster) { testCluster = c })
}

func target(t *testing.T) *cluster.Member {
	t.Helper()
	u, err := url.Parse(testCluster.URL)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := rest.TransportFor(testCluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	return cluster.NewMember(context.Background(), testCluster.Name, u, tr, nil)
}

func clientset(t *testing.T) *kubernetes.Clientset {
	t.Helper()
	cs, err := testCluster.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func namespaces(t *testing.T, cs *kubernetes.Clientset, prefix string, n int) []string {
	t.Helper()
	var out []string
	for i := range n {
		name := fmt.Sprintf("%s-%d", prefix, i)
		if _, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		out = append(out, name)
	}
	return out
}

// upstream is the cluster's own view of the configmaps of the test's namespaces:
// namespace/name → resourceVersion.
func upstream(t *testing.T, cs *kubernetes.Clientset, nss []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, ns := range nss {
		l, err := cs.CoreV1().ConfigMaps(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, cm := range l.Items {
			out[cm.Namespace+"/"+cm.Name] = cm.ResourceVersion
		}
	}
	return out
}

// cached is the cache's view of the same namespaces, one snapshot per namespace
// (the namespace index) and their union from the whole collection.
func cached(c *listcache.Collection, nss []string) (byNS, all map[string]string) {
	byNS, all = map[string]string{}, map[string]string{}
	want := map[string]bool{}
	for _, ns := range nss {
		want[ns] = true
		objs, _ := c.Snapshot(ns)
		for _, o := range objs {
			byNS[o.Namespace+"/"+o.Name] = strconv.FormatUint(o.ResourceVersion, 10)
		}
	}
	objs, _ := c.Snapshot("")
	for _, o := range objs {
		if want[o.Namespace] {
			all[o.Namespace+"/"+o.Name] = strconv.FormatUint(o.ResourceVersion, 10)
		}
	}
	return byNS, all
}

func equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// After random creates, updates and deletes — some before the cache starts, most
// while it watches — the cache holds exactly what the cluster holds, by namespace
// and in all, each object at its current resource version.
func TestCacheFollowsRandomChanges(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cs := clientset(t)
	nss := namespaces(t, cs, "random", 4)
	rng := rand.New(rand.NewPCG(1, 2))
	live := map[string]bool{}
	op := func(i int) {
		ns := nss[rng.IntN(len(nss))]
		name := fmt.Sprintf("cm-%d", rng.IntN(40))
		cms := cs.CoreV1().ConfigMaps(ns)
		key := ns + "/" + name
		switch {
		case !live[key]:
			_, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"step": strconv.Itoa(i)}}}, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			live[key] = true
		case rng.IntN(3) == 0:
			if err := cms.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			delete(live, key)
		default:
			cm, err := cms.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			cm.Labels["step"] = strconv.Itoa(i)
			if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range 60 {
		op(i)
	}
	c := listcache.Start(ctx, target(t), "/api/v1/configmaps", listcache.Options{ChunkSize: 17})
	for i := 60; i < 300; i++ {
		op(i)
	}
	want := upstream(t, cs, nss)
	deadline := time.Now().Add(15 * time.Second)
	for {
		byNS, all := cached(c, nss)
		if equal(byNS, want) && equal(all, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cache never matched the cluster:\ncluster %v\nby namespace %v\nall %v", want, byNS, all)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n, bytes := c.Stats(); n < len(want) || bytes <= 0 {
		t.Errorf("stats: %d objects, %d bytes", n, bytes)
	}
}

// A write's own resource version is one the watch must deliver: waiting for it
// makes the write visible (read-your-writes), and a delete followed by any later
// write is gone once that later write shows.
func TestWaitingForAWritesResourceVersionShowsIt(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cs := clientset(t)
	ns := namespaces(t, cs, "ryw", 1)[0]
	c := listcache.Start(ctx, target(t), "/api/v1/configmaps", listcache.Options{})
	cms := cs.CoreV1().ConfigMaps(ns)
	seen := func(name string) bool {
		objs, _ := c.Snapshot(ns)
		for _, o := range objs {
			if o.Name == name {
				return true
			}
		}
		return false
	}
	for i := range 20 {
		name := fmt.Sprintf("w-%d", i)
		cm, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		rv, _ := strconv.ParseUint(cm.ResourceVersion, 10, 64)
		wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
		err = c.WaitFor(wctx, rv)
		wcancel()
		if err != nil {
			t.Fatalf("waiting for the create of %s at %d: %v", name, rv, err)
		}
		if !seen(name) {
			t.Fatalf("%s created at %d is not in the cache that reached it", name, rv)
		}
		if i > 0 {
			prev := fmt.Sprintf("w-%d", i-1)
			if err := cms.Delete(ctx, prev, metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	marker, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "marker"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rv, _ := strconv.ParseUint(marker.ResourceVersion, 10, 64)
	wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
	defer wcancel()
	if err := c.WaitFor(wctx, rv); err != nil {
		t.Fatal(err)
	}
	objs, at := c.Snapshot(ns)
	if len(objs) != 2 || objs[0].Name != "marker" || objs[1].Name != "w-19" || at < rv {
		names := []string{}
		for _, o := range objs {
			names = append(names, o.Name)
		}
		t.Fatalf("after the deletes: %v at %d, want [marker w-19] at ≥ %d", names, at, rv)
	}
}

func mustRV(t *testing.T, s string) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A write to another resource moves the cluster's resource version, which this
// collection's watch never hears of: a query waiting for it makes the watch ask
// for a bookmark, which comes in about a second, not at the apiserver's minute.
func TestAWriteElsewhereIsCaughtUpByABookmark(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cs := clientset(t)
	ns := namespaces(t, cs, "elsewhere", 1)[0]
	c := listcache.Start(ctx, target(t), "/api/v1/configmaps", listcache.Options{})
	if err := c.WaitFor(ctx, 0); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		sa, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("sa-%d", i)}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// The gateway's freshness mark: a consistent one-item list of the
		// collection, at or after the write.
		l, err := cs.CoreV1().ConfigMaps("").List(ctx, metav1.ListOptions{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		rv, _ := strconv.ParseUint(l.ResourceVersion, 10, 64)
		if rv < mustRV(t, sa.ResourceVersion) {
			t.Fatalf("a consistent list at %d, before the write at %s", rv, sa.ResourceVersion)
		}
		start := time.Now()
		wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
		err = c.WaitFor(wctx, rv)
		wcancel()
		if err != nil {
			t.Fatalf("waiting for a write elsewhere at %d: %v", rv, err)
		}
		t.Logf("caught up with a write elsewhere in %s", time.Since(start).Round(time.Millisecond))
	}
}

// The cache survives its cluster's apiserver going away: it lists again and
// watches on when it comes back, without being restarted.
func TestCacheRecoversAfterTheAPIServerRestarts(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cs := clientset(t)
	ns := namespaces(t, cs, "restart", 1)[0]
	c := listcache.Start(ctx, target(t), "/api/v1/configmaps", listcache.Options{Backoff: 200 * time.Millisecond})
	cms := cs.CoreV1().ConfigMaps(ns)
	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "before"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := testCluster.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	sctx, scancel := context.WithTimeout(ctx, time.Minute)
	defer scancel()
	if err := testCluster.StartAPIServer(sctx); err != nil {
		t.Fatal(err)
	}
	cs = clientset(t)
	cms = cs.CoreV1().ConfigMaps(ns)
	after, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "after"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rv, _ := strconv.ParseUint(after.ResourceVersion, 10, 64)
	// While it cannot list, WaitFor says so at once; it catches up once it can.
	deadline := time.Now().Add(30 * time.Second)
	for {
		wctx, wcancel := context.WithTimeout(ctx, time.Second)
		err := c.WaitFor(wctx, rv)
		wcancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cache did not catch up after the restart: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if byNS, _ := cached(c, []string{ns}); !equal(byNS, upstream(t, cs, []string{ns})) {
		t.Fatalf("after the restart the cache holds %v, the cluster %v", byNS, upstream(t, cs, []string{ns}))
	}
}

// cuttable is a transport whose connections to the cluster can be cut: requests
// fail and open streams end with an error, as when the network drops.
type cuttable struct {
	base http.RoundTripper
	mu   sync.Mutex
	stop chan struct{} // closed while cut
}

func (c *cuttable) cut(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if on {
		close(c.stop)
	} else {
		c.stop = make(chan struct{})
	}
}

func (c *cuttable) RoundTrip(req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	stop := c.stop
	c.mu.Unlock()
	select {
	case <-stop:
		return nil, errors.New("connection refused")
	default:
	}
	ctx, cancel := context.WithCancel(req.Context())
	go func() {
		select {
		case <-stop:
		case <-ctx.Done():
		}
		cancel()
	}()
	return c.base.RoundTrip(req.WithContext(ctx))
}

// With heartbeat watches a collection nobody writes still proves itself alive
// (a watch's end at its timeout, about every 3 s), so it stays Healthy within
// the default 5 s; a cut connection makes it unhealthy at once, until the watch
// is back.
func TestHeartbeatKeepsAQuietWatchHealthy(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tg := target(t)
	tr := &cuttable{base: tg.Transport, stop: make(chan struct{})}
	tg.Transport = tr
	c := listcache.Start(ctx, tg, "/api/v1/serviceaccounts", listcache.Options{Heartbeat: true, Backoff: 100 * time.Millisecond})
	if err := c.WaitFor(ctx, 0); err != nil {
		t.Fatal(err)
	}
	for start := time.Now(); time.Since(start) < 8*time.Second; time.Sleep(50 * time.Millisecond) {
		if !c.Healthy(5 * time.Second) {
			t.Fatalf("a quiet collection went unhealthy %v after it synced", time.Since(start).Round(time.Millisecond))
		}
	}
	tr.cut(true)
	for deadline := time.Now().Add(5 * time.Second); c.Healthy(5 * time.Second); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a cut watch stayed healthy past the bound")
		}
	}
	time.Sleep(time.Second)
	if c.Healthy(5 * time.Second) {
		t.Fatal("a cut watch became healthy again while still cut")
	}
	tr.cut(false)
	for deadline := time.Now().Add(10 * time.Second); !c.Healthy(5 * time.Second); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the watch did not come back healthy")
		}
	}
}

// stalling is a transport whose watch streams can be frozen: while frozen, a
// watch's body delivers nothing more and never ends — a connection that died
// without a reset, or a proxy that holds it — though nothing fails.
type stalling struct {
	base   http.RoundTripper
	frozen atomic.Bool
}

func (s *stalling) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := s.base.RoundTrip(req)
	if err != nil || req.URL.Query().Get("watch") != "true" {
		return resp, err
	}
	resp.Body = &stallingBody{ReadCloser: resp.Body, frozen: &s.frozen, ctx: req.Context()}
	return resp, nil
}

type stallingBody struct {
	io.ReadCloser
	frozen *atomic.Bool
	ctx    context.Context
	stuck  bool // frozen once: stays so, as a dead connection does
}

func (b *stallingBody) Read(p []byte) (int, error) {
	for b.stuck || b.frozen.Load() {
		b.stuck = true
		select {
		case <-b.ctx.Done():
			return 0, b.ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return b.ReadCloser.Read(p)
}

// A watch that goes silent without failing is unhealthy within the bound (the
// cluster answers), and is cut once it outlives its timeout, so the collection
// recovers without waiting for TCP to give up on the connection.
func TestAStalledWatchIsUnhealthyThenCut(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tg := target(t)
	tr := &stalling{base: tg.Transport}
	tr.frozen.Store(true) // every watch stalls from its start; the list is not a watch
	tg.Transport = tr
	frozen := time.Now()
	c := listcache.Start(ctx, tg, "/api/v1/serviceaccounts", listcache.Options{Heartbeat: true, Backoff: 100 * time.Millisecond})
	if err := c.WaitFor(ctx, 0); err != nil {
		t.Fatal(err)
	}
	for c.Healthy(5 * time.Second) {
		// Heard at the list's start at the latest: unhealthy 5 s after that.
		if time.Since(c.Heard()) > 5*time.Second+time.Second {
			t.Fatalf("a stalled watch stayed healthy %s after it was last heard from", time.Since(c.Heard()).Round(time.Millisecond))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("unhealthy %s after the stream stalled", time.Since(frozen).Round(time.Millisecond))
	tr.frozen.Store(false) // the stuck stream stays stuck: only a new watch helps
	// The stalled watch was asked to end after 3 s; 10 s later it is cut.
	for !c.Healthy(5 * time.Second) {
		if time.Since(frozen) > 30*time.Second {
			t.Fatal("the collection did not recover from a stalled watch")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("healthy again %s after the stream stalled", time.Since(frozen).Round(time.Millisecond))
}
