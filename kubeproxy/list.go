package kubeproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/cluster"
	"github.com/kubegate/kubegate/httpapi"
	"github.com/kubegate/kubegate/listcache"
	"github.com/kubegate/kubegate/listquery"
	"github.com/kubegate/kubegate/request"
)

// chunkSize is how many items each upstream list request asks for: the list is
// read in chunks and decoded item by item, so memory follows the page asked for.
const chunkSize = 500

// withUpstream marks ctx with where the gateway's own upstream requests go, for
// the impersonating transport.
func withUpstream(ctx context.Context, target *cluster.Member, path string) context.Context {
	return context.WithValue(ctx, upstreamKey, &upstream{target: target, path: path, rawPath: path})
}

// upstreamError is a Kubernetes error response, passed to the client unchanged.
type upstreamError struct {
	code   int
	header http.Header
	body   []byte
}

func (e *upstreamError) Error() string { return fmt.Sprintf("upstream answered %d", e.code) }

// WriteResponse implements httperr.Response: the cluster's own error, unchanged.
func (e *upstreamError) WriteResponse(w http.ResponseWriter) {
	if ct := e.header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.WriteHeader(e.code)
	_, _ = w.Write(e.body)
}

// ListResult is one page of a collection, and how many items matched.
type ListResult struct {
	APIVersion, Kind, ResourceVersion string
	// Columns is a Table's columnDefinitions; Items are then its rows.
	Columns json.RawMessage
	Items   []json.RawMessage
	Total   int
}

// NonNilItems is Items, as an empty list rather than null when there are none.
func (r *ListResult) NonNilItems() []json.RawMessage {
	if r.Items == nil {
		return []json.RawMessage{}
	}
	return r.Items
}

// ListRequest is a list the dialect adapters ask for.
type ListRequest struct {
	// Collection is the Kubernetes collection listed: its cluster, path and
	// attributes (group, resource, namespace), from which the list cache answers
	// where it may.
	Collection kubegate.KubeRequest
	Params     url.Values // passed upstream (labelSelector, fieldSelector)
	Query      *listquery.Query
	// Transform turns each Kubernetes object into the dialect's item (or drops
	// it) before the query sees it; nil keeps objects as they are.
	Transform func(map[string]any) (map[string]any, bool)
}

// List reads a collection of a cluster as the caller in ctx, in chunks, and
// evaluates the query over it: the dialect adapters list through it.
func (p *Proxy) List(ctx context.Context, req ListRequest) (*ListResult, error) {
	target, err := p.targets.Member(req.Collection.Cluster)
	if err != nil {
		return nil, err
	}
	if !req.Collection.IsCollection() {
		return nil, kubegate.Errorf(kubegate.EInvalid, "%s is not a collection", req.Collection.Path)
	}
	res, cached, err := p.listOne(ctx, target, &req.Collection, req.Query, req.Params, "application/json", false, req.Transform)
	if err == nil {
		p.observe(cached)
	}
	return res, err
}

// list reads the whole collection at path from the cluster as the caller, in
// chunks, and evaluates q over it.
func (p *Proxy) list(ctx context.Context, target *cluster.Member, path string, params url.Values, q *listquery.Query, accept string,
	transform func(map[string]any) (map[string]any, bool)) (*ListResult, error) {
	ctx = withUpstream(ctx, target, path)
	c := listquery.NewPager(q, p.opts.MaxPageSize)
	c.Transform = transform
	res := &ListResult{}
	cont := ""
	for {
		v := url.Values{}
		for k, vs := range params {
			v[k] = vs
		}
		v.Set("limit", fmt.Sprint(chunkSize))
		if cont != "" {
			v.Set("continue", cont)
		}
		resp, err := getAsCaller(ctx, target, path, v, accept)
		if err != nil {
			return nil, err
		}
		next, err := decodeChunk(resp.Body, res, c)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		if next == "" {
			break
		}
		cont = next
	}
	items, err := c.Page()
	if err != nil {
		return nil, err
	}
	res.Items, res.Total = items, c.Total()
	return res, nil
}

// getAsCaller GETs path with query v from target as the caller ctx carries
// (withUpstream), asking for accept. An answer other than 200 is the cluster's
// own, returned as an upstreamError to pass on unchanged.
func getAsCaller(ctx context.Context, target *cluster.Member, path string, v url.Values, accept string) (*http.Response, error) {
	return send(ctx, transport{}, target, http.MethodGet, path, v, accept, nil)
}

