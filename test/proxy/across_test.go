package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/demo"
	"github.com/kubegate/kubegate/kubeenv"
	"github.com/kubegate/kubegate/kubeproxy"
)

// acrossReply is a list across clusters as a client reads it.
type acrossReply struct {
	Kind     string                    `json:"kind"`
	Total    int                       `json:"total"`
	Items    []corev1.ConfigMap        `json:"items"`
	Clusters []kubeproxy.ClusterAnswer `json:"clusters"`
}

func (a acrossReply) names() []string {
	var out []string
	for _, it := range a.Items {
		out = append(out, it.Annotations[kubegate.ClusterAnnotation]+"/"+it.Namespace+"/"+it.Name)
	}
	return out
}

func (a acrossReply) cluster(name string) kubeproxy.ClusterAnswer {
	for _, c := range a.Clusters {
		if c.Name == name {
			return c
		}
	}
	return kubeproxy.ClusterAnswer{}
}

func acrossList(t *testing.T, gw, token, set, path, query string) (acrossReply, reply) {
	t.Helper()
	r := call(t, "GET", gw+"/api/v1/cube/proxy/clusters/"+set+path+"?"+query, token, nil)
	var l acrossReply
	if r.Code == 200 {
		if err := json.Unmarshal(r.Body, &l); err != nil {
			t.Fatalf("%s: %v", r.Body, err)
		}
	}
	return l, r
}

