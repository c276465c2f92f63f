package listcache_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/cluster"
	"github.com/kubegate/kubegate/listcache"
)

// registry is a fake cluster registry the test edits: as the real one, it ends
// a member's context when the cluster is registered again or removed.
type registry struct {
	mu      sync.Mutex
	members map[string]*cluster.Member
	ends    map[*cluster.Member]context.CancelFunc
}

// newRegistry registers a (as a member of its own).
func newRegistry(a **cluster.Member) *registry {
	r := &registry{members: map[string]*cluster.Member{}, ends: map[*cluster.Member]context.CancelFunc{}}
	*a = r.register(*a)
	return r
}

func (r *registry) Member(name string) (*cluster.Member, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t, ok := r.members[name]; ok {
		return t, nil
	}
	return nil, kubegate.Errorf(kubegate.ENotFound, "cluster %q not found", name)
}

// register registers like's cluster again, as a new member, ending the old one.
func (r *registry) register(like *cluster.Member) *cluster.Member {
	ctx, end := context.WithCancel(context.Background())
	m := cluster.NewMember(ctx, like.Name, like.Server, like.Transport, like.Upgrade)
	r.remove(like.Name)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.members[m.Name], r.ends[m] = m, end
	return m
}

// remove removes the cluster called name, ending its member.
func (r *registry) remove(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.members[name]; ok {
		r.ends[old]()
		delete(r.ends, old)
		delete(r.members, name)
	}
}

// started asks c for the collection path of a until it hands it out: Run has
// started, and the collection is served.
func started(t *testing.T, c *listcache.Cache, a *cluster.Member, path string) *listcache.Collection {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if coll := c.Collection(a, path); coll != nil {
			return coll
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not start", path)
		}
	}
}

// Collections start on first use and are shared; a sweep drops those idle too
// long, those of a cluster removed or registered again, and — over the memory
// limit — the least recently used; a stopped cache starts none.
func TestCacheStartsSharesAndDropsCollections(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	now := time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)
	var clockMu sync.Mutex
	clock := func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return now }
	advance := func(d time.Duration) { clockMu.Lock(); now = now.Add(d); clockMu.Unlock() }

	a := target(t)
	reg := newRegistry(&a)
	c := listcache.NewCache(listcache.CacheOptions{Members: reg, IdleTimeout: time.Minute, SweepInterval: time.Hour, Now: clock})
	if c.Collection(a, "/api/v1/configmaps") != nil {
		t.Fatal("a cache that is not running started a collection")
	}
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	first := started(t, c, a, "/api/v1/configmaps")
	if c.Collection(a, "/api/v1/configmaps") != first || c.Len() != 1 {
		t.Fatal("a second query did not share the collection")
	}
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := first.WaitFor(wctx, 0); err != nil {
		t.Fatal(err)
	}

	// Idle: dropped by the sweep after the idle timeout, not before.
	c.Collection(a, "/api/v1/namespaces")
	advance(50 * time.Second)
	c.Collection(a, "/api/v1/configmaps")
	advance(20 * time.Second)
	c.Sweep()
	if c.Len() != 1 {
		t.Fatalf("after one idle minute: %d collections, want the one still used", c.Len())
	}

	// Registered again (new credentials): a new collection on next use.
	b := reg.register(a)
	c.Sweep()
	if c.Len() != 0 {
		t.Fatalf("after the cluster changed: %d collections", c.Len())
	}
	if c.Collection(b, "/api/v1/configmaps") == first {
		t.Fatal("the changed cluster's collection was reused")
	}

	// Removed: dropped.
	reg.remove(a.Name)
	c.Sweep()
	if c.Len() != 0 {
		t.Fatalf("after the cluster was removed: %d collections", c.Len())
	}
	cancel()
	<-done
	if c.Len() != 0 || c.Collection(b, "/api/v1/configmaps") != nil {
		t.Fatal("a stopped cache holds or starts collections")
	}
}

// A collection larger than the memory limit gives up while listing; one that
// outgrows it is dropped by the sweep and not started again for a while, so a
// collection that cannot fit is not listed on every query.
func TestCacheMemoryLimit(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := target(t)
	reg := newRegistry(&a)
	tiny := listcache.NewCache(listcache.CacheOptions{Members: reg, MemoryLimit: 1, SweepInterval: time.Hour})
	go tiny.Run(ctx)
	coll := started(t, tiny, a, "/api/v1/namespaces")
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := coll.WaitFor(wctx, 0); !errors.Is(err, listcache.ErrUncachable) {
		t.Fatalf("a collection over the limit: %v, want ErrUncachable", err)
	}
	if !coll.GaveUp() || tiny.Collection(a, "/api/v1/namespaces") != nil {
		t.Fatal("a collection that cannot fit is offered again")
	}
	if tiny.Len() != 0 {
		t.Fatal("a collection that gave up still holds a slot")
	}

	// Outgrowing the limit: dropped, and resting until the idle timeout.
	now := time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)
	var clockMu sync.Mutex
	clock := func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return now }
	probe := listcache.NewCache(listcache.CacheOptions{Members: reg, SweepInterval: time.Hour})
	go probe.Run(ctx)
	coll = started(t, probe, a, "/api/v1/namespaces")
	if err := coll.WaitFor(wctx, 0); err != nil {
		t.Fatal(err)
	}
	_, size := coll.Stats()
	c := listcache.NewCache(listcache.CacheOptions{Members: reg, MemoryLimit: size + 2000, SweepInterval: time.Hour, IdleTimeout: time.Minute, Now: clock})
	go c.Run(ctx)
	coll = started(t, c, a, "/api/v1/namespaces")
	if err := coll.WaitFor(wctx, 0); err != nil {
		t.Fatal(err)
	}
	namespaces(t, clientset(t), "grow", 12) // about 4 kB more than fits
	for _, grown := coll.Stats(); grown <= size+2000; _, grown = coll.Stats() {
		time.Sleep(20 * time.Millisecond)
	}
	c.Sweep()
	if c.Len() != 0 || c.Collection(a, "/api/v1/namespaces") != nil {
		t.Fatal("a collection over the limit was kept or started again at once")
	}
	clockMu.Lock()
	now = now.Add(2 * time.Minute)
	clockMu.Unlock()
	if c.Collection(a, "/api/v1/namespaces") == nil {
		t.Fatal("the collection was not started again after resting")
	}
}

