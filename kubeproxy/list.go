package kubeproxy

import (
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
	"github.com/kubegate/kubegate/filters"
	"github.com/kubegate/kubegate/internal/httperr"
	"github.com/kubegate/kubegate/listquery"
)

// chunkSize is how many items each upstream list request asks for: the list is
// read in chunks and decoded item by item, so memory follows the page asked for.
const chunkSize = 500

// isCollection reports whether a Kubernetes path names a list of resources:
// /api/v1/{resource}, /api/v1/namespaces/{ns}/{resource} and the /apis/{group}/{version}
// equivalents.
func isCollection(path string) bool {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	var rest []string
	switch {
	case len(segs) >= 3 && segs[0] == "api":
		rest = segs[2:]
	case len(segs) >= 4 && segs[0] == "apis":
		rest = segs[3:]
	default:
		return false
	}
	return len(rest) == 1 || (len(rest) == 3 && rest[0] == "namespaces")
}

// withUpstream marks ctx with where the gateway's own upstream requests go, for
// the impersonating transport.
func withUpstream(ctx context.Context, target *cluster.Target, path string) context.Context {
	return context.WithValue(ctx, upstreamKey, &upstream{target: target, path: path, rawPath: path})
}

// upstreamError is a Kubernetes error response, passed to the client unchanged.
type upstreamError struct {
	code   int
	header http.Header
	body   []byte
}

func (e *upstreamError) Error() string { return fmt.Sprintf("upstream answered %d", e.code) }

type listResult struct {
	apiVersion, kind, resourceVersion string
	// columns is a Table's columnDefinitions; items are then its rows.
	columns json.RawMessage
	items   []json.RawMessage
	total   int
}

// list reads the whole collection at path from the cluster as the caller, in
// chunks, and evaluates q over it.
func (p *Proxy) list(ctx context.Context, target *cluster.Target, path string, params url.Values, q *listquery.Query, accept string) (*listResult, error) {
	pushDown(q, params)
	ctx = withUpstream(ctx, target, path)
	c := listquery.NewCollector(q, p.opts.MaxPageSize)
	res := &listResult{}
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
		u := *target.Server
		u.Path = strings.TrimSuffix(u.Path, "/") + path
		u.RawQuery = v.Encode()
		// The host is a cluster an admin registered; the path passed SplitPath or kpandaPath.
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil) //nolint:gosec // see above.
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", accept)
		resp, err := transport{}.RoundTrip(req)
		if err != nil {
			return nil, kubegate.Errorf(kubegate.EUnavailable, "cluster %s is unreachable: %v", target.Name, err)
		}
		next, err := func() (string, error) {
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
				return "", &upstreamError{code: resp.StatusCode, header: resp.Header, body: body}
			}
			return decodeChunk(resp.Body, res, c)
		}()
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
	res.items, res.total = items, c.Total()
	return res, nil
}