// One query across three real clusters: filter, sort and page over all of
// them as one list. For random objects and random queries (every operator,
// every sort, pages), the answer across clusters equals the merge of the
// clusters' own answers — total, order, page — from the list cache and from
// the clusters alike; each item says its cluster; RBAC and scopes decide per
// cluster, and a cluster that refuses or is down is reported, not counted as
// empty.
func TestListAcrossClusters(t *testing.T) {
	ctx := context.Background()
	third, err := kubeenv.Start(ctx, kubeenv.Options{Name: "across"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = third.Stop() })
	kubeconfig, err := demo.PrepareCluster(ctx, third, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	all := append(slices.Clone(shared.clusters), third)
	grantCacheReader(t, all...)
	args := append(slices.Clone(shared.clusterArgs), "--cluster", "across="+kubeconfig, "--cluster-dial-timeout", "2s")
	_, cached := tlsGateway(t, append([]string{"--list-cache", "--cache-wait", "2s"}, args...)...)
	_, direct := tlsGateway(t, append([]string{"--list-cache=false"}, args...)...)
	names := []string{"across", shared.clusters[0].Name, shared.clusters[1].Name} // name order

	// Random ConfigMaps in two namespaces of each cluster, names shared across
	// clusters; a numeric label (rank) some lack, an app label some lack, a
	// tier label on some.
	rng := rand.New(rand.NewPCG(7, 11))
	seeded := map[string]int{}
	for i, c := range all {
		cs, err := c.Clientset()
		if err != nil {
			t.Fatal(err)
		}
		for _, ns := range []string{"across-1", "across-2"} {
			if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
				t.Fatal(err)
			}
		}
		n := 12 + rng.IntN(14)
		for j := range n {
			labels := map[string]string{"suite": "across"}
			if rng.IntN(5) != 0 {
				labels["rank"] = strconv.Itoa(rng.IntN(10))
			}
			if rng.IntN(4) != 0 {
				labels["app"] = []string{"web", "api", "db", "web-api"}[rng.IntN(4)]
			}
			if rng.IntN(3) == 0 {
				labels["tier"] = "front"
			}
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%02d", j), Namespace: []string{"across-1", "across-2"}[rng.IntN(2)], Labels: labels}}
			if _, err := cs.CoreV1().ConfigMaps(cm.Namespace).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		seeded[[]string{shared.clusters[0].Name, shared.clusters[1].Name, "across"}[i]] = n
	}
	admin := func(gw string) string {
		return want(t, call(t, "POST", gw+"/api/v1/cube/login", "", map[string]string{"name": "admin", "password": adminPassword}), 200).JSON(t)["token"].(string)
	}
	tokens := map[string]string{cached: admin(cached), direct: admin(direct)}
	const path = "/api/v1/configmaps"
	const suite = "metadata.labels.suite=across"

	// The cache holds every cluster's seed (its watch caught up) and answers.
	eventually(t, "the caches of all three clusters answer with every seeded object", 30*time.Second, func() bool {
		l, r := acrossList(t, cached, tokens[cached], "*", path, "pageSize=1&selector="+url.QueryEscape(suite))
		for _, n := range names {
			if c := l.cluster(n); c.Total == nil || *c.Total != seeded[n] || c.Source != "cache" {
				return false
			}
		}
		return r.Header.Get(kubeproxy.ListSourceHeader) == "cache"
	})

	conds := []string{
		"metadata.labels.app=web|api", "metadata.labels.app~WEB", "metadata.labels.app!=db", "metadata.labels.app!~api",
		"metadata.labels.app in (web, db)", "metadata.labels.app notin (web)", "metadata.labels.rank<5", "metadata.labels.rank>3",
		"metadata.labels.tier", "!metadata.labels.tier", "!metadata.labels.app", "metadata.name~cm-1", "metadata.namespace=across-2",
	}
	sorts := [][2]string{{"metadata.name", ""}, {"metadata.labels.rank", "number"}, {"metadata.labels.app", "string"}, {"metadata.creationTimestamp", "time"}, {"metadata.namespace", ""}}
	for round := range 40 {
		sel := []string{suite}
		for range rng.IntN(3) {
			sel = append(sel, conds[rng.IntN(len(conds))])
		}
		s := sorts[rng.IntN(len(sorts))]
		v := url.Values{"selector": {strings.Join(sel, ",")}, "sortName": {s[0]}, "sortOrder": {[]string{"asc", "desc"}[rng.IntN(2)]}}
		if s[1] != "" {
			v.Set("sortFunc", s[1])
		}
		pageSize, pageNum := rng.IntN(9), 1+rng.IntN(4)
		for gw, token := range tokens {
			// The reference: each cluster's own answer, whole, merged by the
			// sort key, then cluster (a stable sort of the answers in name
			// order keeps each cluster's namespace and name order).
			var ref []corev1.ConfigMap
			refTotal := 0
			for _, n := range names {
				one := maps.Clone(v)
				one.Set("pageSize", "0")
				l, r := acrossList(t, gw, token, n, path, one.Encode())
				want(t, r, 200)
				for i := range l.Items {
					l.Items[i].Annotations = map[string]string{kubegate.ClusterAnnotation: n}
				}
				ref = append(ref, l.Items...)
				refTotal += l.Total
			}
			sort.SliceStable(ref, func(i, j int) bool { return sortKeyLess(s[0], s[1], v.Get("sortOrder") == "desc", ref[i], ref[j]) })
			if pageSize > 0 {
				start := min((pageNum-1)*pageSize, len(ref))
				ref = ref[start:min(start+pageSize, len(ref))]
			}
			page := maps.Clone(v)
			page.Set("pageSize", strconv.Itoa(pageSize))
			page.Set("pageNum", strconv.Itoa(pageNum))
			got, r := acrossList(t, gw, token, "*", path, page.Encode())
			want(t, r, 200)
			if wantNames := (acrossReply{Items: ref}).names(); got.Total != refTotal || !slices.Equal(got.names(), wantNames) || got.Kind != "ConfigMapList" {
				t.Fatalf("round %d (%s): %s\n got  %v (%d, %s)\n want %v (%d)", round, gw, page.Encode(), got.names(), got.Total, got.Kind, wantNames, refTotal)
			}
			// The same set named, in another order, is the same answer.
			named, r := acrossList(t, gw, token, names[2]+","+names[0]+","+names[1], path, page.Encode())
			want(t, r, 200)
			if !slices.Equal(named.names(), got.names()) || named.Total != got.Total {
				t.Fatalf("round %d: the named set answers %v, * %v", round, named.names(), got.names())
			}
		}
	}

	// Nothing else of an item changes: an item across clusters is the
	// cluster's own, plus the annotation.
	cs0, err := shared.clusters[0].Clientset()
	if err != nil {
		t.Fatal(err)
	}
	own, err := cs0.CoreV1().ConfigMaps("across-1").List(ctx, metav1.ListOptions{})
	if err != nil || len(own.Items) == 0 {
		t.Fatalf("%v %d", err, len(own.Items))
	}
	first := own.Items[0]
	got, _ := acrossList(t, direct, tokens[direct], "*", path, "selector="+url.QueryEscape("metadata.namespace=across-1,metadata.name="+first.Name)+"&sortName=metadata.name")
	for _, it := range got.Items {
		if it.Annotations[kubegate.ClusterAnnotation] != shared.clusters[0].Name {
			continue
		}
		delete(it.Annotations, kubegate.ClusterAnnotation)
		if len(it.Annotations) == 0 {
			it.Annotations = nil
		}
		if it.UID != first.UID || it.ResourceVersion != first.ResourceVersion || !maps.Equal(it.Labels, first.Labels) || it.Annotations != nil {
			t.Fatalf("the item across clusters differs from the cluster's: %+v\n%+v", it.ObjectMeta, first.ObjectMeta)
		}
	}

	// RBAC per cluster: a user who may list ConfigMaps in one cluster only sees
	// its items; the others are reported as forbidden; strict fails, naming them.
	for gw, token := range tokens {
		want(t, call(t, "POST", gw+"/api/v1/cube/users", token, map[string]any{"name": "across-viewer", "password": "across-viewer-password"}), 201)
	}
	_, err = cs0.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "across-cm-reader"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"list"}}}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	_, err = cs0.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "across-cm-reader"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "across-cm-reader"},
		Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "across-viewer"}}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	for gw := range tokens {
		viewer := want(t, call(t, "POST", gw+"/api/v1/cube/login", "", map[string]string{"name": "across-viewer", "password": "across-viewer-password"}), 200).JSON(t)["token"].(string)
		q := "pageSize=0&selector=" + url.QueryEscape(suite)
		var l acrossReply
		eventually(t, "the viewer's binding in one cluster applies", 15*time.Second, func() bool {
			l, _ = acrossList(t, gw, viewer, "*", path, q)
			a := l.cluster(shared.clusters[0].Name)
			return a.Status == metav1.StatusSuccess && a.Total != nil && *a.Total == seeded[a.Name]
		})
		if l.Total != seeded[shared.clusters[0].Name] || len(l.Items) != l.Total {
			t.Fatalf("the viewer sees %d items of %d", len(l.Items), l.Total)
		}
		for _, it := range l.Items {
			if it.Annotations[kubegate.ClusterAnnotation] != shared.clusters[0].Name {
				t.Fatalf("an item of %s for a user allowed in %s only", it.Annotations[kubegate.ClusterAnnotation], shared.clusters[0].Name)
			}
		}
		for _, n := range []string{"across", shared.clusters[1].Name} {
			if a := l.cluster(n); a.Status != metav1.StatusFailure || a.Code != 403 || a.Reason != "Forbidden" || !strings.Contains(a.Message, "across-viewer") || a.Total != nil {
				t.Fatalf("cluster %s for the viewer: %+v", n, a)
			}
		}
		_, r := acrossList(t, gw, viewer, "*", path, q+"&strict=true")
		want(t, r, 403)
		if msg := string(r.Body); !strings.Contains(msg, "across:") || !strings.Contains(msg, shared.clusters[1].Name+":") || strings.Contains(msg, shared.clusters[0].Name+":") {
			t.Fatalf("strict does not name the refusing clusters: %s", msg)
		}
		// A set where none answers fails, as strict would.
		_, r = acrossList(t, gw, viewer, "across,"+shared.clusters[1].Name, path, q)
		want(t, r, 403)
	}

	// A credential scoped to one cluster: * is that cluster; naming another is
	// refused by the scope.
	scoped := func(gw string) string {
		k := want(t, call(t, "POST", gw+"/api/v1/cube/key/create", tokens[gw], map[string]any{"scope": map[string]any{"clusters": []string{shared.clusters[1].Name}}}), 200).JSON(t)
		return want200(t, call(t, "GET", gw+"/api/v1/cube/key/token?accessKey="+k["accessKey"].(string)+"&secretKey="+k["secretKey"].(string), "", nil)).JSON(t)["token"].(string)
	}(direct)
	l, r := acrossList(t, direct, scoped, "*", path, "pageSize=0&selector="+url.QueryEscape(suite))
	want(t, r, 200)
	if len(l.Clusters) != 1 || l.Clusters[0].Name != shared.clusters[1].Name || l.Total != seeded[shared.clusters[1].Name] {
		t.Fatalf("a credential scoped to %s: %+v, total %d", shared.clusters[1].Name, l.Clusters, l.Total)
	}
	_, r = acrossList(t, direct, scoped, shared.clusters[0].Name+","+shared.clusters[1].Name, path, "")
	refusedBy(t, r, "clusters")

	// Only lists: any other verb on a set is a 400 naming the set.
	for _, bad := range []struct{ method, path string }{
		{"POST", "/api/v1/namespaces/across-1/configmaps"},
		{"GET", "/api/v1/namespaces/across-1/configmaps/cm-00"},
		{"DELETE", "/api/v1/namespaces/across-1/configmaps"},
		{"GET", "/version"},
	} {
		r := call(t, bad.method, direct+"/api/v1/cube/proxy/clusters/*"+bad.path, tokens[direct], nil)
		want(t, r, 400)
		if !strings.Contains(string(r.Body), "cluster set (*) can only be listed") {
			t.Fatalf("%s %s on a set: %s", bad.method, bad.path, r.Body)
		}
	}
	for _, bad := range []string{"strict=maybe", "pageSize=-1", "selector=" + url.QueryEscape("metadata.labels.rank<x")} {
		_, r := acrossList(t, direct, tokens[direct], "*", path, bad)
		want(t, r, 400)
	}

	// DCE's list of Deployments of all clusters (kpanda asl/deployments):
	// the clusters named by a repeated cluster parameter, DCE's items naming
	// their cluster, DCE's pagination over them all, and what each cluster
	// answered.
	seedDeployments(t)
	for gw, token := range tokens {
		type kpandaList struct {
			Items []struct {
				Metadata struct{ Name, Namespace, Cluster string } `json:"metadata"`
			} `json:"items"`
			Pagination struct{ Page, PageSize, Total, Pages int }
			Clusters   []kubeproxy.ClusterAnswer
		}
		get := func(u string) kpandaList {
			t.Helper()
			var l kpandaList
			if err := json.Unmarshal(want200(t, call(t, "GET", gw+u, token, nil)).Body, &l); err != nil {
				t.Fatal(err)
			}
			return l
		}
		c0 := shared.clusters[0].Name
		const q = "namespace=ns-b&fuzzyName=app-0&sortBy=field_name&sortDir=asc&page=2&pageSize=5"
		one := get("/apis/kpanda.io/v1alpha1/clusters/" + c0 + "/namespaces/ns-b/deployments?fuzzyName=app-0&sortBy=field_name&sortDir=asc&page=2&pageSize=5")
		all := get("/apis/kpanda.io/v1alpha1/asl/deployments?cluster=" + c0 + "&cluster=across&" + q)
		if all.Pagination != one.Pagination || len(all.Items) != len(one.Items) || len(all.Items) == 0 || len(all.Clusters) != 2 {
			t.Fatalf("asl/deployments: %+v (%d items, %d clusters), one cluster's: %+v", all.Pagination, len(all.Items), len(all.Clusters), one.Pagination)
		}
		for i, it := range all.Items {
			if it.Metadata.Cluster != c0 || it.Metadata.Name != one.Items[i].Metadata.Name || it.Metadata.Namespace != "ns-b" {
				t.Fatalf("asl/deployments item %d: %+v, want %s/%s", i, it.Metadata, c0, one.Items[i].Metadata.Name)
			}
		}
		if a := all.Clusters[0]; a.Name != "across" || a.Total == nil || *a.Total != 0 {
			t.Fatalf("the cluster without Deployments: %+v", a)
		}
		if every := get("/apis/kpanda.io/v1alpha1/asl/deployments?" + q); every.Pagination != one.Pagination || len(every.Clusters) != 3 {
			t.Fatalf("asl/deployments over every cluster: %+v, %d clusters", every.Pagination, len(every.Clusters))
		}
		want(t, call(t, "GET", gw+"/apis/kpanda.io/v1alpha1/asl/deployments?bogus=1", token, nil), 400)
		want(t, call(t, "GET", gw+"/apis/kpanda.io/v1alpha1/asl/deployments?cluster=Bad_Name", token, nil), 400)
		want(t, call(t, "GET", gw+"/apis/kpanda.io/v1alpha1/asl/deployments?namespace=a%2Fb", token, nil), 400)
	}

	// A watch across clusters: every cluster's events in one stream, each
	// object annotated with its cluster, filtered by the selector; it ends when
	// one cluster's stream does (here: its apiserver stops).
	watchCtx, stopWatch := context.WithTimeout(ctx, time.Minute)
	defer stopWatch()
	req, err := http.NewRequestWithContext(watchCtx, "GET", direct+"/api/v1/cube/proxy/clusters/*/api/v1/namespaces/across-1/configmaps?watch=true&selector="+url.QueryEscape("metadata.labels.watched=yes"), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tokens[direct])
	resp, err := shared.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("watch across clusters: %d", resp.StatusCode)
	}
	for i, c := range all {
		cs, err := c.Clientset()
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range []string{"yes", "no"} {
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("watched-%s-%d", w, i), Labels: map[string]string{"watched": w}}}
			if _, err := cs.CoreV1().ConfigMaps("across-1").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	dec := json.NewDecoder(resp.Body)
	seen := map[string]bool{}
	for len(seen) < 3 {
		var ev struct {
			Type   string
			Object corev1.ConfigMap
		}
		if err := dec.Decode(&ev); err != nil {
			t.Fatalf("the watch across clusters ended early (%v), having seen %v", err, seen)
		}
		if ev.Type != "ADDED" || ev.Object.Labels["watched"] != "yes" {
			t.Fatalf("an event the selector does not pass: %s %s %v", ev.Type, ev.Object.Name, ev.Object.Labels)
		}
		seen[ev.Object.Annotations[kubegate.ClusterAnnotation]+"/"+ev.Object.Name] = true
	}
	for i, n := range []string{shared.clusters[0].Name, shared.clusters[1].Name, "across"} {
		if !seen[fmt.Sprintf("%s/watched-yes-%d", n, i)] {
			t.Fatalf("the watch across clusters missed %s: %v", n, seen)
		}
	}
	_, r = acrossList(t, direct, tokens[direct], "*", path, "watch=true&resourceVersion=12")
	want(t, r, 400)

	// A stopped cluster is reported unavailable, at once, while the others
	// answer; strict makes it a 503 naming it.
	if err := third.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	// The watch ends with the stopped cluster's stream, cleanly.
	for {
		var ev map[string]any
		if err := dec.Decode(&ev); err != nil {
			if watchCtx.Err() != nil {
				t.Fatal("the watch across clusters did not end when a cluster's stream did")
			}
			break
		}
	}
	start := time.Now()
	l, r = acrossList(t, direct, tokens[direct], "*", path, "pageSize=0&selector="+url.QueryEscape(suite))
	took := time.Since(start)
	want(t, r, 200)
	t.Logf("a list across clusters with one stopped answered in %s", took)
	if a := l.cluster("across"); a.Status != metav1.StatusFailure || a.Code != 503 || !strings.Contains(a.Message, "unreachable") {
		t.Fatalf("the stopped cluster: %+v", a)
	}
	if l.Total != seeded[shared.clusters[0].Name]+seeded[shared.clusters[1].Name] || took > 20*time.Second {
		t.Fatalf("with one cluster stopped: total %d in %s", l.Total, took)
	}
	_, r = acrossList(t, direct, tokens[direct], "*", path, "pageSize=0&strict=true&selector="+url.QueryEscape(suite))
	want(t, r, 503)
	if !strings.Contains(string(r.Body), "across: cluster across is unreachable") {
		t.Fatalf("strict with a stopped cluster: %s", r.Body)
	}
}

// sortKeyLess orders two ConfigMaps by the test's sort fields as the gateway
// does: missing keys last, either way.
func sortKeyLess(field, fn string, desc bool, a, b corev1.ConfigMap) bool {
	key := func(c corev1.ConfigMap) (string, float64, bool) {
		switch field {
		case "metadata.name":
			return c.Name, 0, true
		case "metadata.namespace":
			return c.Namespace, 0, true
		case "metadata.creationTimestamp":
			return "", float64(c.CreationTimestamp.Unix()), true
		case "metadata.labels.app":
			v, ok := c.Labels["app"]
			return v, 0, ok
		case "metadata.labels.rank":
			v, ok := c.Labels["rank"]
			f, _ := strconv.ParseFloat(v, 64)
			return "", f, ok
		}
		panic(field)
	}
	as, an, aok := key(a)
	bs, bn, bok := key(b)
	if aok != bok {
		return aok
	}
	if !aok {
		return false
	}
	c := strings.Compare(as, bs)
	if fn == "number" || fn == "time" {
		c = 0
		if an < bn {
			c = -1
		} else if an > bn {
			c = 1
		}
	}
	if desc {
		c = -c
	}
	return c < 0
}
