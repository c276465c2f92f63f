package dce

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/httpapi"
	"github.com/kubegate/kubegate/kubeproxy"
	"github.com/kubegate/kubegate/listquery"
	"github.com/kubegate/kubegate/request"
)

// The shapes and parameters below follow DCE 5.0's published kpanda OpenAPI
// (v0.49.0): v1alpha1Cluster, v1alpha1Deployment, v1alpha1CustomResource, and the
// enums of cluster phases, workload states and sortBy values.

// Cluster phases kpanda reports; kubegate's health maps onto them.
const (
	phaseUnspecified = "CLUSTER_PHASE_UNSPECIFIED"
	phaseRunning     = "Running"
	phaseUnknown     = "Unknown"
)

//nolint:gochecknoglobals // constant enum sets of the published API.
var (
	clusterPhases  = []string{phaseUnspecified, phaseUnknown, "Creating", phaseRunning, "Updating", "Deleting", "Failed", "DeleteFailed"}
	clusterRoles   = []string{"CLUSTER_ROLE_UNSPECIFIED", "CLUSTER_ROLE_MANAGER", "CLUSTER_ROLE_GLOBAL_SERVICE", "CLUSTER_ROLE_WORKER", "CLUSTER_ROLE_THIRD_PARTY"}
	workloadStates = []string{"WORKLOAD_STATE_UNSPECIFIED", "Running", "Deleting", "Not_Ready", "Stopped", "Waiting"}
)

// params checks a request's query against the parameters an operation takes:
// an unknown one is a 400 naming it, as are values outside an enum and booleans
// that are not booleans.
type params struct {
	allowed map[string]bool
	enums   map[string][]string
	bools   []string
	multi   []string // may be given more than once (a repeated query parameter, as grpc-gateway reads arrays)
}

func (p params) check(q url.Values) error {
	for k, vs := range q {
		if !p.allowed[k] {
			names := make([]string, 0, len(p.allowed))
			for n := range p.allowed {
				names = append(names, n)
			}
			sort.Strings(names)
			return kubegate.Errorf(kubegate.EInvalid, "unknown parameter %q; allowed: %s", k, strings.Join(names, ", "))
		}
		if len(vs) != 1 && !contains(p.multi, k) {
			return kubegate.Errorf(kubegate.EInvalid, "parameter %s: given %d times; give it once", k, len(vs))
		}
		if enum, ok := p.enums[k]; ok && vs[0] != "" && !contains(enum, vs[0]) {
			return kubegate.Errorf(kubegate.EInvalid, "parameter %s: must be one of %s, got %q", k, strings.Join(enum, ", "), vs[0])
		}
	}
	for _, b := range p.bools {
		if v := q.Get(b); v != "" {
			if _, err := strconv.ParseBool(v); err != nil {
				return kubegate.Errorf(kubegate.EInvalid, "parameter %s: must be true or false, got %q", b, v)
			}
		}
	}
	return nil
}

func newParams(names ...string) params {
	p := params{allowed: map[string]bool{}, enums: map[string][]string{}}
	for _, n := range names {
		p.allowed[n] = true
	}
	return p
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// epochSeconds is an RFC 3339 time as kpanda's int64-as-string timestamps.
func epochSeconds(rfc3339 any) string {
	s, _ := rfc3339.(string)
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return ""
	}
	return strconv.FormatInt(t.Unix(), 10)
}

// ---- clusters ----

//nolint:gochecknoglobals // constant descriptions of the published API.
var (
	clusterListParams = func() params {
		p := newParams("name", "page", "pageSize", "role", "kubernetesVersion", "phase", "labelSelector", "fieldSelector", "managedBy",
			"sortBy", "sortDir", "showVirtualCluster", "fuzzyName", "excludeMetrics", "showShimCluster")
		p.enums["phase"], p.enums["role"] = clusterPhases, clusterRoles
		p.bools = []string{"showVirtualCluster", "excludeMetrics", "showShimCluster"}
		return p
	}()
	clusterGetParams = func() params {
		p := newParams("page", "pageSize", "status", "sortBy", "sortDir", "excludeMetrics")
		p.bools = []string{"excludeMetrics"}
		return p
	}()
	clusterShape = listquery.DCEShape{
		Name: listquery.Path{"metadata", "name"},
		Sorts: map[string]listquery.SortSpec{
			"field_name": {Path: listquery.Path{"metadata", "name"}, Func: listquery.SortString},
			"cluster":    {Path: listquery.Path{"metadata", "name"}, Func: listquery.SortString},
			"created_at": {Path: listquery.Path{"metadata", "creationTimestamp"}, Func: listquery.SortNumber},
			"namespace":  {Path: listquery.Path{"metadata", "namespace"}, Func: listquery.SortString},
			"state":      {Path: listquery.Path{"status", "phase"}, Func: listquery.SortString},
			"workspace":  {Path: listquery.Path{"metadata", "workspaceAlias"}, Func: listquery.SortString},
		},
		Default: listquery.SortSpec{Path: listquery.Path{"metadata", "creationTimestamp"}, Func: listquery.SortNumber},
	}
)

