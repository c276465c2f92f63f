package listcache_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubegate/kubegate/listcache"
)

// The freshness protocol, without the proxy: what a collection answers at once,
// what it waits for, and when it sends the query to the cluster instead — against
// a real apiserver, with the cache's own watch.
func TestFreshnessProtocol(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cs := clientset(t)
	ns := namespaces(t, cs, "fresh", 1)[0]
	cms := cs.CoreV1().ConfigMaps(ns)
	c := listcache.Start(ctx, target(t), "/api/v1/configmaps", listcache.Options{Heartbeat: true})
	policy := listcache.Policy{Staleness: 5 * time.Second, Wait: 2 * time.Second}
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := c.WaitFor(wctx, 0); err != nil {
		t.Fatal(err)
	}
	create := func(name string) uint64 {
		t.Helper()
		cm, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return mustRV(t, cm.ResourceVersion)
	}
	await := func(d listcache.Demand, p listcache.Policy) (listcache.Freshness, uint64, bool) {
		t.Helper()
		actx, acancel := context.WithTimeout(ctx, 10*time.Second)
		defer acancel()
		return c.Await(actx, d, p)
	}
	holds := func(name string) bool {
		objs, _ := c.Snapshot(ns)
		for _, o := range objs {
			if o.Name == name {
				return true
			}
		}
		return false
	}

	t.Run("a healthy watch answers at once", func(t *testing.T) {
		if path, _, ok := await(listcache.Demand{}, policy); !ok || path != listcache.FreshWatch {
			t.Fatalf("default demand on a healthy watch: %s %v, want watch", path, ok)
		}
		if path, _, ok := await(listcache.Demand{Version: "0"}, policy); !ok || path != listcache.FreshWatch {
			t.Fatalf("resourceVersion=0: %s %v, want watch", path, ok)
		}
	})

	t.Run("a write the gateway carried is waited for", func(t *testing.T) {
		rv := create("written")
		path, want, ok := await(listcache.Demand{Written: rv, Namespace: ns}, policy)
		if !ok || want < rv || !holds("written") || c.ResourceVersion() < rv {
			t.Fatalf("after a write at %d: %s %d %v, cache at %d", rv, path, want, ok, c.ResourceVersion())
		}
	})

	t.Run("strict reaches the cluster's version when asked", func(t *testing.T) {
		rv := create("strict")
		path, want, ok := await(listcache.Demand{Strict: true}, policy)
		if !ok || path != listcache.FreshWaited || want < rv || !holds("strict") {
			t.Fatalf("strict after a write at %d: %s %d %v", rv, path, want, ok)
		}
	})

	t.Run("a version N is held before the answer", func(t *testing.T) {
		rv := create("at-n")
		path, want, ok := await(listcache.Demand{Version: strconv.FormatUint(rv, 10)}, policy)
		if !ok || want != rv || !holds("at-n") {
			t.Fatalf("resourceVersion=%d: %s %d %v", rv, path, want, ok)
		}
	})

	t.Run("a version from the future is the cluster's to refuse", func(t *testing.T) {
		future := fmt.Sprint(c.ResourceVersion() + 1_000_000)
		if path, _, ok := await(listcache.Demand{Version: future}, policy); ok || path != listcache.FreshBehind {
			t.Fatalf("resourceVersion=%s: %s %v, want behind", future, path, ok)
		}
	})

	t.Run("a delete the gateway carried is waited for", func(t *testing.T) {
		rv := create("deleted")
		if err := cms.Delete(ctx, "deleted", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		gone := []listcache.Gone{{Namespace: ns, Name: "deleted", ResourceVersion: rv}}
		if path, _, ok := await(listcache.Demand{Gone: gone}, policy); !ok || holds("deleted") {
			t.Fatalf("after a delete: %s %v, the cache holds it: %v", path, ok, holds("deleted"))
		}
	})

	t.Run("a watch not heard from within the bound sends the list to the cluster", func(t *testing.T) {
		tight := listcache.Policy{Staleness: time.Nanosecond, Wait: 10 * time.Millisecond}
		if path, _, ok := await(listcache.Demand{}, tight); ok || path != listcache.FreshUnhealthy {
			t.Fatalf("a watch older than the bound: %s %v, want unhealthy", path, ok)
		}
	})
}
