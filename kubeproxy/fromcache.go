package kubeproxy

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"time"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/cluster"
	"github.com/kubegate/kubegate/listcache"
	"github.com/kubegate/kubegate/listquery"
)

// Cache is where list queries are answered from memory (listcache.Cache).
type Cache interface {
	Collection(target *cluster.Member, path string) *listcache.Collection
}

// collectionPath is the cluster-wide collection a request's list belongs to: the
// cache keeps one per resource and answers a namespace from its index.
func collectionPath(info *kubegate.KubeRequest) string {
	if info.APIGroup == "" {
		return "/api/" + info.APIVersion + "/" + info.Resource
	}
	return "/apis/" + info.APIGroup + "/" + info.APIVersion + "/" + info.Resource
}

// cachedList answers a list query from the cache, when it can: a plain JSON list
// whose only other parameters are resourceVersion and resourceVersionMatch; with
// transform, in a dialect's item shape (each object decoded).
// The cluster first decides whether the caller may list in that scope (a
// SelfSubjectAccessReview as the caller, remembered for accessTTL): a refusal
// is the 403 the cluster would answer. Then freshness (docs/list-queries.md):
//   - by default the cache answers at once while its watch is healthy (heard
//     from within CacheStaleness), after waiting, bounded, for the latest write
//     the gateway carried to the collection; an unhealthy watch: the cluster;
//   - strict: once the cache reaches the version the cluster had when the
//     request came (a consistent one-item list as the gateway);
//   - resourceVersion=N: once it holds N; 0: whatever it holds.
//
// ok false: read the cluster.
func (p *Proxy) cachedList(ctx context.Context, target *cluster.Member, info *kubegate.KubeRequest, q *listquery.Query, upstream url.Values,
	transform func(map[string]any) (map[string]any, bool), strict bool) (res *ListResult, ok bool, err error) {
	if p.opts.Cache == nil || info.Resource == "secrets" {
		return nil, false, nil // secrets are never copied into the gateway's memory
	}
	if !info.IsCollection() || info.Verb != "list" {
		return nil, false, nil // a kpanda path may name a subresource or a watch: the cluster says what it is
	}
	rv, fits := listcache.ParseVersion(upstream)
	if !fits {
		return nil, false, nil
	}
	// RBAC first: a collection is cached only for a caller the cluster lets list
	// it, so nobody makes the gateway list what they may not.
	if err := p.access.mayList(ctx, target, info); err != nil {
		var refused *upstreamError
		if errors.As(err, &refused) {
			return nil, false, err
		}
		return nil, false, nil //nolint:nilerr // no answer here: the cluster decides on the list itself
	}
	coll := p.opts.Cache.Collection(target, collectionPath(info))
	if coll == nil {
		p.freshness(listcache.FreshUncached)
		return nil, false, nil
	}
	_, namespaced := coll.Count(info.Namespace)
	if all, _ := coll.Count(""); info.Namespace != "" && all > 0 && !namespaced {
		return nil, false, nil // a namespace in the path of a cluster-scoped resource: the cluster's 404
	}
	key := keyOf(target, info)
	var mark writeMark
	if rv == "" {
		if mark, err = p.marks(ctx, key); err != nil {
			if ctx.Err() != nil {
				return nil, false, nil //nolint:nilerr // the client has gone
			}
			p.logger.Warn("reading the other replicas' write marks failed; answering strictly", "cluster", target.Name, "resource", info.Resource, "err", err)
			strict = true
		}
		strict = strict || mark.strict()
	}
	path, want, fresh := coll.Await(ctx, listcache.Demand{
		Version: rv, Strict: strict, Written: mark.ResourceVersion, Gone: mark.Gone, Namespace: info.Namespace,
	}, listcache.Policy{Staleness: p.opts.CacheStaleness, Wait: p.opts.CacheWait})
	if !fresh {
		p.freshness(path)
		return nil, false, nil // not fresh in time: the cluster answers instead
	}
	apiVersion, kind := coll.ListType()
	if kind == "" {
		return nil, false, nil
	}
	var r listcache.Result
	if transform == nil {
		r, err = coll.Query(q, info.Namespace, p.opts.MaxPageSize)
	} else {
		r, err = coll.QueryDecoded(q, info.Namespace, p.opts.MaxPageSize, transform)
	}
	if err != nil {
		return nil, false, err
	}
	if mark.strict() {
		p.writes.settle(key, mark.Strict, want)
	}
	p.freshness(path)
	if rv == "" && !strict && p.opts.ObserveAnswerAge != nil {
		if heard := coll.Heard(); !heard.IsZero() {
			p.opts.ObserveAnswerAge(time.Since(heard))
		}
	}
	return &ListResult{APIVersion: apiVersion, Kind: kind, ResourceVersion: strconv.FormatUint(r.ResourceVersion, 10), Items: r.Items, Total: r.Total}, true, nil
}

func (p *Proxy) freshness(path listcache.Freshness) {
	if p.opts.ObserveFreshness != nil {
		p.opts.ObserveFreshness(string(path))
	}
}
