package proxy

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// KubeCube's selector and sortName take dotted label keys as one key:
// metadata.labels.app.kubernetes.io/name is the label app.kubernetes.io/name.
func TestKubeCubeDottedLabelKeys(t *testing.T) {
	seedDeployments(t)
	admin := login(t, "admin", adminPassword)
	c := shared.clusters[0].Name
	list := func(query string) listReply {
		t.Helper()
		r := want200(t, call(t, "GET", proxyURL(c, "/apis/apps/v1/deployments?"+query), admin, nil))
		var l listReply
		if err := json.Unmarshal(r.Body, &l); err != nil {
			t.Fatal(err)
		}
		return l
	}
	l := list("selector=" + url.QueryEscape("metadata.labels.app.kubernetes.io/name=app-042"))
	if l.Total != 1 || len(l.Items) != 1 || l.Items[0].Name != "app-042" {
		t.Fatalf("dotted label key: total %d, items %v", l.Total, names(l.Items))
	}
	// The bracket form still works and agrees.
	if b := list("selector=" + url.QueryEscape("metadata.labels[app.kubernetes.io/name]=app-042")); b.Total != 1 || b.Items[0].Name != "app-042" {
		t.Fatalf("bracket form: %d", b.Total)
	}
	// Fuzzy on a dotted key, sorted by a dotted key, descending.
	l = list("selector=" + url.QueryEscape("metadata.labels.app.kubernetes.io/name~app-04") + "&sortName=" + url.QueryEscape("metadata.labels.app.kubernetes.io/name") + "&sortOrder=desc&pageSize=3")
	if l.Total != 10 || len(l.Items) != 3 || l.Items[0].Name != "app-049" || l.Items[2].Name != "app-047" {
		t.Fatalf("fuzzy dotted key sorted by a dotted key: total %d, %v", l.Total, names(l.Items))
	}
	// Rancher Steve's set and existence operators, on the same keys, through the proxy.
	l = list("selector=" + url.QueryEscape("metadata.labels.app.kubernetes.io/name in (app-042, app-001),!metadata.labels.no-such-label") + "&sortName=metadata.name")
	if l.Total != 2 || len(l.Items) != 2 || l.Items[0].Name != "app-001" || l.Items[1].Name != "app-042" {
		t.Fatalf("in (…) and !key: total %d, %v", l.Total, names(l.Items))
	}
}

// KubeCube's own parameter template, every value empty, is a plain first page.
func TestKubeCubeEmptyTemplate(t *testing.T) {
	seedDeployments(t)
	admin := login(t, "admin", adminPassword)
	r := want200(t, call(t, "GET", proxyURL(shared.clusters[0].Name, "/apis/apps/v1/namespaces/ns-a/deployments?selector=&pageSize=&pageNum=&sortName=&sortOrder=&sortFunc="), admin, nil))
	var l listReply
	if err := json.Unmarshal(r.Body, &l); err != nil {
		t.Fatal(err)
	}
	if l.Total != 125 || len(l.Items) != 10 || l.Items[0].Name != "app-000" || l.Items[9].Name != "app-036" {
		t.Fatalf("the empty template: total %d, %v", l.Total, names(l.Items))
	}
	// Real garbage is still a 400 naming the parameter.
	want(t, call(t, "GET", proxyURL(shared.clusters[0].Name, "/apis/apps/v1/namespaces/ns-a/deployments?pageSize=ten"), admin, nil), 400)
}

