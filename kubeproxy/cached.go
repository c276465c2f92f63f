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
func collectionPath(info *kubegate.KubeRequest) string {
	if info.APIGroup == "" {
		return "/api/" + info.APIVersion + "/" + info.Resource
	}
	return "/apis/" + info.APIGroup + "/" + info.APIVersion + "/" + info.Resource
}

// Freshness paths of a list query the cache could answer, as metrics count them.
const (
	freshnessWatch     = "watch"     // from the cache at once: its watch is healthy, no write to wait for
	freshnessWaited    = "waited"    // from the cache, once it held a version: a write, N, or strict
	freshnessUnhealthy = "unhealthy" // from the cluster: the watch was not heard from within the bound
	freshnessBehind    = "behind"    // from the cluster: the cache did not reach the version in time
	freshnessUncached  = "uncached"  // from the cluster: no collection (not cachable, full, starting)
)

// defaultCacheStaleness is Options.CacheStaleness's default: with heartbeat
// watches a collection hears from the cluster about every 3 s (a watch's end).
const defaultCacheStaleness = 5 * time.Second

// Consistency is the list parameter that chooses how fresh a cached answer is:
// "" or "watch" (the default) as fresh as the collection's healthy watch and every
// write the gateway carried; "strict" as fresh as the cluster when the request
// came, as a Kubernetes list without a resourceVersion.
const Consistency = "consistency"

// strictness reads the consistency parameter.
func strictness(query url.Values) (strict bool, err error) {
	switch vs := query[Consistency]; {
	case len(vs) == 0:
		return false, nil
	case len(vs) > 1:
		return false, kubegate.Errorf(kubegate.EInvalid, "parameter %s is given %d times; give it once", Consistency, len(vs))
	case vs[0] == "" || vs[0] == "watch":
		return false, nil
	case vs[0] == "strict":
		return true, nil
	default:
		return false, kubegate.Errorf(kubegate.EInvalid, "parameter %s must be watch (the default) or strict, got %q", Consistency, vs[0])
	}
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
	rv, fits := freshness(upstream)
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
		p.freshness(freshnessUncached)
		return nil, false, nil
	}
	size, namespaced := coll.Count(info.Namespace)
	if all, _ := coll.Count(""); info.Namespace != "" && all > 0 && !namespaced {
		return nil, false, nil // a namespace in the path of a cluster-scoped resource: the cluster's 404
	}
	var want uint64 // resourceVersion=0: what the cache holds, once it has listed
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
	switch {
	case rv == "" && strict:
		if want, err = coll.ClusterResourceVersion(ctx); err != nil {
			p.freshness(freshnessUnhealthy)
			return nil, false, nil //nolint:nilerr // no freshness mark: the cluster answers
		}
	case rv == "":
		if !coll.Healthy(p.opts.CacheStaleness) {
			// A collection still listing (just started) is waited for, bounded;
			// one whose watch failed is not coming back in that time.
			wctx, cancel := context.WithTimeout(ctx, p.cacheWait(int64(size)))
			_ = coll.WaitFor(wctx, 0)
			cancel()
			if !coll.Healthy(p.opts.CacheStaleness) {
				p.freshness(freshnessUnhealthy)
				return nil, false, nil
			}
		}
	default:
		if want, _ = strconv.ParseUint(rv, 10, 64); want > coll.ResourceVersion() {
			// Ahead of the cache: not waited for unless the cluster has it (a
			// version from the future is the cluster's 504 to give).
			now, err := coll.ClusterResourceVersion(ctx)
			if err != nil || want > now {
				p.freshness(freshnessBehind)
				return nil, false, nil //nolint:nilerr // the cluster answers
			}
		}
	}
	want = max(want, mark.ResourceVersion)
	waited := want > coll.ResourceVersion() || strict || !coll.Lacks(mark.Gone)
	if !p.waitForCache(ctx, coll, want, int64(size)) || !p.waitForGone(ctx, coll, mark.Gone) {
		p.freshness(freshnessBehind)
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
	if waited {
		p.freshness(freshnessWaited)
	} else {
		p.freshness(freshnessWatch)
	}
	if rv == "" && !strict && p.opts.ObserveAnswerAge != nil {
		if heard := coll.Heard(); !heard.IsZero() {
			p.opts.ObserveAnswerAge(time.Since(heard))
		}
	}
	return &ListResult{APIVersion: apiVersion, Kind: kind, ResourceVersion: strconv.FormatUint(r.ResourceVersion, 10), Items: r.Items, Total: r.Total}, true, nil
}

func (p *Proxy) freshness(path string) {
	if p.opts.ObserveFreshness != nil {
		p.opts.ObserveFreshness(path)
	}
}

// defaultCacheWait bounds how long a query waits for the cache to catch up.
const defaultCacheWait = 250 * time.Millisecond

// A write elsewhere in the cluster moves its resource version, which a
// collection's watch learns only from a bookmark, about 1–2 s after a query
// asks for one (listcache's hurryTimeout). A scope this large takes the
// cluster longer than that to list (about 100 µs an item to fetch and decode
// at 100k: docs/benchmarks.md), so its query waits for the bookmark instead.
const (
	largeScope   = 20_000
	bookmarkWait = 2500 * time.Millisecond
)

// maxFallbacks bounds the queries of one collection reading the cluster at
// once because the cache was not fresh in time: the others wait on for the
// bookmark that is coming, rather than all list the cluster at once — which,
// under load, is what the cache is there to spare it (50 clients at 300k
// objects fell from 1 226 to 83 answers a second without the bound).
const maxFallbacks = 2

// waitForCache waits until coll reaches want: at most cacheWait(size), or, when
// maxFallbacks queries of the collection already read the cluster, until the
// bookmark wait. False: read the cluster (a fallback slot is then held until
// ctx ends).
func (p *Proxy) waitForCache(ctx context.Context, coll *listcache.Collection, want uint64, size int64) bool {
	wait := p.cacheWait(size)
	wctx, cancel := context.WithTimeout(ctx, wait)
	err := coll.WaitFor(wctx, want)
	cancel()
	if err == nil {
		return true
	}
	if release, ok := coll.TryFallback(maxFallbacks); ok {
		context.AfterFunc(ctx, release)
		return false
	}
	wctx, cancel = context.WithTimeout(ctx, max(bookmarkWait-wait, 0))
	defer cancel()
	return coll.WaitFor(wctx, want) == nil
}

// waitForGone waits, at most CacheWait, until the cache no longer holds the
// objects deleted through the gateway.
func (p *Proxy) waitForGone(ctx context.Context, coll *listcache.Collection, gone []listcache.Gone) bool {
	if coll.Lacks(gone) {
		return true
	}
	wctx, cancel := context.WithTimeout(ctx, p.opts.CacheWait)
	defer cancel()
	return coll.WaitLacks(wctx, gone) == nil
}

// cacheWait is how long a query over size items waits for the cache.
func (p *Proxy) cacheWait(size int64) time.Duration {
	if size >= largeScope {
		return max(p.opts.CacheWait, bookmarkWait)
	}
	return p.opts.CacheWait
}