// kpandaCluster is a registered cluster as a v1alpha1Cluster.
func kpandaCluster(c kubegate.Cluster, h kubegate.ClusterHealth, id *kubegate.Identity) map[string]any {
	phase := phaseUnknown
	if h.Status == "Ready" {
		phase = phaseRunning
	}
	endpoint := "" // administrators only
	if u, err := url.Parse(c.Server); err == nil && id.SeesUpstreams() {
		endpoint = u.Host
	}
	lbls := map[string]any{}
	for k, v := range c.Labels {
		lbls[k] = v
	}
	return map[string]any{
		"metadata": map[string]any{
			"name": c.Name, "creationTimestamp": strconv.FormatInt(c.CreatedAt.Unix(), 10), "labels": lbls,
			"annotations": map[string]any{},
		},
		"spec": map[string]any{
			"provider": "GENERIC", "apiEndpoint": endpoint, "aliasName": c.Description,
			"roles": []any{"CLUSTER_ROLE_WORKER"}, // every cluster behind the gateway is a member
		},
		"status": map[string]any{"kubernetesVersion": h.Version, "phase": phase, "conditions": []any{}},
	}
}

func (a api) listClusters(w http.ResponseWriter, r *http.Request, id *kubegate.Identity) error {
	query := r.URL.Query()
	if err := clusterListParams.check(query); err != nil {
		return err
	}
	q, err := listquery.ParseDCE(query, a.o.MaxPageSize, clusterShape)
	if err != nil {
		return err
	}
	for param, path := range map[string]listquery.Path{
		"phase": {"status", "phase"}, "kubernetesVersion": {"status", "kubernetesVersion"}, "managedBy": {"spec", "managedBy"},
	} {
		if v := query.Get(param); v != "" && v != phaseUnspecified {
			q.Conds = append(q.Conds, listquery.Cond{Path: path, Op: listquery.Eq, Values: []string{v}})
		}
	}
	if v := query.Get("role"); v != "" && v != "CLUSTER_ROLE_UNSPECIFIED" {
		q.Conds = append(q.Conds, listquery.Cond{Path: listquery.Path{"spec", "roles"}, Op: listquery.Eq, Values: []string{v}})
	}
	match, err := selectors(query, func(obj map[string]any) fields.Set {
		md, _ := obj["metadata"].(map[string]any)
		st, _ := obj["status"].(map[string]any)
		return fields.Set{"metadata.name": fmt.Sprint(md["name"]), "status.phase": fmt.Sprint(st["phase"])}
	})
	if err != nil {
		return err
	}
	c := listquery.NewPager(q, a.o.MaxPageSize)
	for _, cl := range id.VisibleClusters(a.o.Clusters.List()) {
		if obj := kpandaCluster(cl, a.o.Clusters.Health(cl.Name), id); match(obj) {
			c.AddDecoded(obj, nil)
		}
	}
	items, err := c.Page()
	if err != nil {
		return err
	}
	return httpapi.WriteJSON(w, http.StatusOK, map[string]any{"items": nonNil(items), "pagination": httpapi.NewPagination(q.PageNum, q.PageSize, c.Total())})
}

func (a api) getCluster(w http.ResponseWriter, r *http.Request, id *kubegate.Identity) error {
	if err := clusterGetParams.check(r.URL.Query()); err != nil {
		return err
	}
	name := r.PathValue("cluster")
	if err := id.CheckCluster(name); err != nil {
		return err
	}
	for _, c := range a.o.Clusters.List() {
		if c.Name == name {
			return httpapi.WriteJSON(w, http.StatusOK, kpandaCluster(c, a.o.Clusters.Health(name), id))
		}
	}
	return kubegate.Errorf(kubegate.ENotFound, "cluster %q not found", name)
}

