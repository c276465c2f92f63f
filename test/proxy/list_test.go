package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// fiveHundred creates the 500 Deployments once for the package.
var fiveHundred sync.Once

// seedDeployments creates 500 Deployments across four namespaces of cluster 0.
func seedDeployments(t *testing.T) {
	fiveHundred.Do(func() {
		cs, err := shared.clusters[0].Clientset()
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		nss := []string{"ns-a", "ns-b", "ns-c", "ns-d"}
		for _, ns := range nss {
			if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		work := make(chan int)
		var wg sync.WaitGroup
		errs := make(chan error, 500)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range work {
					replicas := int32(i % 7)
					name := fmt.Sprintf("app-%03d", i)
					labels := map[string]string{"app": []string{"web", "api", "worker"}[i%3], "app.kubernetes.io/name": name}
					_, err := cs.AppsV1().Deployments(nss[i%4]).Create(ctx, &appsv1.Deployment{
						ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
						Spec: appsv1.DeploymentSpec{
							Replicas: &replicas,
							Selector: &metav1.LabelSelector{MatchLabels: labels},
							Template: corev1.PodTemplateSpec{
								ObjectMeta: metav1.ObjectMeta{Labels: labels},
								Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img"}}},
							},
						},
					}, metav1.CreateOptions{})
					errs <- err
				}
			}()
		}
		for i := range 500 {
			work <- i
		}
		close(work)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	})
}

type listReply struct {
	Kind     string `json:"kind"`
	Total    int    `json:"total"`
	Metadata struct {
		ResourceVersion string `json:"resourceVersion"`
	} `json:"metadata"`
	Items []appsv1.Deployment `json:"items"`
}

// expected computes the reference order from a direct list: creationTimestamp
// descending, ties by namespace/name.
func expected(t *testing.T, ns string) []appsv1.Deployment {
	cs, _ := shared.clusters[0].Clientset()
	l, err := cs.AppsV1().Deployments(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	items := l.Items
	sort.SliceStable(items, func(i, j int) bool {
		a, b := items[i], items[j]
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.After(b.CreationTimestamp.Time)
		}
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	return items
}

func names(ds []appsv1.Deployment) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Namespace + "/" + d.Name
	}
	return out
}

// The guide's worked example: newest first, 20 per page, page 2.
func TestGuideWorkedExample(t *testing.T) {
	seedDeployments(t)
	admin := login(t, "admin", adminPassword)
	c := shared.clusters[0].Name
	want := expected(t, "ns-a")
	for _, sortName := range []string{"metadata.creationTimestamp", "CreationTimestamp"} {
		r := want200(t, call(t, "GET", proxyURL(c, "/apis/apps/v1/namespaces/ns-a/deployments?sortName="+sortName+"&sortOrder=desc&pageSize=20&pageNum=2"), admin, nil))
		var l listReply
		if err := json.Unmarshal(r.Body, &l); err != nil {
			t.Fatal(err)
		}
		if l.Kind != "DeploymentList" || l.Total != 125 || l.Metadata.ResourceVersion == "" {
			t.Fatalf("%s: kind %q total %d rv %q", sortName, l.Kind, l.Total, l.Metadata.ResourceVersion)
		}
		if got, w := names(l.Items), names(want[20:40]); strings.Join(got, " ") != strings.Join(w, " ") {
			t.Fatalf("%s: page 2 =\n%v\nwant\n%v", sortName, got, w)
		}
	}
	// Across namespaces, with a filter that Kubernetes cannot do (fuzzy) and one it
	// can (an exact label, pushed down as a labelSelector).
	r := want200(t, call(t, "GET", proxyURL(c, "/apis/apps/v1/deployments?selector=metadata.labels.app=web,metadata.name~APP-0&sortName=spec.replicas&sortFunc=number&pageSize=0"), admin, nil))
	var l listReply
	_ = json.Unmarshal(r.Body, &l)
	count := 0
	for i := range 100 {
		if i%3 == 0 {
			count++
		}
	}
	if l.Total != count || len(l.Items) != count {
		t.Fatalf("filtered total %d items %d, want %d", l.Total, len(l.Items), count)
	}
	for i := 1; i < len(l.Items); i++ {
		if *l.Items[i-1].Spec.Replicas > *l.Items[i].Spec.Replicas {
			t.Fatalf("not sorted by replicas at %d", i)
		}
	}
	// No parameter: a byte-exact pass-through (no total).
	r = want200(t, call(t, "GET", proxyURL(c, "/apis/apps/v1/namespaces/ns-a/deployments?limit=5"), admin, nil))
	if strings.Contains(string(r.Body), `"total"`) {
		t.Fatal("a plain list was rewritten")
	}
	// Bad parameters are 400s naming them.
	for q, param := range map[string]string{"pageSize=-1": "pageSize", "sortOrder=sideways": "sortOrder", "selector=spec.replicas%3Emany": "selector", "pageSize=5001": "pageSize", "pageSize=5&limit=3": "limit"} {
		r := call(t, "GET", proxyURL(c, "/apis/apps/v1/deployments?"+q), admin, nil)
		if r.Code != 400 || !strings.Contains(string(r.Body), param) {
			t.Fatalf("%s: %d %s", q, r.Code, r.Body)
		}
	}
	// A user without RBAC gets the cluster's 403, not an empty page.
	token, _, _ := newUser(t, "lister")
	if r := call(t, "GET", proxyURL(c, "/apis/apps/v1/deployments?pageSize=5"), token, nil); r.Code != 403 || !strings.Contains(string(r.Body), `"kind":"Status"`) {
		t.Fatalf("unauthorised list = %d %s", r.Code, r.Body)
	}
}

