package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubegate/kubegate/demo"
	"github.com/kubegate/kubegate/kubeenv"
	"github.com/kubegate/kubegate/kubeproxy"
	"github.com/kubegate/kubegate/test/writeload"
)

// cachedGateway starts a gateway with --list-cache in front of the shared
// clusters, whose identity may also list and watch (what the cache needs; the
// shared gateway may only impersonate).
func cachedGateway(t *testing.T) string {
	t.Helper()
	grantCacheReader(t)
	_, url := tlsGateway(t, append([]string{"--list-cache", "--cache-wait", "2s"}, shared.clusterArgs...)...)
	return url
}

// grantCacheReader lets the gateway list and watch what the cache tests cache,
// in every shared cluster, or in those given.
func grantCacheReader(t *testing.T, clusters ...*kubeenv.Cluster) {
	t.Helper()
	if len(clusters) == 0 {
		clusters = shared.clusters
	}
	for _, c := range clusters {
		cs, err := c.Clientset()
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		_, err = cs.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
			ObjectMeta: metav1.ObjectMeta{Name: "kubegate-cache-reader"},
			Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps", "namespaces", "serviceaccounts"}, Verbs: []string{"list", "watch"}}},
		}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
		_, err = cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "kubegate-cache-reader"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "kubegate-cache-reader"},
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: demo.GatewayUser}},
		}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
}

// listNames lists configmaps of ns through the gateway with list parameters;
// source says where the answer came from (cache or cluster).
func listNames(t *testing.T, url, token, cluster, ns string) (names []string, code int, body, source string) {
	t.Helper()
	r := call(t, "GET", url+"/api/v1/cube/proxy/clusters/"+cluster+"/api/v1/namespaces/"+ns+"/configmaps?pageSize=0&sortName=metadata.name", token, nil)
	source = r.Header.Get(kubeproxy.ListSourceHeader)
	if r.Code != 200 {
		return nil, r.Code, string(r.Body), source
	}
	var l struct {
		Kind  string
		Items []metav1.PartialObjectMetadata
		Total int
	}
	if err := json.Unmarshal(r.Body, &l); err != nil || l.Kind != "ConfigMapList" || l.Total != len(l.Items) {
		t.Fatalf("list: %v %s", err, r.Body)
	}
	for _, it := range l.Items {
		names = append(names, it.Name)
	}
	return names, 200, "", source
}

// writeAndList creates n configmaps prefix-NN in ns through the gateway at url,
// deleting the oldest after every deleteEvery-th, and after each write checks
// that a list query shows exactly what lives (read-your-writes). It returns what
// lives and how many of the lists the cache answered.
func writeAndList(t *testing.T, url, token, cluster, ns, prefix string, n, deleteEvery int) (live []string, fromCache int) {
	t.Helper()
	base := url + "/api/v1/cube/proxy/clusters/" + cluster + "/api/v1/namespaces/" + ns + "/configmaps"
	for i := range n {
		name := fmt.Sprintf("%s-%02d", prefix, i)
		want(t, call(t, "POST", base, token, map[string]any{"metadata": map[string]string{"name": name}}), 201)
		live = append(live, name)
		if i%deleteEvery == deleteEvery-1 {
			want(t, call(t, "DELETE", base+"/"+live[0], token, nil), 200)
			live = live[1:]
		}
		got, code, body, source := listNames(t, url, token, cluster, ns)
		if code != 200 || strings.Join(got, ",") != strings.Join(live, ",") {
			t.Fatalf("after write %d the list shows %v (%d %s), want %v", i, got, code, body, live)
		}
		if source == "cache" {
			fromCache++
		}
	}
	return live, fromCache
}