// kpanda's published item shapes (DCE 5.0 kpanda v0.49.0), field by field: the
// fields each definition has, and the JSON type of each.
var (
	objectMetaFields = map[string]string{"name": "string", "namespace": "string", "uid": "string", "resourceVersion": "string",
		"cluster": "string", "workspaceAlias": "string", "creationTimestamp": "int64string", "deletionTimestamp": "int64string",
		"labels": "object", "annotations": "object", "ownerReferences": "array"}
	clusterSpecFields = map[string]string{"provider": "string", "apiEndpoint": "string", "region": "string", "zone": "string",
		"roles": "array", "managedBy": "string", "aliasName": "string", "secretRef": "object", "proxyUrl": "string"}
	clusterStatusFields = map[string]string{"kubernetesVersion": "string", "kubeSystemID": "string", "clusterVersion": "string",
		"serviceCIDR": "string", "clusterCIDR": "string", "proxyMode": "string", "phase": "string", "conditions": "array",
		"deploymentSummary": "object", "daemonsetSummary": "object", "statefulsetSummary": "object", "nodeSummary": "object",
		"podSummary": "object", "resourceSummary": "object", "cpuUsage": "number", "memoryUsage": "number", "gpuTotal": "number",
		"settings": "object", "networkMode": "array", "maxSigningDuration": "number", "kubeconfigExpireWarnning": "bool",
		"kubeconfigExpireTime": "int64string"}
	deploymentSpecFields   = map[string]string{"template": "object", "strategy": "object", "paused": "bool"}
	deploymentStatusFields = map[string]string{"availableReplicas": "number", "readyReplicas": "number", "replicas": "number",
		"state": "string", "conditions": "array"}
	conditionFields = map[string]string{"lastTransitionTime": "string", "lastUpdateTime": "string", "message": "string",
		"reason": "string", "status": "string", "type": "string"}
	paginationFields     = map[string]string{"total": "number", "page": "number", "pageSize": "number", "pages": "number"}
	customResourceFields = map[string]string{"kind": "string", "apiVersion": "string", "name": "string", "namespace": "string",
		"creationTimestamp": "int64string", "labels": "object", "data": "string"}
)

// conforms checks that obj has only the published fields, each of its type.
func conforms(t *testing.T, what string, obj map[string]any, published map[string]string) {
	t.Helper()
	for k, v := range obj {
		typ, ok := published[k]
		if !ok {
			t.Fatalf("%s has field %q, which the published definition lacks", what, k)
		}
		good := false
		switch typ {
		case "string":
			_, good = v.(string)
		case "int64string":
			s, isString := v.(string)
			_, err := strconv.ParseInt(s, 10, 64)
			good = isString && err == nil
		case "number":
			_, good = v.(float64)
		case "bool":
			_, good = v.(bool)
		case "object":
			_, good = v.(map[string]any)
			good = good || v == nil
		case "array":
			_, good = v.([]any)
		}
		if !good {
			t.Fatalf("%s field %q = %#v, published as %s", what, k, v, typ)
		}
	}
}

func kpanda(t *testing.T, token, path string) map[string]any {
	t.Helper()
	return want200(t, call(t, "GET", shared.url+"/apis/kpanda.io/v1alpha1/"+path, token, nil)).JSON(t)
}

func TestKpandaClustersAsPublished(t *testing.T) {
	admin := login(t, "admin", adminPassword)
	c0, c1 := shared.clusters[0].Name, shared.clusters[1].Name
	out := kpanda(t, admin, "clusters?pageSize=100")
	conforms(t, "pagination", out["pagination"].(map[string]any), paginationFields)
	var names []string
	for _, it := range out["items"].([]any) {
		item := it.(map[string]any)
		conforms(t, "v1alpha1Cluster", item, map[string]string{"metadata": "object", "spec": "object", "status": "object"})
		md, spec, status := item["metadata"].(map[string]any), item["spec"].(map[string]any), item["status"].(map[string]any)
		conforms(t, "metadata", md, objectMetaFields)
		conforms(t, "spec", spec, clusterSpecFields)
		conforms(t, "status", status, clusterStatusFields)
		names = append(names, md["name"].(string))
		if md["name"] == c0 {
			if status["phase"] != "Running" || status["kubernetesVersion"] != "v1.37.2" || !strings.HasPrefix(spec["apiEndpoint"].(string), "127.0.0.1:") {
				t.Fatalf("cluster %s: spec %v status %v", c0, spec, status)
			}
		}
	}
	if !slices.Contains(names, c0) || !slices.Contains(names, c1) {
		t.Fatalf("clusters listed: %v", names)
	}

	// Filters are honoured, not ignored.
	total := func(query string) int {
		return int(kpanda(t, admin, "clusters?"+query)["pagination"].(map[string]any)["total"].(float64))
	}
	if n := total("name=" + c0); n != 1 {
		t.Fatalf("name filter: %d", n)
	}
	if n := total("fuzzyName=" + strings.ToUpper(c1[len(c1)-3:])); n < 1 {
		t.Fatalf("fuzzyName filter: %d", n)
	}
	if n := total("phase=DeleteFailed"); n != 0 {
		t.Fatalf("phase filter: %d", n)
	}
	if n := total("phase=Running&name=" + c1); n != 1 {
		t.Fatalf("phase=Running: %d", n)
	}
	if n := total("labelSelector=" + url.QueryEscape("env=nowhere")); n != 0 {
		t.Fatalf("labelSelector filter: %d", n)
	}
	if n := total("fieldSelector=" + url.QueryEscape("metadata.name="+c1)); n != 1 {
		t.Fatalf("fieldSelector filter: %d", n)
	}
	page := kpanda(t, admin, "clusters?pageSize=1&page=2&sortBy=field_name&sortDir=asc")
	if items := page["items"].([]any); len(items) != 1 || page["pagination"].(map[string]any)["page"].(float64) != 2 {
		t.Fatalf("paging: %v", page)
	}
	for _, q := range []string{"sortBy=SORT_BY_UNSPECIFIED", "sortBy=created_at&sortDir=desc", "role=CLUSTER_ROLE_UNSPECIFIED", "showVirtualCluster=false&excludeMetrics=true&showShimCluster=false"} {
		kpanda(t, admin, "clusters?"+q)
	}
	for _, q := range []string{"phase=Sleeping", "sortBy=size", "bogus=1", "excludeMetrics=maybe", "fieldSelector=spec.nodeName%3Dx"} {
		want(t, call(t, "GET", shared.url+"/apis/kpanda.io/v1alpha1/clusters?"+q, admin, nil), 400)
	}

	one := kpanda(t, admin, "clusters/"+c0)
	if one["metadata"].(map[string]any)["name"] != c0 || one["status"].(map[string]any)["phase"] != "Running" {
		t.Fatalf("GET clusters/%s = %v", c0, one)
	}
	want(t, call(t, "GET", shared.url+"/apis/kpanda.io/v1alpha1/clusters/no-such", admin, nil), 404)
}