// send makes one request of target through rt; an answer other than 200 or
// 201 is returned as an upstreamError.
func send(ctx context.Context, rt http.RoundTripper, target *cluster.Member, method, path string, v url.Values, accept string, body []byte) (*http.Response, error) {
	u := *target.Server
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawQuery = v.Encode()
	// The host is a cluster an admin registered; the path passed the request classification.
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", accept)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return nil, kubegate.Errorf(kubegate.EUnavailable, "cluster %s is unreachable: %v", target.Name, err)
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return nil, &upstreamError{code: resp.StatusCode, header: resp.Header, body: body}
	}
	return resp, nil
}

// decodeChunk streams one list response: the list's kind and metadata are kept,
// and each item is handed to the collector as soon as it is read.
func decodeChunk(r io.Reader, res *ListResult, c *listquery.Pager) (string, error) {
	dec := json.NewDecoder(r)
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return "", errors.New("list response is not a JSON object")
	}
	cont := ""
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", err
		}
		key, _ := tok.(string)
		switch key {
		case "apiVersion":
			err = dec.Decode(&res.APIVersion)
		case "kind":
			err = dec.Decode(&res.Kind)
		case "metadata":
			var md struct {
				ResourceVersion string `json:"resourceVersion"`
				Continue        string `json:"continue"`
			}
			err = dec.Decode(&md)
			if res.ResourceVersion == "" {
				res.ResourceVersion = md.ResourceVersion
			}
			cont = md.Continue
		case "columnDefinitions":
			err = dec.Decode(&res.Columns)
		case "items", "rows":
			if t, err := dec.Token(); err != nil || t == nil {
				continue // null
			}
			metadataOnly := key == "items" && c.MetadataOnly() // once a list, not once an item
			for dec.More() {
				var raw json.RawMessage
				if err := dec.Decode(&raw); err != nil {
					return "", err
				}
				if err := add(c, key, raw, metadataOnly); err != nil {
					return "", err
				}
			}
			_, err = dec.Token() // ]
		default:
			var skip json.RawMessage
			err = dec.Decode(&skip)
		}
		if err != nil {
			return "", fmt.Errorf("decoding the list: %w", err)
		}
	}
	return cont, nil
}

// add evaluates a list item (reading only its metadata when the query needs no
// more), or a Table row by the object it carries.
func add(c *listquery.Pager, key string, raw json.RawMessage, metadataOnly bool) error {
	if key == "items" {
		if metadataOnly {
			it, err := listcache.ParseItem(raw)
			if err != nil {
				return err
			}
			c.AddItem(it)
			return nil
		}
		return c.Add(raw)
	}
	var row struct {
		Object map[string]any `json:"object"`
	}
	if err := json.Unmarshal(raw, &row); err != nil {
		return err
	}
	if row.Object == nil {
		return errors.New("table row without its object")
	}
	c.AddDecoded(row.Object, raw)
	return nil
}

// wantsTable reports whether the client asked for a Table (kubectl get does).
func wantsTable(accept string) bool {
	return strings.Contains(accept, "as=Table")
}

// pushDown hands Kubernetes the conditions it can evaluate itself, so fewer items
// travel: an exact, single-valued label condition becomes a labelSelector term,
// metadata.name and metadata.namespace a fieldSelector term. The conditions stay
// in q too, which is harmless.
func pushDown(q *listquery.Query, v url.Values) {
	var labels, fields []string
	for _, c := range q.Conds {
		if c.Op != listquery.Eq || len(c.Values) != 1 || c.Values[0] == "" || strings.ContainsAny(c.Values[0], ",=!()") {
			continue
		}
		p := c.Path
		switch {
		case len(p) == 3 && p[0] == "metadata" && p[1] == "labels" && validLabelKey(p[2]):
			labels = append(labels, p[2]+"="+c.Values[0])
		case len(p) == 2 && p[0] == "metadata" && (p[1] == "name" || p[1] == "namespace"):
			fields = append(fields, "metadata."+p[1]+"="+c.Values[0])
		}
	}
	join := func(key string, terms []string) {
		if len(terms) == 0 {
			return
		}
		if old := v.Get(key); old != "" {
			terms = append([]string{old}, terms...)
		}
		v.Set(key, strings.Join(terms, ","))
	}
	join("labelSelector", labels)
	join("fieldSelector", fields)
}

