package kubeproxy

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"strconv"
	"time"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/cluster"
	"github.com/kubegate/kubegate/filters"
	"github.com/kubegate/kubegate/listcache"
	"github.com/kubegate/kubegate/listquery"
)

// Cache is where list queries are answered from memory (listcache.Cache).
type Cache interface {
	Collection(target *cluster.Target, path string) *listcache.Collection
}

// probe is what a one-item list as the caller says: that the caller may list the
// collection in the scope asked for (the cluster's RBAC answered), what kind of
// list it is, and the resource version a fresh answer must reflect.
type probe struct {
	apiVersion, kind string
	rv               uint64
	// size is how many items the scope holds (the one-item list's remaining
	// count, plus one), 0 when the cluster does not say.
	size int64
}

// probeList lists one item of the collection at path as the caller. With a
// resourceVersion the apiserver answers from its cache at once (not older than
// it); without, it is a consistent read. A refusal is the cluster's own answer,
// passed on as is.
func (p *Proxy) probeList(ctx context.Context, target *cluster.Target, path, resourceVersion string) (probe, error) {
	ctx = withUpstream(ctx, target, path)
	v := url.Values{"limit": {"1"}}
	if resourceVersion != "" {
		// With a limit, a version alone would ask for that exact version.
		v.Set("resourceVersion", resourceVersion)
		v.Set("resourceVersionMatch", "NotOlderThan")
	}
	resp, err := getAsCaller(ctx, target, path, v, "application/json")
	if err != nil {
		return probe{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return probe{}, kubegate.Errorf(kubegate.EUnavailable, "cluster %s: reading a list: %v", target.Name, err)
	}
	var l struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			ResourceVersion    string `json:"resourceVersion"`
			RemainingItemCount *int64 `json:"remainingItemCount"`
		} `json:"metadata"`
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(body, &l); err != nil {
		return probe{}, kubegate.Errorf(kubegate.EUnavailable, "cluster %s: decoding a list: %v", target.Name, err)
	}
	rv, err := strconv.ParseUint(l.Metadata.ResourceVersion, 10, 64)
	if err != nil {
		return probe{}, kubegate.Errorf(kubegate.EUnavailable, "cluster %s: resourceVersion %q is not a number", target.Name, l.Metadata.ResourceVersion)
	}
	pr := probe{apiVersion: l.APIVersion, kind: l.Kind, rv: rv}
	if n := l.Metadata.RemainingItemCount; n != nil {
		pr.size = *n + int64(len(l.Items))
	}
	return pr, nil
}

// freshness reads the resource version a list asks for: "" a consistent read
// (as fresh as the cluster when the request came), "0" any, a number N not
// older than N (resourceVersionMatch unset or NotOlderThan, as Kubernetes reads
// a list without a limit). ok false: the cluster answers (an exact version, a
// version that is not a number, other parameters).
func freshness(upstream url.Values) (rv string, ok bool) {
	for k, vs := range upstream {
		if len(vs) != 1 {
			return "", false
		}
		switch k {
		case "resourceVersion":
			if vs[0] != "" {
				if _, err := strconv.ParseUint(vs[0], 10, 64); err != nil {
					return "", false // the cluster says what is wrong with it
				}
			}
			rv = vs[0]
		case "resourceVersionMatch":
			if vs[0] != "" && vs[0] != "NotOlderThan" {
				return "", false
			}
		default:
			return "", false // selectors and the rest: the cluster evaluates them
		}
	}
	if upstream.Get("resourceVersionMatch") != "" && rv == "" {
		return "", false // a match without a version: the cluster's 400
	}
	return rv, true
}

// collectionPath is the cluster-wide collection a request's list belongs to: the
// cache keeps one per resource and answers a namespace from its index.
func collectionPath(info *filters.RequestInfo) string {
	if info.APIGroup == "" {
		return "/api/" + info.APIVersion + "/" + info.Resource
	}
	return "/apis/" + info.APIGroup + "/" + info.APIVersion + "/" + info.Resource
}

// cachedList answers a list query from the cache, when it can: a plain JSON list
// whose only other parameters are resourceVersion and resourceVersionMatch. The
// caller's right to list in that scope and the freshness mark come from one
// one-item list as the caller: a refusal is the cluster's answer; the answer
// then waits, bounded, for the cache to reach the resource version the cluster
// had when the request came (resourceVersion=N: N; 0: whatever the cache
// holds). ok false: read the cluster.
func (p *Proxy) cachedList(ctx context.Context, target *cluster.Target, info *filters.RequestInfo, q *listquery.Query, upstream url.Values) (res *ListResult, ok bool, err error) {
	if p.opts.Cache == nil || info.Resource == "secrets" {
		return nil, false, nil // secrets are never copied into the gateway's memory
	}
	rv, fits := freshness(upstream)
	if !fits {
		return nil, false, nil
	}
	// RBAC first: a collection is cached only for a caller the cluster lets list
	// it, so nobody makes the gateway list what they may not.
	pr, err := p.probeList(ctx, target, info.Path, rv)
	var refused *upstreamError
	switch {
	case errors.As(err, &refused):
		return nil, false, err // the cluster's own answer (403, 404…), as the cluster path would give it
	case err != nil:
		return nil, false, nil //nolint:nilerr // not cacheable this way (say, versions that are not numbers): the cluster answers
	}
	coll := p.opts.Cache.Collection(target, collectionPath(info))
	if coll == nil {
		return nil, false, nil
	}
	want := pr.rv
	if rv != "" {
		want, _ = strconv.ParseUint(rv, 10, 64) // 0: what the cache holds, once it has listed
	}
	wctx, cancel := context.WithTimeout(ctx, p.cacheWait(pr.size))
	defer cancel()
	if err := coll.WaitFor(wctx, want); err != nil {
		return nil, false, nil //nolint:nilerr // not fresh in time: the cluster answers instead
	}
	r, err := coll.Query(q, info.Namespace, p.opts.MaxPageSize)
	if err != nil {
		return nil, false, err
	}
	return &ListResult{APIVersion: pr.apiVersion, Kind: pr.kind, ResourceVersion: strconv.FormatUint(r.ResourceVersion, 10), Items: r.Items, Total: r.Total}, true, nil
}

// defaultCacheWait bounds how long a query waits for the cache to catch up.
const defaultCacheWait = 250 * time.Millisecond

// A write elsewhere in the cluster moves its resource version, which a
// collection's watch learns only from a bookmark, about 1–2 s after a query
// asks for one (listcache's hurryTimeout). A scope this large takes the
// cluster longer than that to list (about 20 µs an item to fetch and decode
// here: docs/benchmarks.md), so its query waits for the bookmark instead.
const (
	largeScope   = 50_000
	bookmarkWait = 2500 * time.Millisecond
)

// cacheWait is how long a query over size items waits for the cache.
func (p *Proxy) cacheWait(size int64) time.Duration {
	if size >= largeScope {
		return max(p.opts.CacheWait, bookmarkWait)
	}
	return p.opts.CacheWait
}