// selectors compiles labelSelector and fieldSelector into a predicate over items
// of a shape whose labels are at metadata.labels and whose selectable fields set
// gives; a field the shape does not have is a 400.
func selectors(q url.Values, fieldSet func(map[string]any) fields.Set) (func(map[string]any) bool, error) {
	ls, err := labels.Parse(q.Get("labelSelector"))
	if err != nil {
		return nil, kubegate.Errorf(kubegate.EInvalid, "parameter labelSelector: %v", err)
	}
	fs, err := fields.ParseSelector(q.Get("fieldSelector"))
	if err != nil {
		return nil, kubegate.Errorf(kubegate.EInvalid, "parameter fieldSelector: %v", err)
	}
	known := fieldSet(map[string]any{})
	for _, req := range fs.Requirements() {
		if _, ok := known[req.Field]; !ok {
			return nil, kubegate.Errorf(kubegate.EInvalid, "parameter fieldSelector: field %q is not selectable here", req.Field)
		}
	}
	return func(obj map[string]any) bool {
		md, _ := obj["metadata"].(map[string]any)
		set := labels.Set{}
		if l, ok := md["labels"].(map[string]any); ok {
			for k, v := range l {
				set[k] = fmt.Sprint(v)
			}
		}
		return ls.Matches(set) && fs.Matches(fieldSet(obj))
	}, nil
}

func nonNil(items []json.RawMessage) []json.RawMessage {
	if items == nil {
		return []json.RawMessage{}
	}
	return items
}

// ---- a cluster's resources ----

//nolint:gochecknoglobals // constant descriptions of the published API.
var (
	deploymentParams = func() params {
		p := newParams("page", "pageSize", "name", "phase", "sortBy", "sortDir", "labelSelector", "fieldSelector", "fuzzyName", "gpuType")
		p.enums["phase"] = workloadStates
		return p
	}()
	// DCE's Deployments of all clusters (asl: all-scope list): the
	// Deployment list's parameters, and which clusters and namespace.
	allDeploymentParams = func() params {
		p := newParams("cluster", "namespace", "page", "pageSize", "name", "phase", "sortBy", "sortDir", "labelSelector", "fieldSelector", "fuzzyName", "gpuType", "showVirtualCluster")
		p.enums["phase"] = workloadStates
		p.bools = []string{"showVirtualCluster"}
		p.multi = []string{"cluster"}
		return p
	}()
	// The union of the namespaced and the cluster-wide gvr lists' parameters.
	gvrParams = func() params {
		p := newParams("page", "pageSize", "name", "fuzzyName", "sortBy", "sortDir", "labelSelector", "fieldSelector", "showDetail", "ownerReference")
		p.bools = []string{"showDetail"}
		return p
	}()
	deploymentShape = listquery.DCEShape{
		Name: listquery.Path{"metadata", "name"},
		Sorts: map[string]listquery.SortSpec{
			"field_name": {Path: listquery.Path{"metadata", "name"}, Func: listquery.SortString},
			"state":      {Path: listquery.Path{"status", "state"}, Func: listquery.SortString},
			"workspace":  {Path: listquery.Path{"metadata", "workspaceAlias"}, Func: listquery.SortString},
			"cluster":    {Path: listquery.Path{"metadata", "cluster"}, Func: listquery.SortString},
			"namespace":  {Path: listquery.Path{"metadata", "namespace"}, Func: listquery.SortString},
			"created_at": {Path: listquery.Path{"metadata", "creationTimestamp"}, Func: listquery.SortNumber},
		},
		Default: listquery.SortSpec{Path: listquery.Path{"metadata", "creationTimestamp"}, Func: listquery.SortNumber},
	}
	customResourceShape = listquery.DCEShape{
		Name: listquery.Path{"name"},
		Sorts: map[string]listquery.SortSpec{
			"field_name": {Path: listquery.Path{"name"}, Func: listquery.SortString},
			"namespace":  {Path: listquery.Path{"namespace"}, Func: listquery.SortString},
			"created_at": {Path: listquery.Path{"creationTimestamp"}, Func: listquery.SortNumber},
			// One cluster, and no state or workspace to a generic resource: DCE
			// itself marks these "not supported yet"; they keep the default order.
			"cluster":   {Path: listquery.Path{"creationTimestamp"}, Func: listquery.SortNumber},
			"state":     {Path: listquery.Path{"creationTimestamp"}, Func: listquery.SortNumber},
			"workspace": {Path: listquery.Path{"creationTimestamp"}, Func: listquery.SortNumber},
		},
		Default: listquery.SortSpec{Path: listquery.Path{"creationTimestamp"}, Func: listquery.SortNumber},
	}
)