func validLabelKey(k string) bool {
	return k != "" && !strings.ContainsAny(k, ",=!() ")
}

// ListSourceHeader says, with --list-cache, whether a list query was answered
// from the cache or by the cluster.
const ListSourceHeader = "X-Kubegate-List-Source"

// observe counts where a list query's answer came from, and says it ("" when
// the gateway has no cache).
func (p *Proxy) observe(cached bool) string {
	if p.opts.Cache == nil {
		return ""
	}
	source := "cluster"
	if cached {
		source = "cache"
	}
	if p.opts.ObserveListQuery != nil {
		p.opts.ObserveListQuery(source)
	}
	return source
}

// listParams reads a query list's parameters: the query, whether strict
// consistency is asked for, and the parameters passed upstream (the rest);
// own names this route's own parameters, kept from upstream too.
func (p *Proxy) listParams(query url.Values, own ...string) (q *listquery.Query, strict bool, upstream url.Values, err error) {
	if q, err = listquery.ParseKubeCube(query, p.opts.MaxPageSize); err != nil {
		return nil, false, nil, err
	}
	for _, k := range []string{"watch", "limit", "continue"} {
		if _, ok := query[k]; ok {
			return nil, false, nil, kubegate.Errorf(kubegate.EInvalid, "parameter %s cannot be combined with the list parameters (selector, pageSize, pageNum, sortName, sortOrder, sortFunc)", k)
		}
	}
	if strict, err = listcache.ParseConsistency(query); err != nil {
		return nil, false, nil, err
	}
	upstream = url.Values{}
	for k, vs := range query {
		upstream[k] = vs
	}
	for _, k := range listquery.Params {
		delete(upstream, k)
	}
	delete(upstream, listcache.Consistency)
	for _, k := range own {
		delete(upstream, k)
	}
	return q, strict, upstream, nil
}

// listOne answers q over one cluster's collection: from the cache where it
// can (JSON lists), else from the cluster, streaming; cached says which.
func (p *Proxy) listOne(ctx context.Context, target *cluster.Member, kr *kubegate.KubeRequest, q *listquery.Query, upstream url.Values,
	accept string, strict bool, transform func(map[string]any) (map[string]any, bool)) (res *ListResult, cached bool, err error) {
	if accept == "application/json" { // Tables: the cluster renders their columns
		if res, cached, err = p.cachedList(ctx, target, kr, q, upstream, transform, strict); err != nil || cached {
			return res, cached, err
		}
	}
	v := url.Values{}
	for k, vs := range upstream {
		v[k] = vs
	}
	if transform == nil { // the Kubernetes item names feed the pushdown
		pushDown(q, v)
	}
	res, err = p.list(ctx, target, kr.Path, v, q, accept, transform)
	return res, false, err
}

// serveKubeCubeList answers a proxied GET of a collection that carries extension
// parameters: the Kubernetes List with the page in items and a top-level total.
func (p *Proxy) serveKubeCubeList(w http.ResponseWriter, r *http.Request, target *cluster.Member, info *request.Info) error {
	q, strict, upstream, err := p.listParams(r.URL.Query())
	if err != nil {
		return err
	}
	accept := "application/json"
	if a := r.Header.Get("Accept"); wantsTable(a) {
		// Rows are filtered, sorted and paged by their objects.
		accept = a
		upstream.Set("includeObject", "Object")
	}
	res, cached, err := p.listOne(r.Context(), target, &info.KubeRequest, q, upstream, accept, strict, nil)
	if err != nil {
		return err
	}
	if source := p.observe(cached); source != "" {
		// Where the answer came from, for operators tuning the cache (as CDNs say).
		w.Header().Set(ListSourceHeader, source)
	}
	if res.Kind == "Table" {
		return httpapi.WriteJSON(w, http.StatusOK, map[string]any{
			"apiVersion": res.APIVersion, "kind": res.Kind,
			"metadata":          map[string]any{"resourceVersion": res.ResourceVersion},
			"columnDefinitions": res.Columns, "rows": res.NonNilItems(), "total": res.Total,
		})
	}
	return httpapi.WriteJSON(w, http.StatusOK, map[string]any{
		"apiVersion": res.APIVersion, "kind": res.Kind,
		"metadata": map[string]any{"resourceVersion": res.ResourceVersion},
		"items":    res.NonNilItems(), "total": res.Total,
	})
}