func want200(t *testing.T, r reply) reply {
	t.Helper()
	return want(t, r, 200)
}

// DCE's kpanda lists.
func TestKpandaDeployments(t *testing.T) {
	seedDeployments(t)
	admin := login(t, "admin", adminPassword)
	c := shared.clusters[0].Name
	r := want200(t, call(t, "GET", shared.url+"/apis/kpanda.io/v1alpha1/clusters/"+c+"/namespaces/ns-b/deployments?page=2&pageSize=10&sortBy=field_name&sortDir=asc", admin, nil))
	var out struct {
		Items []struct {
			Metadata struct{ Name string } `json:"metadata"`
		} `json:"items"`
		Pagination struct{ Page, PageSize, Total, Pages int }
	}
	if err := json.Unmarshal(r.Body, &out); err != nil {
		t.Fatal(err)
	}
	if out.Pagination.Total != 125 || out.Pagination.Pages != 13 || out.Pagination.Page != 2 || len(out.Items) != 10 || out.Items[0].Metadata.Name != "app-041" {
		t.Fatalf("kpanda page = %+v first %s", out.Pagination, out.Items[0].Metadata.Name)
	}
	r = want200(t, call(t, "GET", shared.url+"/apis/kpanda.io/v1alpha1/clusters/"+c+"/deployments?fuzzyName=APP-49&pageSize=50", admin, nil))
	_ = json.Unmarshal(r.Body, &out)
	if out.Pagination.Total != 10 { // app-490 .. app-499
		t.Fatalf("fuzzyName total = %d", out.Pagination.Total)
	}
	r = want200(t, call(t, "GET", shared.url+"/apis/kpanda.io/v1alpha1/clusters/"+c+"/gvr/core/v1/namespaces?name=ns-c", admin, nil))
	if !strings.Contains(string(r.Body), `"total":1`) {
		t.Fatalf("gvr core namespaces = %s", r.Body)
	}
	want(t, call(t, "GET", shared.url+"/apis/kpanda.io/v1alpha1/clusters/"+c+"/deployments?sortBy=size", admin, nil), 400)
	want(t, call(t, "GET", shared.url+"/apis/kpanda.io/v1alpha1/clusters/"+c+"/deployments?bogus=1", admin, nil), 400)
	want(t, call(t, "GET", shared.url+"/apis/kpanda.io/v1alpha1/clusters/nope/deployments", admin, nil), 404)
}

// kubectl through the gateway sees exactly what it sees directly.
func TestKubectlResponsesAreByteIdentical(t *testing.T) {
	admin := login(t, "admin", adminPassword)
	k := want200(t, call(t, "POST", shared.url+"/api/v1/cube/key/create", admin, nil)).JSON(t)
	c := shared.clusters[0]
	cs, _ := c.Clientset()
	ctx := context.Background()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "bytes"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		_, _ = cs.CoreV1().ConfigMaps("bytes").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprint("cm-", i)}, Data: map[string]string{"i": fmt.Sprint(i)}}, metav1.CreateOptions{})
	}
	gw := kubeconfigFor(t, admin, c.Name)
	for _, args := range [][]string{
		{"get", "--raw", "/api/v1/namespaces/bytes/configmaps"},
		{"get", "--raw", "/api/v1/namespaces/bytes/configmaps/cm-1"},
		{"get", "configmaps", "-n", "bytes", "-o", "json"},
		{"get", "configmap", "cm-2", "-n", "bytes", "-o", "yaml"},
	} {
		// A list carries the cluster's resource version, which any write in the
		// cluster moves (the apiserver renews its own lease every 10 s): a pair
		// that straddles one is asked again; a real difference stays.
		for attempt := 1; ; attempt++ {
			via, err := kubectl(t, gw, k["accessKey"].(string), k["secretKey"].(string), args...)
			if err != nil {
				t.Fatalf("%v via the gateway: %v\n%s", args, err, via)
			}
			direct, err := exec.Command(c.Kubectl, append([]string{"--kubeconfig", c.Kubeconfig}, args...)...).CombinedOutput()
			if err != nil {
				t.Fatalf("%v direct: %v", args, err)
			}
			if via == strings.TrimSpace(string(direct)) {
				break
			}
			if attempt == 5 {
				t.Fatalf("%v differs:\nvia gateway: %s\ndirect:      %s", args, via, direct)
			}
		}
	}
}

