package proxy

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Clusters come and go without disturbing the others: while lists run on the
// first cluster, a third cluster is registered and the second is registered
// again; the first cluster's cache stays warm (it lists nothing again, and keeps
// answering), while the second's old registration ends (its collection goes, and
// the new registration lists it afresh).
func TestRegisteringClustersLeavesTheOthersCachesWarm(t *testing.T) {
	gw := cachedGateway(t)
	admin := want(t, call(t, "POST", gw+"/api/v1/cube/login", "", map[string]string{"name": "admin", "password": adminPassword}), 200).JSON(t)["token"].(string)
	first, second := shared.clusters[0], shared.clusters[1]
	ctx := context.Background()
	const ns = "lifecycle"
	for _, c := range shared.clusters {
		cs, err := c.Clientset()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	fromCache := func(cluster string) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if names, code, _, source := listNames(t, gw, admin, cluster, ns); code == 200 && source == "cache" && len(names) == 1 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the cache never answered for %s", cluster)
			}
		}
	}
	lists := func(cluster string) float64 {
		return metricAt(t, gw, `kubegate_list_cache_lists_total{cluster="`+cluster+`"}`)
	}
	fromCache(first.Name)
	fromCache(second.Name)
	firstLists, secondLists := lists(first.Name), lists(second.Name)
	if firstLists == 0 || secondLists == 0 {
		t.Fatalf("lists before: %v and %v, want the collections' first", firstLists, secondLists)
	}

	// Lists on the first cluster all along.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	sources := map[string]int{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			_, code, _, source := listNames(t, gw, admin, first.Name, ns)
			mu.Lock()
			sources[fmt.Sprintf("%d %s", code, source)]++
			mu.Unlock()
			time.Sleep(10 * time.Millisecond)
		}
	}()

	kubeconfigOf := func(name string) string {
		for i := 0; i+1 < len(shared.clusterArgs); i += 2 {
			if n, path, _ := strings.Cut(shared.clusterArgs[i+1], "="); n == name {
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				return string(b)
			}
		}
		t.Fatalf("no kubeconfig for %s", name)
		return ""
	}
	want(t, call(t, "POST", gw+"/api/v1/cube/clusters", admin, map[string]string{"name": "third", "kubeconfig": kubeconfigOf(first.Name)}), 201)
	fromCache("third")
	want(t, call(t, "DELETE", gw+"/api/v1/cube/clusters/"+second.Name, admin, nil), 200)
	want(t, call(t, "POST", gw+"/api/v1/cube/clusters", admin, map[string]string{"name": second.Name, "kubeconfig": kubeconfigOf(second.Name)}), 201)
	fromCache(second.Name)
	time.Sleep(time.Second) // the first cluster's lists go on past the changes
	close(stop)
	wg.Wait()

	if got := lists(first.Name); got != firstLists {
		t.Errorf("the first cluster's cache listed %v times more while others were registered", got-firstLists)
	}
	if got := lists(second.Name); got != secondLists+1 {
		t.Errorf("the second cluster listed %v times after it was registered again, want once (its old registration's collection ended)", got-secondLists)
	}
	if lists("third") != 1 {
		t.Errorf("the third cluster listed %v times, want once", lists("third"))
	}
	if len(sources) != 1 || sources["200 cache"] == 0 {
		t.Errorf("the first cluster's lists meanwhile: %v, want every one from the cache", sources)
	}
}