// listResources answers /apis/kpanda.io/v1alpha1/clusters/{cluster}[/namespaces/{ns}]/deployments
// (v1alpha1Deployment items) and .../clusters/{cluster}/gvr/{group}/{version}[/namespaces/{ns}]/{resource}
// (v1alpha1CustomResource items): the request classification has mapped the path
// to the Kubernetes collection.
func (a api) listResources(w http.ResponseWriter, r *http.Request, _ *kubegate.Identity) error {
	info := request.InfoFrom(r.Context())
	if info.PathErr != nil {
		return info.PathErr
	}
	query := r.URL.Query()
	gvr := strings.HasPrefix(r.PathValue("rest"), "gvr/")
	check, shape := deploymentParams, deploymentShape
	if gvr {
		check, shape = gvrParams, customResourceShape
	}
	if err := check.check(query); err != nil {
		return err
	}
	q, err := listquery.ParseDCE(query, a.o.MaxPageSize, shape)
	if err != nil {
		return err
	}
	upstream := url.Values{}
	for _, k := range []string{"labelSelector", "fieldSelector"} {
		if v := query.Get(k); v != "" {
			upstream.Set(k, v)
		}
	}
	var transform func(map[string]any) (map[string]any, bool)
	if gvr {
		showDetail, _ := strconv.ParseBool(query.Get("showDetail"))
		transform = customResource(info.APIGroup, info.APIVersion, query.Get("ownerReference"), showDetail)
	} else {
		if v := query.Get("phase"); v != "" && v != workloadStates[0] {
			q.Conds = append(q.Conds, listquery.Cond{Path: listquery.Path{"status", "state"}, Op: listquery.Eq, Values: []string{v}})
		}
		transform = deployment(info.Cluster, query.Get("gpuType"))
	}
	res, err := a.o.Lister.List(r.Context(), kubeproxy.ListRequest{Collection: info.KubeRequest, Params: upstream, Query: q, Transform: transform})
	if err != nil {
		return err
	}
	items := res.NonNilItems()
	if gvr {
		if items, err = finishCustomResources(items, strings.TrimSuffix(res.Kind, "List")); err != nil {
			return err
		}
	}
	return httpapi.WriteJSON(w, http.StatusOK, map[string]any{
		"items":      items,
		"pagination": httpapi.NewPagination(q.PageNum, q.PageSize, res.Total),
	})
}

// listAllDeployments answers /apis/kpanda.io/v1alpha1/asl/deployments, DCE's
// Deployments of every cluster (cluster=, repeated, names some; namespace=
// one namespace), as v1alpha1Deployment items, each naming its cluster: the
// proxy's list across clusters, as the caller. Beside DCE's items and
// pagination, clusters says what each cluster answered, so that a cluster
// that refused or is down is never read as empty.
func (a api) listAllDeployments(w http.ResponseWriter, r *http.Request, _ *kubegate.Identity) error {
	query := r.URL.Query()
	if err := allDeploymentParams.check(query); err != nil {
		return err
	}
	q, err := listquery.ParseDCE(query, a.o.MaxPageSize, deploymentShape)
	if err != nil {
		return err
	}
	if v := query.Get("phase"); v != "" && v != workloadStates[0] {
		q.Conds = append(q.Conds, listquery.Cond{Path: listquery.Path{"status", "state"}, Op: listquery.Eq, Values: []string{v}})
	}
	var set []string
	for _, c := range query["cluster"] {
		if c != "" && !contains(set, c) {
			set = append(set, c)
		}
	}
	segment := request.AllClusters
	if len(set) > 0 {
		segment = strings.Join(set, ",")
	} else {
		set = []string{request.AllClusters}
	}
	if _, err := request.ParseClusterSet(segment); err != nil {
		return kubegate.Errorf(kubegate.EInvalid, "parameter cluster: %s", kubegate.ErrorMessage(err))
	}
	path := "/apis/apps/v1/deployments"
	if ns := query.Get("namespace"); ns != "" {
		path = "/apis/apps/v1/namespaces/" + ns + "/deployments"
	}
	info := request.ClassifyList(segment, path)
	if info.PathErr != nil {
		return kubegate.Errorf(kubegate.EInvalid, "parameter namespace: %s", kubegate.ErrorMessage(info.PathErr))
	}
	if !info.IsCollection() || info.Resource != "deployments" {
		return kubegate.Errorf(kubegate.EInvalid, "parameter namespace: %q is not a namespace name", query.Get("namespace"))
	}
	upstream := url.Values{}
	for _, k := range []string{"labelSelector", "fieldSelector"} {
		if v := query.Get(k); v != "" {
			upstream.Set(k, v)
		}
	}
	gpuType := query.Get("gpuType")
	res, err := a.o.Lister.ListAcross(r.Context(), kubeproxy.AcrossRequest{
		Set: set, Collection: info.KubeRequest, Query: q, Params: upstream,
		Transform: func(cluster string) func(map[string]any) (map[string]any, bool) { return deployment(cluster, gpuType) },
	})
	if err != nil || res == nil {
		return err
	}
	return httpapi.WriteJSON(w, http.StatusOK, map[string]any{
		"items":      nonNil(res.Items),
		"pagination": httpapi.NewPagination(q.PageNum, q.PageSize, res.Total),
		"clusters":   res.Clusters,
	})
}