// Only what the cluster's discovery lists as listable and watchable is started:
// made-up versions, groups and resources, and subresources, which the caller's
// RBAC does not tell from real ones, take no slot from other users' queries.
func TestCacheStartsOnlyWhatTheClusterServes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := target(t)
	reg := newRegistry(&a)
	c := listcache.NewCache(listcache.CacheOptions{Members: reg, MaxCollections: 2, SweepInterval: time.Hour})
	go c.Run(ctx)
	started(t, c, a, "/api/v1/configmaps")
	for _, p := range []string{
		"/api/v7/configmaps", "/apis/made.up/v1/widgets", "/api/v1/no-such-things", "/apis/apps/v1beta9/deployments",
		"/api/v1/componentstatuses", // listable, not watchable
		"/api/v1/pods/log",
		"/api/v1/secrets", // never cached, though this gateway may read them
	} {
		for range 3 {
			if coll := c.Collection(a, p); coll != nil {
				t.Fatalf("%s was started", p)
			}
		}
	}
	if c.Len() != 1 {
		t.Fatalf("%d collections, want the one served", c.Len())
	}
	if c.Collection(a, "/apis/apps/v1/deployments") == nil {
		t.Fatal("the last slot was taken by what the cluster does not serve")
	}
}

// counting counts the requests to path it carries.
type counting struct {
	base http.RoundTripper
	path string
	n    atomic.Int32
}

func (c *counting) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Path == c.path {
		c.n.Add(1)
	}
	return c.base.RoundTrip(req)
}

// The gateway's own identity decides what is cached: a collection it may not
// list and watch is not started (its refusal is reported, once asked), and once
// it is granted the access, the refusal is asked again after at most 15 s and
// the collection starts, without a restart.
func TestCacheStartsOnlyWhatTheGatewayMayWatch(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	now := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	var clockMu sync.Mutex
	clock := func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return now }
	advance := func(d time.Duration) { clockMu.Lock(); now = now.Add(d); clockMu.Unlock() }

	cfg, err := testCluster.UserConfig("cache-refused-gateway")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := rest.TransportFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	reviews := &counting{base: tr, path: "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"}
	a := target(t)
	a.Transport = reviews
	reg := newRegistry(&a)
	c := listcache.NewCache(listcache.CacheOptions{Members: reg, SweepInterval: time.Hour, Now: clock})
	go c.Run(ctx)
	for deadline := time.Now().Add(10 * time.Second); len(c.Refusals()) == 0; time.Sleep(10 * time.Millisecond) {
		if c.Collection(a, "/api/v1/configmaps") != nil {
			t.Fatal("a collection the gateway may not watch was started")
		}
		if time.Now().After(deadline) {
			t.Fatal("the cache never asked whether it may watch") // Run did not start
		}
	}
	asked := reviews.n.Load()
	for range 5 {
		if c.Collection(a, "/api/v1/configmaps") != nil {
			t.Fatal("a collection the gateway may not watch was started")
		}
	}
	if n := reviews.n.Load(); n != asked {
		t.Fatalf("%d more access reviews for 5 more queries within the refusal's 15 s, want none", n-asked)
	}
	refusals := c.Refusals()
	if len(refusals) != 1 || refusals[0].Path != "/api/v1/configmaps" || !strings.Contains(refusals[0].Reason, "may not list or watch configmaps") {
		t.Fatalf("refusals: %+v", refusals)
	}

	cs := clientset(t)
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "cache-refused-gateway"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"list", "watch"}}}}
	if _, err := cs.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "cache-refused-gateway"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "cache-refused-gateway"}}}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cs.RbacV1().ClusterRoleBindings().Delete(context.Background(), binding.Name, metav1.DeleteOptions{})
		_ = cs.RbacV1().ClusterRoles().Delete(context.Background(), role.Name, metav1.DeleteOptions{})
	})
	if c.Collection(a, "/api/v1/configmaps") != nil {
		t.Fatal("a refusal was asked again before its time")
	}
	// Each refusal is trusted 15 s; the apiserver's RBAC takes a moment to see
	// the binding, so it may refuse once more.
	var coll *listcache.Collection
	for deadline := time.Now().Add(10 * time.Second); coll == nil; time.Sleep(100 * time.Millisecond) {
		advance(15 * time.Second)
		if coll = c.Collection(a, "/api/v1/configmaps"); coll == nil && time.Now().After(deadline) {
			t.Fatal("granted, the collection did not start")
		}
	}
	if err := coll.WaitFor(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if r := c.Refusals(); len(r) != 0 {
		t.Fatalf("refusals after the grant: %+v", r)
	}
}
