package listcache_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubegate/kubegate/listcache"
	"github.com/kubegate/kubegate/listquery"
)

// randomQuery draws a KubeCube query over the test's configmaps: every operator,
// alternatives, string, number and time sorts both ways, and pages (pageSize 0
// included).
func randomQuery(rng *rand.Rand) url.Values {
	v := url.Values{}
	var conds []string
	for range rng.IntN(3) {
		path := []string{"metadata.name", "metadata.labels.tier", "data.k", "metadata.namespace"}[rng.IntN(4)]
		op := []string{"=", "~", "!=", "!~"}[rng.IntN(4)]
		vals := []string{"a", "b", "cm-1", "eq-1", "x", "c|a", "2"}
		conds = append(conds, path+op+vals[rng.IntN(len(vals))])
	}
	if len(conds) > 0 {
		sel := conds[0]
		for _, c := range conds[1:] {
			sel += "," + c
		}
		v.Set("selector", sel)
	}
	switch rng.IntN(5) {
	case 0:
		v.Set("sortName", "metadata.labels.rank")
		v.Set("sortFunc", "number")
	case 1:
		v.Set("sortName", "metadata.creationTimestamp")
		v.Set("sortFunc", "time")
	case 2:
		v.Set("sortName", "data.v")
	case 3:
		v.Set("sortName", "CreationTimestamp")
	}
	if rng.IntN(2) == 0 {
		v.Set("sortOrder", "desc")
	}
	v.Set("pageSize", strconv.Itoa(rng.IntN(8)))
	v.Set("pageNum", strconv.Itoa(1+rng.IntN(4)))
	return v
}

// The cache answers random queries exactly as the same query over the cluster's
// own list does: same items in the same order, same total, in one namespace and
// across all of them.
func TestCachedQueriesAnswerAsUpstream(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cs := clientset(t)
	nss := namespaces(t, cs, "eq", 3)
	rng := rand.New(rand.NewPCG(3, 4))
	c := listcache.Start(ctx, target(t), "/api/v1/configmaps", listcache.Options{})
	var last uint64
	for i := range 90 {
		cm := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%d", i), Labels: map[string]string{
				"tier": []string{"a", "b", "c"}[rng.IntN(3)], "rank": strconv.Itoa(rng.IntN(20)),
			}},
			Data: map[string]string{"k": []string{"a", "xb", "2", "B"}[rng.IntN(4)], "v": strconv.Itoa(rng.IntN(1000))},
		}
		if rng.IntN(10) == 0 {
			delete(cm.Labels, "rank") // missing sort keys sort last
		}
		made, err := cs.CoreV1().ConfigMaps(nss[rng.IntN(3)]).Create(ctx, cm, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		last, _ = strconv.ParseUint(made.ResourceVersion, 10, 64)
	}
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := c.WaitFor(wctx, last); err != nil {
		t.Fatal(err)
	}
	upstreamItems := func(ns string) []json.RawMessage {
		path := "/api/v1/configmaps"
		if ns != "" {
			path = "/api/v1/namespaces/" + ns + "/configmaps"
		}
		raw, err := cs.CoreV1().RESTClient().Get().AbsPath(path).DoRaw(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var l struct{ Items []json.RawMessage }
		if err := json.Unmarshal(raw, &l); err != nil {
			t.Fatal(err)
		}
		return l.Items
	}
	names := func(items []json.RawMessage) []string {
		var out []string
		for _, raw := range items {
			var m metav1.PartialObjectMetadata
			_ = json.Unmarshal(raw, &m)
			out = append(out, m.Namespace+"/"+m.Name)
		}
		return out
	}
	for i := range 300 {
		v := randomQuery(rng)
		ns := ""
		if i%3 != 0 {
			ns = nss[rng.IntN(3)]
		}
		q, err := listquery.ParseKubeCube(v, 500)
		if err != nil {
			t.Fatalf("%s: %v", v.Encode(), err)
		}
		got, err := c.Query(q, ns, 500)
		if err != nil {
			t.Fatalf("%s in %q from the cache: %v", v.Encode(), ns, err)
		}
		want := listquery.NewPager(q, 500)
		for _, raw := range upstreamItems(ns) {
			if err := want.Add(raw); err != nil {
				t.Fatal(err)
			}
		}
		page, err := want.Page()
		if err != nil {
			t.Fatal(err)
		}
		if got.Total != want.Total() || !slices.Equal(names(got.Items), names(page)) {
			t.Fatalf("%s in %q:\ncache    %d %v\nupstream %d %v", v.Encode(), ns, got.Total, names(got.Items), want.Total(), names(page))
		}
		for j := range page { // the items themselves, not only their names (kind and apiVersion included)
			var a, b any
			_ = json.Unmarshal(got.Items[j], &a)
			_ = json.Unmarshal(page[j], &b)
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("%s in %q, item %d:\ncache    %s\nupstream %s", v.Encode(), ns, j, got.Items[j], page[j])
			}
		}
		if got.ResourceVersion < last {
			t.Fatalf("the answer reflects %d, before the last write %d", got.ResourceVersion, last)
		}
	}
}