// kubectl's Table format: rows are filtered, sorted and paged by their objects.
func TestTableRowsArePaged(t *testing.T) {
	seedDeployments(t)
	admin := login(t, "admin", adminPassword)
	c := shared.clusters[0].Name
	r := call(t, "GET", proxyURL(c, "/apis/apps/v1/namespaces/ns-c/deployments?selector=metadata.labels.app=api&sortName=metadata.name&sortOrder=desc&pageSize=5&pageNum=2"), admin, nil,
		"Accept", "application/json;as=Table;g=meta.k8s.io;v=v1")
	want200(t, r)
	var table struct {
		Kind    string `json:"kind"`
		Total   int    `json:"total"`
		Columns []struct {
			Name string `json:"name"`
		} `json:"columnDefinitions"`
		Rows []struct {
			Cells  []any `json:"cells"`
			Object struct {
				Metadata struct{ Name string } `json:"metadata"`
			} `json:"object"`
		} `json:"rows"`
	}
	if err := json.Unmarshal(r.Body, &table); err != nil {
		t.Fatal(err)
	}
	// ns-c holds i%4==2; app=api is i%3==1: i ≡ 10 (mod 12), 42 of them below 500.
	var wantNames []string
	for i := 499; i >= 0; i-- {
		if i%4 == 2 && i%3 == 1 {
			wantNames = append(wantNames, fmt.Sprintf("app-%03d", i))
		}
	}
	if table.Kind != "Table" || table.Total != len(wantNames) || len(table.Columns) == 0 || len(table.Rows) != 5 {
		t.Fatalf("table kind %q total %d (want %d) columns %d rows %d", table.Kind, table.Total, len(wantNames), len(table.Columns), len(table.Rows))
	}
	for i, row := range table.Rows {
		if row.Cells[0] != wantNames[5+i] || row.Object.Metadata.Name != wantNames[5+i] {
			t.Fatalf("row %d = %v, want %s", i, row.Cells[0], wantNames[5+i])
		}
	}
}

// A watch with a selector streams only matching events; an object that stops
// matching is reported DELETED.
func TestWatchWithSelector(t *testing.T) {
	admin := login(t, "admin", adminPassword)
	c := shared.clusters[0]
	cs, _ := c.Clientset()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "watched"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, proxyURL(c.Name, "/api/v1/namespaces/watched/configmaps?watch=true&selector=metadata.name~keep"), nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := shared.client.Do(req) //nolint:bodyclose // closed by the deferred Close below.
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("watch status %d", resp.StatusCode)
	}
	events := make(chan string, 10)
	go func() {
		dec := json.NewDecoder(resp.Body)
		for {
			var ev struct {
				Type   string `json:"type"`
				Object struct {
					Metadata struct{ Name string } `json:"metadata"`
				} `json:"object"`
			}
			if dec.Decode(&ev) != nil {
				close(events)
				return
			}
			events <- ev.Type + " " + ev.Object.Metadata.Name
		}
	}()
	mk := func(name string) {
		if _, err := cs.CoreV1().ConfigMaps("watched").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mk("drop-1")
	mk("keep-1")
	mk("drop-2")
	if got := <-events; got != "ADDED keep-1" {
		t.Fatalf("first event = %q", got)
	}
	if err := cs.CoreV1().ConfigMaps("watched").Delete(ctx, "keep-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := <-events; got != "DELETED keep-1" {
		t.Fatalf("second event = %q", got)
	}
	select {
	case got := <-events:
		t.Fatalf("unexpected event %q", got)
	case <-time.After(500 * time.Millisecond):
	}
}
