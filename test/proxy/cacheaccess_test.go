package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubegate/kubegate/demo"
	"github.com/kubegate/kubegate/kubeproxy"
)

// The list cache is on by default, and caches what the gateway may list and
// watch. Where the gateway may only impersonate, lists are answered by the
// cluster, correctly, and the gateway says why once — one log line, the
// cluster's API, a metric — not once per query. Granted the access in the
// cluster, the same query is answered from the cache within 30 s, without a
// restart. Secrets are never cached, even when the gateway may read them.
func TestCacheOnlyWhereTheGatewayMayWatch(t *testing.T) {
	ctx := context.Background()
	cl := shared.clusters[0]
	cs, err := cl.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	p, gw := tlsGateway(t, shared.clusterArgs...) // the list cache on, by default
	const ns = "cache-access"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	var quotas []string
	for i := range 5 {
		name := fmt.Sprintf("quota-%d", i)
		quotas = append(quotas, name)
		if _, err := cs.CoreV1().ResourceQuotas(ns).Create(ctx, &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	admin := want(t, call(t, "POST", gw+"/api/v1/cube/login", "", map[string]string{"name": "admin", "password": adminPassword}), 200).JSON(t)["token"].(string)
	list := func() (names []string, source string) {
		r := want(t, call(t, "GET", gw+"/api/v1/cube/proxy/clusters/"+cl.Name+"/api/v1/namespaces/"+ns+"/resourcequotas?pageSize=0&sortName=metadata.name", admin, nil), 200)
		var body struct {
			Items []struct{ Metadata struct{ Name string } }
		}
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Fatal(err)
		}
		for _, it := range body.Items {
			names = append(names, it.Metadata.Name)
		}
		return names, r.Header.Get(kubeproxy.ListSourceHeader)
	}
	for range 20 {
		names, source := list()
		if strings.Join(names, ",") != strings.Join(quotas, ",") || source != "cluster" {
			t.Fatalf("refused the cache: %v from %q, want %v from the cluster", names, source, quotas)
		}
	}
	const collection = "/api/v1/resourcequotas"
	if n := strings.Count(p.Output(), `"msg":"not caching a collection`); n != 1 || !strings.Contains(p.Output(), `"collection":"`+collection+`"`) {
		t.Fatalf("%d log lines say why the cache is off, want 1 after 20 queries:\n%s", n, p.Output())
	}
	info := want(t, call(t, "GET", gw+"/api/v1/cube/clusters/"+cl.Name, admin, nil), 200).JSON(t)
	lc := info["listCache"].(map[string]any)
	refused, _ := lc["refused"].([]any)
	if lc["enabled"] != true || len(refused) != 1 || refused[0].(map[string]any)["collection"] != collection ||
		!strings.Contains(refused[0].(map[string]any)["reason"].(string), "may not list or watch resourcequotas") {
		t.Fatalf("the cluster's listCache: %v", lc)
	}
	series := `kubegate_list_cache_refused{cluster="` + cl.Name + `",collection="` + collection + `"}`
	if v := metricAt(t, gw, series); v != 1 {
		t.Fatalf("%s = %v, want 1", series, v)
	}

	// Granted in the cluster: the cache takes over.
	grant(t, cs, "kubegate-test-cache-quotas", rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"resourcequotas", "secrets"}, Verbs: []string{"list", "watch"}})
	granted := time.Now()
	for {
		names, source := list()
		if source == "cache" {
			if strings.Join(names, ",") != strings.Join(quotas, ",") {
				t.Fatalf("the cache answered %v, want %v", names, quotas)
			}
			break
		}
		if time.Since(granted) > 30*time.Second {
			t.Fatal("granted read access, the gateway still did not cache the collection after 30 s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("the cache answered %s after the grant", time.Since(granted).Round(100*time.Millisecond))
	if v := metricAt(t, gw, series); v != 0 {
		t.Fatalf("after the grant %s = %v, want 0", series, v)
	}

	// Secrets: the gateway may read them now, and still never caches them.
	objects := metricAt(t, gw, "kubegate_list_cache_objects")
	for range 5 {
		r := want(t, call(t, "GET", gw+"/api/v1/cube/proxy/clusters/"+cl.Name+"/api/v1/namespaces/"+ns+"/secrets?selector=metadata.name~x&pageSize=5", admin, nil), 200)
		if src := r.Header.Get(kubeproxy.ListSourceHeader); src == "cache" {
			t.Fatal("a Secrets list was answered from the cache")
		}
	}
	if after := metricAt(t, gw, "kubegate_list_cache_objects"); after != objects {
		t.Fatalf("listing Secrets moved kubegate_list_cache_objects from %v to %v", objects, after)
	}
	if c := strings.Count(p.Output(), `"collection":"/api/v1/secrets"`); c != 0 {
		t.Fatalf("the gateway considered caching Secrets:\n%s", p.Output())
	}
}

// grant lets the gateway's identity in cs do what rule says, until the test ends.
func grant(t *testing.T, cs kubernetes.Interface, name string, rule rbacv1.PolicyRule) {
	t.Helper()
	ctx := context.Background()
	if _, err := cs.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: []rbacv1.PolicyRule{rule}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: demo.GatewayUser}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cs.RbacV1().ClusterRoleBindings().Delete(context.Background(), name, metav1.DeleteOptions{})
		_ = cs.RbacV1().ClusterRoles().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
}