// objectMeta is a Kubernetes object's metadata as kpanda's typesObjectMeta.
func objectMeta(md map[string]any, cluster string) map[string]any {
	out := map[string]any{}
	for _, k := range []string{"name", "namespace", "uid", "resourceVersion", "labels", "annotations"} {
		if v, ok := md[k]; ok {
			out[k] = v
		}
	}
	if cluster != "" {
		out["cluster"] = cluster
	}
	if v := epochSeconds(md["creationTimestamp"]); v != "" {
		out["creationTimestamp"] = v
	}
	if v := epochSeconds(md["deletionTimestamp"]); v != "" {
		out["deletionTimestamp"] = v
	}
	if refs, ok := md["ownerReferences"].([]any); ok {
		var out2 []any
		for _, ref := range refs {
			if m, ok := ref.(map[string]any); ok {
				o := map[string]any{}
				for _, k := range []string{"uid", "controller", "name", "kind", "apiVersion", "blockOwnerDeletion"} {
					if v, ok := m[k]; ok {
						o[k] = v
					}
				}
				out2 = append(out2, o)
			}
		}
		out["ownerReferences"] = out2
	}
	return out
}

// workloadState derives DCE's state of a Deployment, as DCE documents the values:
// Deleting (being deleted), Waiting (paused), Stopped (no replicas wanted),
// Running (every wanted replica ready and available), Not_Ready (otherwise).
func workloadState(md, spec, status map[string]any) string {
	num := func(m map[string]any, k string, def float64) float64 {
		if v, ok := m[k].(float64); ok {
			return v
		}
		return def
	}
	switch {
	case md["deletionTimestamp"] != nil:
		return "Deleting"
	case spec["paused"] == true:
		return "Waiting"
	}
	want := num(spec, "replicas", 1)
	switch {
	case want == 0:
		return "Stopped"
	case num(status, "readyReplicas", 0) >= want && num(status, "availableReplicas", 0) >= want:
		return "Running"
	default:
		return "Not_Ready"
	}
}

// deployment turns Kubernetes Deployments into v1alpha1Deployment items; with a
// gpuType (not "*"), only those whose pods ask for a resource of that name stay.
func deployment(cluster, gpuType string) func(map[string]any) (map[string]any, bool) {
	return func(obj map[string]any) (map[string]any, bool) {
		md, _ := obj["metadata"].(map[string]any)
		spec, _ := obj["spec"].(map[string]any)
		status, _ := obj["status"].(map[string]any)
		tmpl, _ := spec["template"].(map[string]any)
		tmplMD, _ := tmpl["metadata"].(map[string]any)
		podSpec, _ := tmpl["spec"].(map[string]any)
		if gpuType != "" && gpuType != "*" && !asksFor(podSpec, gpuType) {
			return nil, false
		}
		strategy := map[string]any{}
		if s, ok := spec["strategy"].(map[string]any); ok {
			strategy["type"] = s["type"]
			if ru, ok := s["rollingUpdate"].(map[string]any); ok {
				strategy["rollingUpdate"] = map[string]any{"maxSurge": intOrString(ru["maxSurge"]), "maxUnavailable": intOrString(ru["maxUnavailable"])}
			}
		}
		var conditions []any
		if cs, ok := status["conditions"].([]any); ok {
			for _, c := range cs {
				if m, ok := c.(map[string]any); ok {
					o := map[string]any{}
					for _, k := range []string{"lastTransitionTime", "lastUpdateTime", "message", "reason", "status", "type"} {
						if v, ok := m[k]; ok {
							o[k] = v
						}
					}
					conditions = append(conditions, o)
				}
			}
		}
		num := func(k string) any {
			if v, ok := status[k].(float64); ok {
				return v
			}
			return 0
		}
		revision := "0"
		if ann, ok := md["annotations"].(map[string]any); ok {
			if v, ok := ann["deployment.kubernetes.io/revision"].(string); ok {
				revision = v
			}
		}
		return map[string]any{
			"metadata": objectMeta(md, cluster),
			"spec": map[string]any{
				"template": map[string]any{"metadata": objectMeta(tmplMD, ""), "spec": podSpec},
				"strategy": strategy,
				"paused":   spec["paused"] == true,
			},
			"status": map[string]any{
				"availableReplicas": num("availableReplicas"), "readyReplicas": num("readyReplicas"), "replicas": num("replicas"),
				"state": workloadState(md, spec, status), "conditions": nonNilAny(conditions),
			},
			"revision": revision,
		}, true
	}
}