// decodeChunk streams one list response: the list's kind and metadata are kept,
// and each item is handed to the collector as soon as it is read.
func decodeChunk(r io.Reader, res *listResult, c *listquery.Collector) (string, error) {
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
			err = dec.Decode(&res.apiVersion)
		case "kind":
			err = dec.Decode(&res.kind)
		case "metadata":
			var md struct {
				ResourceVersion string `json:"resourceVersion"`
				Continue        string `json:"continue"`
			}
			err = dec.Decode(&md)
			if res.resourceVersion == "" {
				res.resourceVersion = md.ResourceVersion
			}
			cont = md.Continue
		case "columnDefinitions":
			err = dec.Decode(&res.columns)
		case "items", "rows":
			if t, err := dec.Token(); err != nil || t == nil {
				continue // null
			}
			for dec.More() {
				var raw json.RawMessage
				if err := dec.Decode(&raw); err != nil {
					return "", err
				}
				if err := add(c, key, raw); err != nil {
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

// add evaluates a list item, or a Table row by the object it carries.
func add(c *listquery.Collector, key string, raw json.RawMessage) error {
	if key == "items" {
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

// serveKubeCubeList answers a proxied GET of a collection that carries extension
// parameters: the Kubernetes List with the page in items and a top-level total.
func (p *Proxy) serveKubeCubeList(w http.ResponseWriter, r *http.Request, target *cluster.Target, path string) error {
	query := r.URL.Query()
	q, err := listquery.ParseKubeCube(query, p.opts.MaxPageSize)
	if err != nil {
		return err
	}
	for _, k := range []string{"watch", "limit", "continue"} {
		if _, ok := query[k]; ok {
			return kubegate.Errorf(kubegate.EInvalid, "parameter %s cannot be combined with the list parameters (selector, pageSize, pageNum, sortName, sortOrder, sortFunc)", k)
		}
	}
	upstream := url.Values{}
	for k, vs := range query {
		upstream[k] = vs
	}
	for _, k := range listquery.Params {
		delete(upstream, k)
	}
	accept := "application/json"
	if a := r.Header.Get("Accept"); wantsTable(a) {
		// Rows are filtered, sorted and paged by their objects.
		accept = a
		upstream.Set("includeObject", "Object")
	}
	res, err := p.list(r.Context(), target, path, upstream, q, accept)
	if err != nil {
		return err
	}
	if res.kind == "Table" {
		return writeJSON(w, map[string]any{
			"apiVersion": res.apiVersion, "kind": res.kind,
			"metadata":          map[string]any{"resourceVersion": res.resourceVersion},
			"columnDefinitions": res.columns, "rows": nonNil(res.items), "total": res.total,
		})
	}
	return writeJSON(w, map[string]any{
		"apiVersion": res.apiVersion, "kind": res.kind,
		"metadata": map[string]any{"resourceVersion": res.resourceVersion},
		"items":    nonNil(res.items), "total": res.total,
	})
}

func nonNil(items []json.RawMessage) []json.RawMessage {
	if items == nil {
		return []json.RawMessage{}
	}
	return items
}

func writeJSON(w http.ResponseWriter, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(body)
	return err
}

// writeListError writes a list failure: Kubernetes' own error unchanged, or a Status.
func writeListError(w http.ResponseWriter, err error) {
	var ue *upstreamError
	if errors.As(err, &ue) {
		if ct := ue.header.Get("Content-Type"); ct != "" {
			w.Header().Set("Content-Type", ct)
		}
		w.WriteHeader(ue.code)
		_, _ = w.Write(ue.body)
		return
	}
	httperr.Write(w, err)
}

// ServeKpanda answers DCE's kpanda lists:
// /apis/kpanda.io/v1alpha1/clusters/{cluster}[/namespaces/{ns}]/deployments and
// /apis/kpanda.io/v1alpha1/clusters/{cluster}/gvr/{group}/{version}[/namespaces/{ns}]/{resource}
// ({group} "core" for the legacy group), with {"items", "pagination"}.
func (p *Proxy) ServeKpanda(w http.ResponseWriter, r *http.Request) {
	if err := p.serveKpanda(w, r); err != nil {
		writeListError(w, err)
	}
}

func (p *Proxy) serveKpanda(w http.ResponseWriter, r *http.Request) error {
	if filters.Identity(r.Context()) == nil {
		return kubegate.Errorf(kubegate.EUnauthorized, "authentication required: send Authorization: Bearer <token>")
	}
	name := r.PathValue("cluster")
	path, err := kpandaPath(r.PathValue("rest"))
	if err != nil {
		return err
	}
	query := r.URL.Query()
	upstream := url.Values{}
	for k, vs := range query {
		switch k {
		case "labelSelector", "fieldSelector":
			upstream[k] = vs
		case "page", "pageSize", "name", "fuzzyName", "sortBy", "sortDir":
		default:
			return kubegate.Errorf(kubegate.EInvalid, "unknown parameter %q; allowed: page, pageSize, name, fuzzyName, labelSelector, fieldSelector, sortBy, sortDir", k)
		}
	}
	q, err := listquery.ParseDCE(query, p.opts.MaxPageSize)
	if err != nil {
		return err
	}
	target, err := p.targets.Target(name)
	if err != nil {
		return err
	}
	res, err := p.list(r.Context(), target, path, upstream, q, "application/json")
	if err != nil {
		return err
	}
	pages := 0
	if q.PageSize > 0 {
		pages = (res.total + q.PageSize - 1) / q.PageSize
	} else if res.total > 0 {
		pages = 1
	}
	return writeJSON(w, map[string]any{
		"items":      nonNil(res.items),
		"pagination": map[string]int{"page": q.PageNum, "pageSize": q.PageSize, "total": res.total, "pages": pages},
	})
}

// kpandaPath maps the part after /clusters/{cluster}/ to a Kubernetes path.
func kpandaPath(rest string) (string, error) {
	segs := strings.Split(strings.Trim(rest, "/"), "/")
	bad := kubegate.Errorf(kubegate.ENotFound, "unknown kpanda path %q: use deployments, namespaces/{ns}/deployments or gvr/{group}/{version}[/namespaces/{ns}]/{resource}", rest)
	for _, s := range segs {
		if s == "" || s == "." || s == ".." || strings.ContainsAny(s, "\\?#%") {
			return "", bad
		}
	}
	switch {
	case len(segs) == 1 && segs[0] == "deployments":
		return "/apis/apps/v1/deployments", nil
	case len(segs) == 3 && segs[0] == "namespaces" && segs[2] == "deployments":
		return "/apis/apps/v1/namespaces/" + segs[1] + "/deployments", nil
	case len(segs) >= 4 && segs[0] == "gvr":
		group, version, tail := segs[1], segs[2], segs[3:]
		if len(tail) != 1 && (len(tail) != 3 || tail[0] != "namespaces") {
			return "", bad
		}
		prefix := "/apis/" + group + "/" + version
		if group == "core" {
			prefix = "/api/" + version
		}
		return prefix + "/" + strings.Join(tail, "/"), nil
	}
	return "", bad
}
