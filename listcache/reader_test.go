package listcache_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubegate/kubegate/listcache"
	"github.com/kubegate/kubegate/listquery"
)

// A query over several partitions is one list: one order, one total and one
// page across them all, the same items as each partition holds; one partition
// answers as Collection.Query does.
func TestQueryOverPartitionsIsOneList(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cs := clientset(t)
	nss := namespaces(t, cs, "parts", 2)
	var rv string
	for i := range 9 {
		cm, err := cs.CoreV1().ConfigMaps(nss[i%2]).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%d", i)}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		rv = cm.ResourceVersion
	}
	c := listcache.Start(ctx, target(t), "/api/v1/configmaps", listcache.Options{})
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := c.WaitFor(wctx, mustRV(t, rv)); err != nil {
		t.Fatal(err)
	}
	query := func(pageSize, pageNum int) *listquery.Query {
		q, err := listquery.ParseKubeCube(url.Values{"sortName": {"metadata.name"}, "sortOrder": {"desc"}, "selector": {"metadata.name~cm-"},
			"pageSize": {fmt.Sprint(pageSize)}, "pageNum": {fmt.Sprint(pageNum)}}, 100)
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	names := func(items []json.RawMessage) []string {
		out := []string{}
		for _, raw := range items {
			var o metav1.PartialObjectMetadata
			if err := json.Unmarshal(raw, &o); err != nil {
				t.Fatal(err)
			}
			out = append(out, o.Namespace+"/"+o.Name)
		}
		return out
	}
	parts := []listcache.Partition{{Collection: c, Namespace: nss[0]}, {Collection: c, Namespace: nss[1]}}

	all, err := listcache.QueryPartitions(query(0, 1), parts, 100)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := 8; i >= 0; i-- {
		want = append(want, fmt.Sprintf("%s/cm-%d", nss[i%2], i))
	}
	if got := names(all.Items); all.Total != 9 || !slices.Equal(got, want) || len(all.Versions) != 2 {
		t.Fatalf("over two namespaces: %v (total %d, %d versions), want %v", got, all.Total, len(all.Versions), want)
	}
	var paged []string
	for page := 1; page <= 3; page++ {
		r, err := listcache.QueryPartitions(query(4, page), parts, 100)
		if err != nil {
			t.Fatal(err)
		}
		if r.Total != 9 {
			t.Fatalf("page %d: total %d, want 9", page, r.Total)
		}
		paged = append(paged, names(r.Items)...)
	}
	if !slices.Equal(paged, want) {
		t.Fatalf("pages of 4: %v, want %v", paged, want)
	}

	one, err := listcache.QueryPartitions(query(3, 1), parts[:1], 100)
	if err != nil {
		t.Fatal(err)
	}
	direct, err := c.Query(query(3, 1), nss[0], 100)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(one.Items, direct.Items, func(a, b json.RawMessage) bool { return string(a) == string(b) }) ||
		one.Total != direct.Total || one.ResourceVersion != direct.ResourceVersion {
		t.Fatal("one partition does not answer as Collection.Query")
	}
}