func mustUint(t *testing.T, s string) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// With --list-cache, a list query through the gateway right after a write shows
// the write (read-your-writes) and never a deleted object; RBAC still decides —
// a user who may not list gets the cluster's 403 however warm the cache is, and
// a user allowed one namespace lists it and is refused elsewhere.
func TestListCacheReadsYourWritesAndKeepsRBAC(t *testing.T) {
	url := cachedGateway(t)
	loginAt := func(name, password string) string {
		return want(t, call(t, "POST", url+"/api/v1/cube/login", "", map[string]string{"name": name, "password": password}), 200).JSON(t)["token"].(string)
	}
	admin := loginAt("admin", adminPassword)
	newUserAt := func(name string) string {
		want(t, call(t, "POST", url+"/api/v1/cube/users", admin, map[string]any{"name": name, "password": name + "-password"}), 201)
		return loginAt(name, name+"-password")
	}
	cl := shared.clusters[0]
	ns := "cache-ryw"
	want(t, call(t, "POST", url+"/api/v1/cube/proxy/clusters/"+cl.Name+"/api/v1/namespaces", admin, map[string]any{"metadata": map[string]string{"name": ns}}), 201)
	base := url + "/api/v1/cube/proxy/clusters/" + cl.Name + "/api/v1/namespaces/" + ns + "/configmaps"
	live, hits := writeAndList(t, url, admin, cl.Name, ns, "cm", 15, 3)
	// Most from the cache: a write elsewhere in the cluster (the apiserver's own
	// lease) between ours and the list can leave the cache short of the cluster's
	// resource version until a bookmark, and then the cluster answers.
	if hits < 10 {
		t.Errorf("%d of 15 lists came from the cache", hits)
	}
	if got := metricAt(t, url, `kubegate_list_queries_total{source="cache"}`); got != float64(hits) {
		t.Errorf("metrics count %v lists from the cache, the responses said %d", got, hits)
	}
	if got := metricAt(t, url, "kubegate_list_cache_objects"); got < float64(len(live)) {
		t.Errorf("metrics count %v cached objects, want at least %d", got, len(live))
	}

	// DCE's kpanda lists use the cache too, each object in the dialect's item
	// shape, and answer as the cluster path does.
	before := metricAt(t, url, `kubegate_list_queries_total{source="cache"}`)
	kp := "/apis/kpanda.io/v1alpha1/clusters/" + cl.Name + "/gvr/core/v1/namespaces/" + ns + "/configmaps?pageSize=3&sortBy=field_name&sortDir=desc"
	adminShared := login(t, "admin", adminPassword)
	fromCache := want(t, call(t, "GET", url+kp, admin, nil), 200).JSON(t)
	fromCluster := want(t, call(t, "GET", shared.url+kp, adminShared, nil), 200).JSON(t)
	if items, _ := fromCache["items"].([]any); len(items) != 3 {
		t.Fatalf("a kpanda page of 3 from the cache: %v", fromCache)
	}
	if fmt.Sprint(fromCache["items"]) != fmt.Sprint(fromCluster["items"]) || fmt.Sprint(fromCache["pagination"]) != fmt.Sprint(fromCluster["pagination"]) {
		t.Fatalf("a kpanda list from the cache:\n%v\nfrom the cluster:\n%v", fromCache, fromCluster)
	}
	if got := metricAt(t, url, `kubegate_list_queries_total{source="cache"}`); got != before+1 {
		body := string(want(t, call(t, "GET", url+"/metrics", "", nil), 200).Body)
		var lines []string
		for _, l := range strings.Split(body, "\n") {
			if strings.HasPrefix(l, "kubegate_list_") {
				lines = append(lines, l)
			}
		}
		t.Errorf("the kpanda list was not answered from the cache (%v cache answers, %v before):\n%s", got, before, strings.Join(lines, "\n"))
	}

	// A write elsewhere in the cluster moves its resource version past the
	// cache's, which the collection's watch never hears of: the cache asks for a
	// bookmark and answers again within seconds.
	want(t, call(t, "POST", url+"/api/v1/cube/proxy/clusters/"+cl.Name+"/api/v1/namespaces/"+ns+"/serviceaccounts", admin, map[string]any{"metadata": map[string]string{"name": "elsewhere"}}), 201)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		got, code, body, source := listNames(t, url, admin, cl.Name, ns)
		if code != 200 || strings.Join(got, ",") != strings.Join(live, ",") {
			t.Fatalf("after a write elsewhere the list shows %v (%d %s), want %v", got, code, body, live)
		}
		if source == "cache" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("after a write elsewhere the cache never answered again")
		}
	}

	// resourceVersion=N: an answer not older than N, from the cache once it holds
	// N — a script's read of its own write, without a consistent read.
	created := want(t, call(t, "POST", base, admin, map[string]any{"metadata": map[string]string{"name": "cm-rv"}}), 201).JSON(t)
	rv := created["metadata"].(map[string]any)["resourceVersion"].(string)
	r := want(t, call(t, "GET", base+"?pageSize=0&sortName=metadata.name&resourceVersion="+rv, admin, nil), 200)
	var atRV struct {
		Metadata struct{ ResourceVersion string }
		Items    []metav1.PartialObjectMetadata
	}
	if err := json.Unmarshal(r.Body, &atRV); err != nil {
		t.Fatal(err)
	}
	if n := len(atRV.Items); n == 0 || atRV.Items[n-1].Name != "cm-rv" || r.Header.Get(kubeproxy.ListSourceHeader) != "cache" {
		t.Fatalf("a list not older than the create of cm-rv (%s, from %s): %s", rv, r.Header.Get(kubeproxy.ListSourceHeader), r.Body)
	}
	if got, _ := strconv.ParseUint(atRV.Metadata.ResourceVersion, 10, 64); got < mustUint(t, rv) {
		t.Fatalf("the answer reflects %s, older than the %s asked for", atRV.Metadata.ResourceVersion, rv)
	}
	want(t, call(t, "DELETE", base+"/cm-rv", admin, nil), 200)
	// An exact version is the cluster's to answer.
	r = want(t, call(t, "GET", base+"?pageSize=1&resourceVersion="+rv+"&resourceVersionMatch=Exact", admin, nil), 200)
	if src := r.Header.Get(kubeproxy.ListSourceHeader); src != "cluster" {
		t.Fatalf("an exact resourceVersion answered from %q", src)
	}

	// A user with no RBAC in the cluster: the cluster's 403, warm cache or not.
	nobody := newUserAt("cache-nobody")
	if _, code, body, _ := listNames(t, url, nobody, cl.Name, ns); code != 403 || !strings.Contains(body, "forbidden") {
		t.Fatalf("a user without list permission: %d %s", code, body)
	}

	// A user allowed this namespace only.
	reader := newUserAt("cache-reader")
	cs, err := cl.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := cs.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "configmap-reader"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list", "watch"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "reader"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "configmap-reader"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "cache-reader"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, code, _, _ := listNames(t, url, reader, cl.Name, ns)
		if code == 200 {
			if strings.Join(got, ",") != strings.Join(live, ",") {
				t.Fatalf("the reader's list: %v, want %v", got, live)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the RoleBinding never let the reader list: %d", code)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, code, _, _ := listNames(t, url, reader, cl.Name, "default"); code != 403 {
		t.Fatalf("the reader in another namespace: %d, want 403", code)
	}
	r = call(t, "GET", url+"/api/v1/cube/proxy/clusters/"+cl.Name+"/api/v1/configmaps?pageSize=5", reader, nil)
	if r.Code != 403 {
		t.Fatalf("the reader's cluster-wide list: %d, want 403", r.Code)
	}
	// The binding removed: refused within the 5 s the gateway reuses an RBAC answer.
	if err := cs.RbacV1().RoleBindings(ns).Delete(ctx, "reader", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		if _, code, _, _ := listNames(t, url, reader, cl.Name, ns); code == 403 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the removed RoleBinding still lets the reader list")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// writeLoad writes a Lease in another namespace about perSecond times a second
// until the test ends: what node heartbeats and leader elections do to a real
// cluster, raising its resource version with no event on the cached collection.
func writeLoad(t *testing.T, cs kubernetes.Interface, perSecond int) {
	t.Helper()
	w, err := writeload.Start(cs, "default", "load-"+strings.ToLower(t.Name()), perSecond, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Stop() })
}

// Under write load elsewhere in the cluster the cache still answers (its watch
// is healthy), every write through the gateway is in the next list, a write made
// directly on the cluster shows within the staleness bound, and consistency=strict
// answers what the cluster holds at once.
func TestListCacheFreshnessUnderWriteLoad(t *testing.T) {
	url := cachedGateway(t)
	admin := want(t, call(t, "POST", url+"/api/v1/cube/login", "", map[string]string{"name": "admin", "password": adminPassword}), 200).JSON(t)["token"].(string)
	cl := shared.clusters[0]
	cs, err := cl.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	writeLoad(t, cs, 100)
	ns := "cache-load"
	want(t, call(t, "POST", url+"/api/v1/cube/proxy/clusters/"+cl.Name+"/api/v1/namespaces", admin, map[string]any{"metadata": map[string]string{"name": ns}}), 201)
	base := url + "/api/v1/cube/proxy/clusters/" + cl.Name + "/api/v1/namespaces/" + ns + "/configmaps"
	listNames(t, url, admin, cl.Name, ns) // starts the collection

	live, hits := writeAndList(t, url, admin, cl.Name, ns, "gw", 20, 4)
	if hits < 18 {
		t.Errorf("under write load %d of 20 lists came from the cache", hits)
	}

	// Service accounts answer a delete with the object at the deletion's version
	// (configmaps with a Status): both are waited for.
	sas := url + "/api/v1/cube/proxy/clusters/" + cl.Name + "/api/v1/namespaces/" + ns + "/serviceaccounts"
	call(t, "GET", sas+"?pageSize=0", admin, nil) // starts the collection
	for i := range 6 {
		name := fmt.Sprintf("sa-%d", i)
		want(t, call(t, "POST", sas, admin, map[string]any{"metadata": map[string]string{"name": name}}), 201)
		if r := want(t, call(t, "GET", sas+"?pageSize=0", admin, nil), 200); !strings.Contains(string(r.Body), `"name":"`+name+`"`) {
			t.Fatalf("a list right after creating %s lacks it: %s", name, r.Body)
		}
		want(t, call(t, "DELETE", sas+"/"+name, admin, nil), 200)
		if r := want(t, call(t, "GET", sas+"?pageSize=0", admin, nil), 200); strings.Contains(string(r.Body), `"name":"`+name+`"`) {
			t.Fatalf("a list right after deleting %s (from %s) still shows it", name, r.Header.Get(kubeproxy.ListSourceHeader))
		}
	}

	// Directly on the cluster: strict sees it at once; the default form within
	// the bound (5 s), and from the cache.
	for i := range 5 {
		name := fmt.Sprintf("direct-%d", i)
		if _, err := cs.CoreV1().ConfigMaps(ns).Create(context.Background(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		live = append(live, name)
		r := want(t, call(t, "GET", base+"?pageSize=0&sortName=metadata.name&consistency=strict", admin, nil), 200)
		if !strings.Contains(string(r.Body), `"name":"`+name+`"`) {
			t.Fatalf("a strict list right after a direct write lacks %s (from %s)", name, r.Header.Get(kubeproxy.ListSourceHeader))
		}
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			got, _, _, source := listNames(t, url, admin, cl.Name, ns)
			if strings.Contains(strings.Join(got, ","), name) && source == "cache" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("a direct write was not visible from the cache within the bound: %v", got)
			}
		}
	}
	r := call(t, "GET", base+"?pageSize=0&consistency=fresh", admin, nil)
	if r.Code != 400 || !strings.Contains(string(r.Body), "consistency") {
		t.Fatalf("an unknown consistency: %d %s", r.Code, r.Body)
	}
}
