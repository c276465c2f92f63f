package proxy

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubegate/kubegate/demo"
	"github.com/kubegate/kubegate/kubeenv"
)

// cacheStaleness is the gateway's default --cache-staleness: what a cached
// answer may miss of writes made around the gateway.
const cacheStaleness = 5 * time.Second

// directWrites creates ConfigMaps in ns straight on the cluster, one every
// 50 ms, until stopped; done lists each acknowledged one with when its answer
// came. Failures (the apiserver is down) are not acknowledged.
type directWrites struct {
	mu   sync.Mutex
	done []acked
}

type acked struct {
	name string
	at   time.Time
}

// before lists the writes acknowledged before t.
func (w *directWrites) before(t time.Time) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var names []string
	for _, a := range w.done {
		if a.at.Before(t) {
			names = append(names, a.name)
		}
	}
	return names
}

// The watch cut: a cluster's apiserver is stopped and started again, under 100
// writes a second to another resource and with ConfigMaps written straight on
// the cluster all along. Before, during and after: an answer from the cache
// misses no write acknowledged more than --cache-staleness before the request
// (the bound), an answer from the cluster misses none acknowledged before it;
// while the apiserver is down nothing comes from the cache (the watch is
// unhealthy, the cluster answers, here with its error), and once the watch is
// back the cache answers again.
func TestWatchCutAnswersFromTheClusterUntilHealthy(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl, err := kubeenv.Start(ctx, kubeenv.Options{Name: "cut"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Stop() })
	kubeconfig, err := demo.PrepareCluster(ctx, cl, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	grantCacheReader(t, cl)
	_, gw := tlsGateway(t, "--list-cache", "--cache-wait", "2s", "--cluster", "cut="+kubeconfig)
	cs, err := cl.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	const ns = "cut"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	writeLoad(t, cs, 100)
	admin := want(t, call(t, "POST", gw+"/api/v1/cube/login", "", map[string]string{"name": "admin", "password": adminPassword}), 200).JSON(t)["token"].(string)
	list := func() (names []string, code int, source string) {
		names, code, _, source = listNames(t, gw, admin, "cut", ns)
		return names, code, source
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, code, source := list(); code == 200 && source == "cache" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the cache never answered")
		}
	}

	var writes directWrites
	wctx, stopWrites := context.WithCancel(ctx)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for i := 0; wctx.Err() == nil; i++ {
			name := fmt.Sprintf("direct-%04d", i)
			_, err := cs.CoreV1().ConfigMaps(ns).Create(wctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
			if err == nil {
				writes.mu.Lock()
				writes.done = append(writes.done, acked{name, time.Now()})
				writes.mu.Unlock()
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	defer func() { stopWrites(); <-writerDone }()

	// check lists once and holds the answer to the bound; it returns where the
	// answer came from ("" for an error).
	check := func() (source string, start time.Time) {
		t.Helper()
		start = time.Now()
		names, code, source := list()
		if code != 200 {
			return "", start
		}
		must := writes.before(start.Add(-cacheStaleness))
		if source != "cache" {
			must = writes.before(start)
		}
		for _, n := range must {
			if !slices.Contains(names, n) {
				t.Fatalf("an answer from the %s at %s misses %s, written before the bound", source, start.Format("15:04:05.000"), n)
			}
		}
		return source, start
	}
	sources := func(d time.Duration) map[string]int {
		seen := map[string]int{}
		for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			source, _ := check()
			seen[source]++
		}
		return seen
	}
	t.Logf("before the cut: %v", sources(3*time.Second))

	const healthy = `kubegate_list_cache_watch_healthy{cluster="cut",collection="/api/v1/configmaps"}`
	if v := metricAt(t, gw, healthy); v != 1 {
		t.Fatalf("before the cut %s = %v, want 1", healthy, v)
	}
	if err := cl.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	during := map[string]int{}
	for time.Since(stopped) < 6*time.Second {
		source, asked := check()
		if source == "cache" && asked.Sub(stopped) > time.Second {
			t.Fatalf("the cache answered a list asked %s after the apiserver stopped", asked.Sub(stopped).Round(time.Millisecond))
		}
		during[source]++
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("while the apiserver was down: %v", during)
	if v := metricAt(t, gw, healthy); v != 0 {
		t.Fatalf("while the apiserver was down %s = %v, want 0", healthy, v)
	}
	if during[""] == 0 {
		t.Fatal("no request failed while the apiserver was down: the test did not cut anything")
	}
	sctx, scancel := context.WithTimeout(ctx, time.Minute)
	defer scancel()
	if err := cl.StartAPIServer(sctx); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	after := map[string]int{}
	for after["cache"] < 20 {
		if time.Since(restarted) > 45*time.Second {
			t.Fatalf("the cache did not answer again within 45 s of the restart: %v", after)
		}
		source, _ := check()
		after[source]++
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("after the restart, until 20 answers came from the cache (%s): %v", time.Since(restarted).Round(time.Millisecond), after)
	if v := metricAt(t, gw, healthy); v != 1 {
		t.Fatalf("after the restart %s = %v, want 1", healthy, v)
	}
	if n := len(writes.before(time.Now())); n < 20 {
		t.Fatalf("only %d direct writes were acknowledged", n)
	}
}
