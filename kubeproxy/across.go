package kubeproxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/httpapi"
	"github.com/kubegate/kubegate/httperr"
	"github.com/kubegate/kubegate/listquery"
	"github.com/kubegate/kubegate/request"
)

// StrictParam makes a list across clusters fail when any cluster fails,
// instead of reporting that cluster in the answer's clusters.
const StrictParam = "strict"

// Bounds of a list across clusters: every cluster is a query of its own, and
// each keeps its best items up to the end of the page until they are merged.
const (
	// acrossParallel is how many clusters one list asks at once.
	acrossParallel = 8
	// maxAcrossItems bounds the items held for the merge: clusters × the depth
	// of the page.
	maxAcrossItems = 50_000
	// acrossTimeout bounds how long one cluster may take to answer, so that a
	// cluster that accepts connections but hangs is reported, not waited for.
	acrossTimeout = 30 * time.Second
)

// ClusterAnswer is one cluster's part of a list across clusters: how many of
// its objects matched, or why it did not answer (as a Kubernetes Status says).
type ClusterAnswer struct {
	Name            string `json:"name"`
	Status          string `json:"status"` // Success or Failure
	Total           *int   `json:"total,omitempty"`
	ResourceVersion string `json:"resourceVersion,omitempty"`
	// Source is where the answer came from, with a list cache: cache or cluster.
	Source  string `json:"source,omitempty"`
	Code    int    `json:"code,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// AcrossRequest is a list over a set of clusters.
type AcrossRequest struct {
	// Set is the cluster set: [request.AllClusters] or names.
	Set []string
	// Collection is what each cluster is asked (its Cluster is set per cluster).
	Collection kubegate.KubeRequest
	Query      *listquery.Query
	// Params are passed upstream (labelSelector, fieldSelector).
	Params url.Values
	// Consistent asks each cluster for a strict-consistency answer
	// (consistency=strict); FailFast fails the list when any cluster fails
	// (strict=true).
	Consistent, FailFast bool
	// Transform, when set, gives for each cluster what turns its objects into
	// a dialect's items (which say their cluster themselves: they are not
	// annotated); nil keeps Kubernetes objects.
	Transform func(cluster string) func(map[string]any) (map[string]any, bool)
}

// AcrossResult is one page of a list across clusters.
type AcrossResult struct {
	APIVersion, Kind string
	// Items are annotated with their cluster (kubegate.ClusterAnnotation).
	Items    []json.RawMessage
	Total    int
	Clusters []ClusterAnswer
	// Source says where the answers came from, with a list cache: cache,
	// cluster or mixed; "" without.
	Source string
}

// serveAcross answers a list over a set of clusters (info.ClusterSet).
func (p *Proxy) serveAcross(w http.ResponseWriter, r *http.Request, info *request.Info) error {
	if r.Method != http.MethodGet || !info.IsCollection() || (info.Verb != "list" && info.Verb != "watch") {
		return kubegate.Errorf(kubegate.EInvalid, "a cluster set (%s) can only be listed: %s %s names one cluster", info.Cluster, r.Method, info.Path)
	}
	if info.Verb == "watch" {
		return p.serveWatchAcross(w, r, info)
	}
	query := r.URL.Query()
	failFast, err := boolParam(query, StrictParam)
	if err != nil {
		return err
	}
	q, consistent, upstream, err := p.listParams(query, StrictParam)
	if err != nil {
		return err
	}
	res, err := p.ListAcross(r.Context(), AcrossRequest{
		Set: info.ClusterSet, Collection: info.KubeRequest, Query: q, Params: upstream, Consistent: consistent, FailFast: failFast,
	})
	if err != nil || res == nil {
		return err
	}
	if res.Source != "" {
		w.Header().Set(ListSourceHeader, res.Source)
	}
	return httpapi.WriteJSON(w, http.StatusOK, map[string]any{
		"apiVersion": res.APIVersion, "kind": res.Kind, "metadata": map[string]any{},
		"items": res.Items, "total": res.Total, "clusters": res.Clusters,
	})
}

// ListAcross answers a list over a set of clusters as the caller in ctx: each
// cluster answers the query for its best items — its RBAC and the credential's
// scope deciding, from its cache where it can — in parallel, and the answers
// are merged into one page in one order (the sort key, then cluster,
// namespace, name), each item annotated with its cluster. A nil result without
// an error: the caller went away.
func (p *Proxy) ListAcross(ctx context.Context, req AcrossRequest) (*AcrossResult, error) {
	if len(req.Set) == 0 {
		return nil, kubegate.Errorf(kubegate.EInvalid, "a list across clusters names no cluster")
	}
	q := req.Query
	names, err := p.clusterSet(ctx, req.Set, &req.Collection)
	if err != nil {
		return nil, err
	}
	depth := q.Depth(p.opts.MaxPageSize)
	if len(names) > 0 && depth > maxAcrossItems/len(names) {
		return nil, kubegate.Errorf(kubegate.EInvalid, "parameter pageNum: page %d of %d across %d clusters needs their best %d items each, more than a list across clusters holds (%d in all); narrow the selector or the clusters", q.PageNum, q.PageSize, len(names), depth, maxAcrossItems)
	}
	top := q.Top(p.opts.MaxPageSize)

	answers := make([]ClusterAnswer, len(names))
	ranked := make([]listquery.Ranked, len(names))
	kinds := make([][2]string, len(names))
	sem := make(chan struct{}, acrossParallel)
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			var transform func(map[string]any) (map[string]any, bool)
			if req.Transform != nil {
				transform = req.Transform(name)
			}
			answers[i], ranked[i], kinds[i] = p.askCluster(ctx, name, req.Collection, top, req.Params, req.Consistent, transform)
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil, nil
	}

	res := &AcrossResult{APIVersion: "v1", Kind: "List", Clusters: answers}
	var ok []listquery.Ranked
	var failed []ClusterAnswer
	sources := map[string]bool{}
	for i, a := range answers {
		if a.Status != metav1.StatusSuccess {
			failed = append(failed, a)
			continue
		}
		ok = append(ok, ranked[i])
		sources[a.Source] = true
		if res.Kind == "List" && kinds[i][1] != "" {
			res.APIVersion, res.Kind = kinds[i][0], kinds[i][1]
		}
	}
	if len(failed) > 0 && (req.FailFast || len(ok) == 0) {
		return nil, acrossFailure(strings.Join(req.Set, ","), failed)
	}
	page, total, err := listquery.Merge(q, ok, p.opts.MaxPageSize)
	if err != nil {
		return nil, err
	}
	res.Total, res.Items = total, make([]json.RawMessage, len(page))
	for i, it := range page {
		if req.Transform != nil {
			res.Items[i] = it.Item
			continue
		}
		if res.Items[i], err = annotate(it.Item, it.Source); err != nil {
			return nil, kubegate.Errorf(kubegate.EUnavailable, "cluster %s answered an item that is not a JSON object: %v", it.Source, err)
		}
	}
	if p.opts.Cache != nil {
		res.Source = "mixed"
		switch {
		case len(sources) == 1 && sources["cache"]:
			res.Source = "cache"
		case len(sources) == 1 && sources["cluster"]:
			res.Source = "cluster"
		}
	}
	return res, nil
}

// clusterSet is the clusters a set names: for AllClusters, every registered
// cluster the credential's scope lets the request reach, in name order; else
// the names given, each of which the scope must reach (a 403 naming it).
func (p *Proxy) clusterSet(ctx context.Context, set []string, info *kubegate.KubeRequest) ([]string, error) {
	id := request.Identity(ctx)
	refuses := func(name string) (part, reason string) {
		return id.Scope.Refuses(kubegate.ScopeRequest{
			ClientIP: request.ClientIP(ctx), Cluster: name, Namespace: info.Namespace, Resource: true, Verb: info.Verb, SafeMethod: true,
		})
	}
	if !slices.Equal(set, []string{request.AllClusters}) {
		for _, name := range set {
			if part, reason := refuses(name); part != "" {
				return nil, kubegate.Errorf(kubegate.EForbidden, "refused by the credential's scope (%s): %s", part, reason)
			}
		}
		return slices.Sorted(slices.Values(set)), nil // answers in name order, however the set was written
	}
	var names []string
	for _, c := range p.targets.List() {
		if part, _ := refuses(c.Name); part == "" {
			names = append(names, c.Name)
		}
	}
	sort.Strings(names)
	return names, nil
}

// askCluster asks one cluster of a set for q's best items, as the caller.
func (p *Proxy) askCluster(ctx context.Context, name string, kr kubegate.KubeRequest, q *listquery.Query, upstream url.Values,
	strict bool, transform func(map[string]any) (map[string]any, bool)) (ClusterAnswer, listquery.Ranked, [2]string) {
	ctx, cancel := context.WithTimeout(ctx, acrossTimeout)
	defer cancel()
	kr.Cluster = name
	fail := func(err error) (ClusterAnswer, listquery.Ranked, [2]string) {
		if ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = kubegate.Errorf(kubegate.ETimeout, "cluster %s did not answer within %s", name, acrossTimeout)
		}
		st := statusOf(err)
		if st.Code >= http.StatusInternalServerError && kubegate.ErrorCode(err) == kubegate.EInternal {
			request.Logger(ctx, p.logger).Warn("a cluster of a list across clusters failed", "cluster", name, "err", err)
		}
		return failedAnswer(name, st), listquery.Ranked{}, [2]string{}
	}
	target, err := p.targets.Member(name)
	if err != nil {
		return fail(err)
	}
	res, cached, err := p.listOne(ctx, target, &kr, q, upstream, "application/json", strict, transform)
	if err != nil {
		return fail(err)
	}
	total := res.Total
	a := ClusterAnswer{Name: name, Status: metav1.StatusSuccess, Total: &total, ResourceVersion: res.ResourceVersion, Source: p.observe(cached)}
	return a, listquery.Ranked{Source: name, Items: res.Items, Total: res.Total}, [2]string{res.APIVersion, res.Kind}
}

// failedAnswer is a cluster's part of an answer when it failed, as its Status says.
func failedAnswer(name string, st *metav1.Status) ClusterAnswer {
	return ClusterAnswer{Name: name, Status: metav1.StatusFailure, Code: int(st.Code), Reason: string(st.Reason), Message: st.Message}
}

// statusOf is the Kubernetes Status an error answers with: a cluster's own
// (its body, when it is a Status), or the gateway's.
func statusOf(err error) *metav1.Status {
	var up *upstreamError
	if errors.As(err, &up) {
		st := &metav1.Status{}
		if json.Unmarshal(up.body, st) != nil || st.Kind != "Status" {
			st = &metav1.Status{Message: fmt.Sprintf("the cluster answered %d %s", up.code, http.StatusText(up.code))}
		}
		st.Code = int32(up.code) //nolint:gosec // an HTTP status.
		if st.Reason == "" {
			st.Reason = metav1.StatusReason(strings.ReplaceAll(http.StatusText(up.code), " ", ""))
		}
		return st
	}
	return httperr.Status(err)
}

// acrossFailure is the answer when failed clusters fail the list (strict, or
// none answered): 403 when every one refused the caller, else 503; the
// message names each and why.
func acrossFailure(set string, failed []ClusterAnswer) error {
	code := kubegate.EForbidden
	var why []string
	for _, a := range failed {
		if a.Code != http.StatusForbidden {
			code = kubegate.EUnavailable
		}
		why = append(why, fmt.Sprintf("%s: %s", a.Name, a.Message))
	}
	return kubegate.Errorf(code, "the list across clusters %s failed in %d of them: %s", set, len(failed), strings.Join(why, "; "))
}

// annotate marks an item with the cluster it came from
// (kubegate.ClusterAnnotation), changing nothing else of it.
func annotate(raw json.RawMessage, cluster string) (json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, err
	}
	var md map[string]json.RawMessage
	if m, ok := obj["metadata"]; ok && string(m) != "null" {
		if err := json.Unmarshal(m, &md); err != nil {
			return nil, err
		}
	}
	if md == nil {
		md = map[string]json.RawMessage{}
	}
	var ann map[string]string
	if a, ok := md["annotations"]; ok && string(a) != "null" {
		if err := json.Unmarshal(a, &ann); err != nil {
			return nil, err
		}
	}
	if ann == nil {
		ann = map[string]string{}
	}
	ann[kubegate.ClusterAnnotation] = cluster // the gateway's word, whatever the object said
	var err error
	if md["annotations"], err = json.Marshal(ann); err != nil {
		return nil, err
	}
	if obj["metadata"], err = json.Marshal(md); err != nil {
		return nil, err
	}
	return json.Marshal(obj)
}

// boolParam reads an optional boolean parameter: absent, "", "false" or "0"
// false; "true" or "1" true; anything else a 400 naming it.
func boolParam(query map[string][]string, name string) (bool, error) {
	vs := query[name]
	switch {
	case len(vs) == 0:
		return false, nil
	case len(vs) > 1:
		return false, kubegate.Errorf(kubegate.EInvalid, "parameter %s is given %d times; give it once", name, len(vs))
	}
	switch vs[0] {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	}
	return false, kubegate.Errorf(kubegate.EInvalid, "parameter %s must be true or false, got %q", name, vs[0])
}
