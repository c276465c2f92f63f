package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/httperr"
	"github.com/kubegate/kubegate/kubeproxy"
	"github.com/kubegate/kubegate/listquery"
	"github.com/kubegate/kubegate/request"
)

// Searcher lists a resource across clusters as the caller (kubeproxy.Proxy).
type Searcher interface {
	ListAcross(ctx context.Context, req kubeproxy.AcrossRequest) (*kubeproxy.AcrossResult, error)
}

// searchPageSize is how many objects the search page shows at once.
const searchPageSize = 20

// searchResources are the resources the search page offers first (any
// group/version/resource may be typed).
var searchResources = []string{ //nolint:gochecknoglobals // a constant list.
	"apps/v1/deployments", "apps/v1/statefulsets", "apps/v1/daemonsets", "v1/pods", "v1/services", "v1/configmaps",
	"v1/namespaces", "v1/nodes", "batch/v1/jobs", "batch/v1/cronjobs", "networking.k8s.io/v1/ingresses",
}

// resourceForm is "version/resource" (the core group) or
// "group/version/resource".
var resourceForm = regexp.MustCompile(`^(?:([a-z0-9][a-z0-9.-]{0,252})/)?(v[0-9][a-z0-9]{0,15})/([a-z0-9][a-z0-9-]{0,62})$`)

var namespaceName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

type searchRow struct {
	Cluster, Namespace, Name, Created, Labels string
}

type searchCluster struct {
	Name, Message string
	Total         int
	OK            bool
}

type searchPage struct {
	Resource, Namespace, Selector, Sort, Order string
	Selected                                   map[string]bool
	Clusters, Resources                        []string
	Rows                                       []searchRow
	Answers                                    []searchCluster
	Total, Page, Pages                         int
	PrevURL, NextURL                           string
	Curl                                       string
	Ran                                        bool
}

// sorts are the orders the search page offers, by the form's value.
func (searchPage) sortPath(v string) (name, fn string, ok bool) {
	switch v {
	case "", "name":
		return "metadata.name", "", true
	case "created":
		return "metadata.creationTimestamp", "time", true
	case "namespace":
		return "metadata.namespace", "", true
	}
	return "", "", false
}

// search finds objects of one resource across clusters — the list across
// clusters of the proxy, as the signed-in user — and shows the curl call that
// asks the same of the API.
func (c *Console) search(w http.ResponseWriter, r *http.Request) {
	p := c.newPage(r, "search")
	q := r.URL.Query()
	x := searchPage{
		Resource: strings.TrimSpace(q.Get("resource")), Namespace: strings.TrimSpace(q.Get("namespace")), Selector: q.Get("selector"),
		Sort: q.Get("sort"), Order: q.Get("order"), Selected: map[string]bool{}, Resources: searchResources, Page: 1, Pages: 1,
	}
	for _, cl := range p.User.VisibleClusters(c.o.Clusters.List()) {
		x.Clusters = append(x.Clusters, cl.Name)
	}
	if x.Resource == "" {
		x.Resource = searchResources[0]
	}
	if x.Order == "" {
		x.Order = "asc"
	}
	p.Extras = &x
	fail := func(err error) {
		p.Error = kubegate.ErrorMessage(err)
		c.renderStatus(w, r, p, int(httperr.Status(err).Code))
	}
	var set []string
	for _, name := range q["cluster"] {
		if x.Selected[name] {
			continue
		}
		x.Selected[name] = true
		set = append(set, name)
	}
	sort.Strings(set)
	segment := request.AllClusters
	if len(set) > 0 {
		segment = strings.Join(set, ",")
	}
	if _, err := request.ParseClusterSet(segment); err != nil {
		fail(err)
		return
	}
	page, err := pageParam(q)
	if err != nil {
		fail(err)
		return
	}
	x.Page = page
	m := resourceForm.FindStringSubmatch(x.Resource)
	if m == nil {
		fail(kubegate.Errorf(kubegate.EInvalid, "resource %q is not version/resource (v1/pods) or group/version/resource (apps/v1/deployments)", x.Resource))
		return
	}
	path := "/apis/" + m[1] + "/" + m[2]
	if m[1] == "" {
		path = "/api/" + m[2]
	}
	if x.Namespace != "" {
		if !namespaceName.MatchString(x.Namespace) {
			fail(kubegate.Errorf(kubegate.EInvalid, "namespace %q is not a namespace name (lower-case letters, digits and '-', at most 63)", x.Namespace))
			return
		}
		path += "/namespaces/" + x.Namespace
	}
	path += "/" + m[3]
	sortName, sortFunc, ok := x.sortPath(x.Sort)
	if !ok {
		fail(kubegate.Errorf(kubegate.EInvalid, "sort must be name, created or namespace, got %q", x.Sort))
		return
	}
	params := url.Values{"pageSize": {strconv.Itoa(searchPageSize)}, "pageNum": {strconv.Itoa(page)}, "sortName": {sortName}, "sortOrder": {x.Order}}
	if sortFunc != "" {
		params.Set("sortFunc", sortFunc)
	}
	if strings.TrimSpace(x.Selector) != "" {
		params.Set("selector", x.Selector)
	}
	x.Curl = fmt.Sprintf("curl -H \"Authorization: Bearer $TOKEN\" '%s%s%s%s?%s'", p.Base, request.ProxyPrefix, segment, path, params.Encode())
	query, err := listquery.ParseKubeCube(params, searchPageSize)
	if err != nil {
		fail(err)
		return
	}
	info := request.ClassifyList(segment, path)
	if info.PathErr != nil {
		fail(info.PathErr)
		return
	}
	if len(set) == 0 {
		set = []string{request.AllClusters}
	}
	res, err := c.o.Search.ListAcross(r.Context(), kubeproxy.AcrossRequest{Set: set, Collection: info.KubeRequest, Query: query, Params: url.Values{}})
	if err != nil {
		fail(err)
		return
	}
	if res == nil {
		return // the browser went away
	}
	x.Ran, x.Total = true, res.Total
	x.Pages, x.PrevURL, x.NextURL = pager(r.URL, page, res.Total, searchPageSize)
	for _, a := range res.Clusters {
		sc := searchCluster{Name: a.Name, OK: a.Status == "Success", Message: a.Message}
		if a.Total != nil {
			sc.Total = *a.Total
		}
		x.Answers = append(x.Answers, sc)
	}
	for _, raw := range res.Items {
		x.Rows = append(x.Rows, searchRowOf(raw))
	}
	c.render(w, r, p)
}

// searchRowOf is what the search table shows of an object.
func searchRowOf(raw json.RawMessage) searchRow {
	var o struct {
		Metadata struct {
			Name, Namespace, CreationTimestamp string
			Labels, Annotations                map[string]string
		}
	}
	_ = json.Unmarshal(raw, &o) // the proxy annotated it: a JSON object
	md := o.Metadata
	labels := make([]string, 0, len(md.Labels))
	for k, v := range md.Labels {
		labels = append(labels, k+"="+v)
	}
	sort.Strings(labels)
	l := strings.Join(labels, ", ")
	if len(l) > 120 {
		l = l[:117] + "…"
	}
	return searchRow{Cluster: md.Annotations[kubegate.ClusterAnnotation], Namespace: md.Namespace, Name: md.Name, Created: md.CreationTimestamp, Labels: l}
}