func nonNilAny(v []any) []any {
	if v == nil {
		return []any{}
	}
	return v
}

// asksFor says whether a pod spec's containers request or limit a resource whose
// name contains want (e.g. nvidia.com/gpu).
func asksFor(podSpec map[string]any, want string) bool {
	cs, _ := podSpec["containers"].([]any)
	for _, c := range cs {
		res, _ := c.(map[string]any)["resources"].(map[string]any)
		for _, kind := range []string{"limits", "requests"} {
			m, _ := res[kind].(map[string]any)
			for name := range m {
				if strings.Contains(name, want) {
					return true
				}
			}
		}
	}
	return false
}

func intOrString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	default:
		return fmt.Sprint(x)
	}
}

// customResource turns any Kubernetes object into a v1alpha1CustomResource: flat
// fields, and with showDetail its whole YAML in data. With an owner, only objects
// it owns (by owner name or uid) stay.
func customResource(group, version, owner string, showDetail bool) func(map[string]any) (map[string]any, bool) {
	apiVersion := version
	if group != "" {
		apiVersion = group + "/" + version
	}
	return func(obj map[string]any) (map[string]any, bool) {
		md, _ := obj["metadata"].(map[string]any)
		if owner != "" && !ownedBy(md, owner) {
			return nil, false
		}
		out := map[string]any{
			"kind": obj["kind"], "apiVersion": apiVersion, "name": md["name"], "namespace": md["namespace"],
			"creationTimestamp": epochSeconds(md["creationTimestamp"]), "labels": md["labels"], "data": "",
		}
		if v, ok := obj["apiVersion"].(string); ok {
			out["apiVersion"] = v
		}
		if showDetail {
			out["data"] = obj // YAML once on the page, with its kind (finishCustomResources)
		}
		return out, true
	}
}

func ownedBy(md map[string]any, owner string) bool {
	refs, _ := md["ownerReferences"].([]any)
	for _, ref := range refs {
		if m, ok := ref.(map[string]any); ok && (m["uid"] == owner || m["name"] == owner) {
			return true
		}
	}
	return false
}

// finishCustomResources completes a page of custom resources: the kind of items
// that Kubernetes listed without one (typed lists leave it to the list), and the
// object's YAML in data when it was asked for.
func finishCustomResources(items []json.RawMessage, kind string) ([]json.RawMessage, error) {
	for i, raw := range items {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, err
		}
		if k, _ := m["kind"].(string); k == "" {
			m["kind"] = kind
		}
		if obj, ok := m["data"].(map[string]any); ok {
			if _, ok := obj["kind"]; !ok {
				obj["kind"], obj["apiVersion"] = m["kind"], m["apiVersion"]
			}
			y, err := yaml.Marshal(obj)
			if err != nil {
				return nil, err
			}
			m["data"] = string(y)
		}
		b, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		items[i] = b
	}
	return items, nil
}

// lister is the proxy's list engine, as the adapter needs it.
type lister interface {
	List(ctx context.Context, req kubeproxy.ListRequest) (*kubeproxy.ListResult, error)
	ListAcross(ctx context.Context, req kubeproxy.AcrossRequest) (*kubeproxy.AcrossResult, error)
}