func TestKpandaDeploymentsAsPublished(t *testing.T) {
	seedDeployments(t)
	admin := login(t, "admin", adminPassword)
	c := shared.clusters[0].Name
	out := kpanda(t, admin, "clusters/"+c+"/namespaces/ns-c/deployments?pageSize=5&sortBy=created_at")
	items := out["items"].([]any)
	if len(items) != 5 {
		t.Fatalf("%d items", len(items))
	}
	for _, it := range items {
		item := it.(map[string]any)
		conforms(t, "v1alpha1Deployment", item, map[string]string{"metadata": "object", "spec": "object", "status": "object", "revision": "int64string"})
		md, spec, status := item["metadata"].(map[string]any), item["spec"].(map[string]any), item["status"].(map[string]any)
		conforms(t, "metadata", md, objectMetaFields)
		conforms(t, "spec", spec, deploymentSpecFields)
		conforms(t, "status", status, deploymentStatusFields)
		for _, cond := range status["conditions"].([]any) {
			conforms(t, "condition", cond.(map[string]any), conditionFields)
		}
		if md["cluster"] != c || md["namespace"] != "ns-c" {
			t.Fatalf("metadata = %v", md)
		}
		// No controller-manager in the test bed: nothing becomes ready, so a
		// Deployment wanting replicas is Not_Ready and one wanting none Stopped.
		want := "Not_Ready"
		var d appsv1.Deployment
		cs, _ := shared.clusters[0].Clientset()
		got, err := cs.AppsV1().Deployments("ns-c").Get(context.Background(), md["name"].(string), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		d = *got
		if *d.Spec.Replicas == 0 {
			want = "Stopped"
		}
		if status["state"] != want {
			t.Fatalf("%s wants %d replicas: state %v, want %s", d.Name, *d.Spec.Replicas, status["state"], want)
		}
	}
	total := func(query string) int {
		return int(kpanda(t, admin, "clusters/"+c+"/deployments?"+query)["pagination"].(map[string]any)["total"].(float64))
	}
	// app-i wants i%7 replicas: 72 of the 500 want none.
	if stopped, notReady := total("phase=Stopped"), total("phase=Not_Ready"); stopped != 72 || notReady != 428 {
		t.Fatalf("phase filter: %d stopped, %d not ready", stopped, notReady)
	}
	if n := total("phase=WORKLOAD_STATE_UNSPECIFIED&gpuType=*"); n != 500 {
		t.Fatalf("no filter: %d", n)
	}
	if n := total("gpuType=nvidia.com/gpu"); n != 0 {
		t.Fatalf("gpuType filter: %d", n)
	}
	for _, sortBy := range []string{"SORT_BY_UNSPECIFIED", "field_name", "state", "workspace", "cluster", "namespace", "created_at"} {
		if n := total("sortBy=" + sortBy + "&sortDir=asc"); n != 500 {
			t.Fatalf("sortBy=%s: %d", sortBy, n)
		}
	}
	want(t, call(t, "GET", shared.url+"/apis/kpanda.io/v1alpha1/clusters/"+c+"/deployments?phase=Sleeping", admin, nil), 400)

	// gvr lists answer v1alpha1CustomResource items; showDetail adds the YAML.
	gvr := kpanda(t, admin, "clusters/"+c+"/gvr/apps/v1/namespaces/ns-d/deployments?pageSize=2&showDetail=true&sortBy=field_name&sortDir=asc")
	for _, it := range gvr["items"].([]any) {
		item := it.(map[string]any)
		conforms(t, "v1alpha1CustomResource", item, customResourceFields)
		if item["kind"] != "Deployment" || item["apiVersion"] != "apps/v1" || item["namespace"] != "ns-d" || !strings.Contains(item["data"].(string), "kind: Deployment") {
			t.Fatalf("custom resource = %v", item)
		}
	}
	plain := kpanda(t, admin, "clusters/"+c+"/gvr/core/v1/namespaces?fuzzyName=ns-")
	if plain["pagination"].(map[string]any)["total"].(float64) < 4 || plain["items"].([]any)[0].(map[string]any)["data"] != "" {
		t.Fatalf("gvr without showDetail = %v", plain)
	}
}

// KubeCube's login body and cluster enumeration, against the real gateway.
func TestKubeCubeLoginAndClustersInfo(t *testing.T) {
	r := want(t, call(t, "POST", shared.url+"/api/v1/cube/login", "", map[string]string{"name": "admin", "password": adminPassword, "loginType": "normal"}), 200)
	token := r.JSON(t)["token"].(string)
	want(t, call(t, "POST", shared.url+"/api/v1/cube/login", "", map[string]string{"name": "admin", "password": adminPassword, "loginType": "github"}), 400)

	info := want200(t, call(t, "GET", shared.url+"/api/v1/cube/clusters/info", token, nil)).JSON(t)
	items := info["items"].([]any)
	if int(info["total"].(float64)) != len(items) || len(items) < 2 {
		t.Fatalf("clusters/info = %v", info)
	}
	var prev string
	for _, it := range items {
		c := it.(map[string]any)
		for _, f := range []string{"clusterName", "clusterDescription", "networkType", "harborAddr", "isMemberCluster", "isWritable", "createTime",
			"kubeApiServer", "status", "annotations", "nodeCount", "namespaceCount", "usedCpu", "totalCpu", "usedMem", "totalMem"} {
			if _, ok := c[f]; !ok {
				t.Fatalf("clusters/info item lacks %s: %v", f, c)
			}
		}
		if created := c["createTime"].(string); prev != "" && created > prev {
			t.Fatalf("not newest first: %s after %s", created, prev)
		} else {
			prev = created
		}
	}
	one := want200(t, call(t, "GET", shared.url+"/api/v1/cube/clusters/info?cluster="+shared.clusters[0].Name, token, nil)).JSON(t)
	if c := one["items"].([]any)[0].(map[string]any); c["clusterName"] != shared.clusters[0].Name || c["status"] != "normal" || c["isMemberCluster"] != true {
		t.Fatalf("clusters/info?cluster= %v", one)
	}
	paged := want200(t, call(t, "GET", shared.url+"/api/v1/cube/clusters/info?pageNum=2&pageSize=1", token, nil)).JSON(t)
	if len(paged["items"].([]any)) != 1 || paged["total"].(float64) < 2 {
		t.Fatalf("paged clusters/info = %v", paged)
	}
	want(t, call(t, "GET", shared.url+"/api/v1/cube/clusters/info?cluster=no-such", token, nil), 404)
	want(t, call(t, "GET", shared.url+"/api/v1/cube/clusters/info?pageNum=x&pageSize=1", token, nil), 400)
}

// Where kubegate answers KubeCube's list parameters differently on purpose
// (docs/migrating.md), each difference pinned.
func TestKubeCubeListDifferencesOnPurpose(t *testing.T) {
	seedDeployments(t)
	admin := login(t, "admin", adminPassword)
	c := shared.clusters[0].Name
	list := func(query string) map[string]any {
		t.Helper()
		return want200(t, call(t, "GET", proxyURL(c, "/apis/apps/v1/namespaces/ns-a/deployments?"+query), admin, nil)).JSON(t)
	}
	// A page past the end is empty, with the total (KubeCube's newest code returns every item).
	if l := list("pageSize=20&pageNum=99"); len(l["items"].([]any)) != 0 || l["total"].(float64) != 125 {
		t.Fatalf("past the last page: %d items, total %v", len(l["items"].([]any)), l["total"])
	}
	// total is there when nothing matches (KubeCube omits it on an empty list).
	if l := list("selector=metadata.name=nothing-like-this"); l["total"] != float64(0) {
		t.Fatalf("no match: total %v", l["total"])
	}
	// ~ is case-insensitive (KubeCube's is case-sensitive).
	if l := list("selector=" + url.QueryEscape("metadata.name~APP-00")); l["total"].(float64) != 3 { // app-000, app-004, app-008
		t.Fatalf("case-insensitive fuzzy: total %v", l["total"])
	}
	// sortFunc=string honours sortOrder (KubeCube's always sorts it descending).
	asc := list("sortName=metadata.name&sortFunc=string&sortOrder=asc&pageSize=1")["items"].([]any)[0].(map[string]any)
	if asc["metadata"].(map[string]any)["name"] != "app-000" {
		t.Fatalf("string ascending starts with %v", asc["metadata"].(map[string]any)["name"])
	}
	// Malformed values are 400s naming the parameter, not silently defaulted.
	for _, q := range []string{"pageSize=ten", "pageNum=0", "sortOrder=up", "sortFunc=date", "selector=spec.replicas%3Emany", "selector=%28"} {
		r := want(t, call(t, "GET", proxyURL(c, "/apis/apps/v1/namespaces/ns-a/deployments?"+q), admin, nil), 400)
		if param, _, _ := strings.Cut(q, "="); !strings.Contains(string(r.Body), "parameter "+param) {
			t.Fatalf("%s: %s", q, r.Body)
		}
	}
	// Numbers compare by their JSON text.
	three := 0
	for _, d := range expected(t, "ns-a") {
		if *d.Spec.Replicas == 3 {
			three++
		}
	}
	if l := list("selector=spec.replicas=3"); int(l["total"].(float64)) != three || three == 0 {
		t.Fatalf("spec.replicas=3: total %v, want %d", l["total"], three)
	}
	// clusters/info: project is accepted and filters nothing (no projects here);
	// the live figures are 0, as KubeCube's prune=true.
	all := want200(t, call(t, "GET", shared.url+"/api/v1/cube/clusters/info", admin, nil)).JSON(t)
	byProject := want200(t, call(t, "GET", shared.url+"/api/v1/cube/clusters/info?project=anything&prune=true", admin, nil)).JSON(t)
	if all["total"] != byProject["total"] {
		t.Fatalf("project filtered: %v vs %v", byProject["total"], all["total"])
	}
	for _, it := range all["items"].([]any) {
		for _, f := range []string{"nodeCount", "namespaceCount", "usedCpu", "totalCpu", "usedMem", "totalMem"} {
			if it.(map[string]any)[f] != float64(0) {
				t.Fatalf("%s = %v", f, it.(map[string]any)[f])
			}
		}
	}
	// clusters/info past the end: [] (KubeCube: null).
	if info := want200(t, call(t, "GET", shared.url+"/api/v1/cube/clusters/info?pageNum=99&pageSize=5", admin, nil)).JSON(t); info["items"] == nil {
		t.Fatal("items is null past the end")
	}
	// Creating a key takes POST: KubeCube's GET would create keys from a prefetched link.
	want(t, call(t, "GET", shared.url+"/api/v1/cube/key/create", admin, nil), 405)
	// Deleting a key answers a Kubernetes Success Status (KubeCube: {"message":"success"}).
	k := want(t, call(t, "POST", shared.url+"/api/v1/cube/key/create", admin, nil), 200).JSON(t)
	if del := want200(t, call(t, "DELETE", shared.url+"/api/v1/cube/key?accessKey="+k["accessKey"].(string), admin, nil)).JSON(t); del["status"] != "Success" || del["kind"] != "Status" {
		t.Fatalf("delete = %v", del)
	}
}
