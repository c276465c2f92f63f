package listcache

import (
	"context"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/kubegate/kubegate"
)

// The freshness protocol: when a collection may answer a list, and how long a
// list waits for it (docs/list-queries.md, "How fresh a cached answer is").
//   - By default the cache answers at once while its watch is healthy (heard
//     from within the staleness bound), after waiting, bounded, for the latest
//     write the gateway carried to the collection; an unhealthy watch: the
//     cluster answers.
//   - Strict: once the cache reaches the version the cluster had when the
//     request came (a consistent one-item list as the gateway).
//   - resourceVersion=N: once it holds N; 0: whatever it holds.

// Freshness is the path a list query the cache could answer took, as metrics
// count it.
type Freshness string

// Freshness paths.
const (
	FreshWatch     Freshness = "watch"     // from the cache at once: its watch is healthy, no write to wait for
	FreshWaited    Freshness = "waited"    // from the cache, once it held a version: a write, N, or strict
	FreshUnhealthy Freshness = "unhealthy" // from the cluster: the watch was not heard from within the bound
	FreshBehind    Freshness = "behind"    // from the cluster: the cache did not reach the version in time
	FreshUncached  Freshness = "uncached"  // from the cluster: no collection (not cachable, full, starting)
)

// DefaultStaleness is Policy.Staleness's default: with heartbeat watches a
// collection hears from the cluster about every 3 s (a watch's end).
const DefaultStaleness = 5 * time.Second

// DefaultWait bounds how long a query waits for the cache to catch up.
const DefaultWait = 250 * time.Millisecond

// A write elsewhere in the cluster moves its resource version, which a
// collection's watch learns only from a bookmark, about 1–2 s after a query
// asks for one (hurryTimeout). A scope this large takes the cluster longer than
// that to list (about 100 µs an item to fetch and decode at 100k:
// docs/benchmarks.md), so its query waits for the bookmark instead.
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

// Consistency is the list parameter that chooses how fresh a cached answer is:
// "" or "watch" (the default) as fresh as the collection's healthy watch and every
// write the gateway carried; "strict" as fresh as the cluster when the request
// came, as a Kubernetes list without a resourceVersion.
const Consistency = "consistency"

// ParseConsistency reads the consistency parameter: strict or not.
func ParseConsistency(query url.Values) (strict bool, err error) {
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

// ParseVersion reads the resource version a list asks for from the parameters
// passed to the cluster: "" a consistent read (as fresh as the cluster when the
// request came), "0" any, a number N not older than N (resourceVersionMatch
// unset or NotOlderThan, as Kubernetes reads a list without a limit). ok false:
// the cluster answers (an exact version, a version that is not a number, other
// parameters).
func ParseVersion(upstream url.Values) (rv string, ok bool) {
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

// Demand is what an answer from the cache must reflect.
type Demand struct {
	// Version is what ParseVersion read: "" by Strict, "0" anything, N at least N.
	Version string
	// Strict (with Version "") asks for the cluster's version when the request
	// came.
	Strict bool
	// Written and Gone are what the gateway's recent writes to the collection
	// require: at least that version, and none of the deleted objects.
	Written uint64
	Gone    []Gone
	// Namespace is the scope answered ("" for all): a large scope waits longer
	// before the cluster is read instead.
	Namespace string
}

// Policy bounds the waits.
type Policy struct {
	// Staleness bounds how long ago the watch must have been heard from for a
	// default answer (DefaultStaleness when 0).
	Staleness time.Duration
	// Wait bounds how long a query waits for the cache to catch up (DefaultWait
	// when 0); a large scope waits up to the bookmark wait.
	Wait time.Duration
}

func (p Policy) orDefaults() Policy {
	if p.Staleness <= 0 {
		p.Staleness = DefaultStaleness
	}
	if p.Wait <= 0 {
		p.Wait = DefaultWait
	}
	return p
}

// wait is how long a query over size items waits for the cache.
func (p Policy) wait(size int) time.Duration {
	if size >= largeScope {
		return max(p.Wait, bookmarkWait)
	}
	return p.Wait
}

// Await waits, bounded by p, until the collection may answer d. It returns the
// path taken and the version the answer reflects at least; ok false: the cluster
// answers instead (path says why). A query that reads the cluster because the
// cache was behind holds one of the collection's fallback slots until ctx ends.
func (c *Collection) Await(ctx context.Context, d Demand, p Policy) (path Freshness, want uint64, ok bool) {
	p = p.orDefaults()
	size, _ := c.Count(d.Namespace)
	switch {
	case d.Version == "" && d.Strict:
		var err error
		if want, err = c.ClusterResourceVersion(ctx); err != nil {
			return FreshUnhealthy, 0, false
		}
	case d.Version == "":
		if !c.Healthy(p.Staleness) {
			// A collection still listing (just started) is waited for, bounded;
			// one whose watch failed is not coming back in that time.
			wctx, cancel := context.WithTimeout(ctx, p.wait(size))
			_ = c.WaitFor(wctx, 0)
			cancel()
			if !c.Healthy(p.Staleness) {
				return FreshUnhealthy, 0, false
			}
		}
	default:
		if want, _ = strconv.ParseUint(d.Version, 10, 64); want > c.ResourceVersion() {
			// Ahead of the cache: not waited for unless the cluster has it (a
			// version from the future is the cluster's 504 to give).
			now, err := c.ClusterResourceVersion(ctx)
			if err != nil || want > now {
				return FreshBehind, 0, false
			}
		}
	}
	want = max(want, d.Written)
	waited := want > c.ResourceVersion() || d.Strict || !c.Lacks(d.Gone)
	if !c.awaitVersion(ctx, want, p.wait(size)) || !c.awaitGone(ctx, d.Gone, p.Wait) {
		return FreshBehind, 0, false
	}
	if waited {
		return FreshWaited, want, true
	}
	return FreshWatch, want, true
}

// awaitVersion waits until the collection reaches want: at most wait, or, when
// maxFallbacks queries of the collection already read the cluster, until the
// bookmark wait. False: read the cluster (a fallback slot is then held until
// ctx ends).
func (c *Collection) awaitVersion(ctx context.Context, want uint64, wait time.Duration) bool {
	wctx, cancel := context.WithTimeout(ctx, wait)
	err := c.WaitFor(wctx, want)
	cancel()
	if err == nil {
		return true
	}
	if release, ok := c.TryFallback(maxFallbacks); ok {
		context.AfterFunc(ctx, release)
		return false
	}
	wctx, cancel = context.WithTimeout(ctx, max(bookmarkWait-wait, 0))
	defer cancel()
	return c.WaitFor(wctx, want) == nil
}

// awaitGone waits, at most wait, until the cache no longer holds the objects
// deleted through the gateway.
func (c *Collection) awaitGone(ctx context.Context, gone []Gone, wait time.Duration) bool {
	if c.Lacks(gone) {
		return true
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	return c.WaitLacks(wctx, gone) == nil
}

// WaitFor waits until the cache has applied everything up to resource version
// rv, or ctx ends. While the collection cannot be listed (a cluster outage, or the
// gateway may not list it) it fails at once with the reason: a query then reads
// the cluster instead of waiting for a cache that is not coming.
func (c *Collection) WaitFor(ctx context.Context, rv uint64) error {
	// Behind rv, the watch is asked for a bookmark soon.
	return c.waitUntil(ctx, func() bool { return c.store.resourceVersion() >= rv }, true)
}

// waitUntil waits until the collection is synced and holds, or ctx ends; while
// it cannot sync it fails at once with the reason. With hurry, a synced
// collection that does not hold yet asks its watch for a bookmark soon.
func (c *Collection) waitUntil(ctx context.Context, holds func() bool, hurry bool) error {
	for {
		// advance is taken before holds is read: a change after the read closes
		// it (the store changes, then the collection broadcasts).
		c.mu.RLock()
		synced, syncErr, advance := c.synced, c.err, c.advance
		c.mu.RUnlock()
		switch {
		case synced && holds():
			return nil
		case !synced && syncErr != nil:
			return syncErr
		case synced && hurry:
			select {
			case c.hurry <- struct{}{}:
			default:
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-advance:
		}
	}
}

// alive notes that the cluster was heard from just now.
func (c *Collection) alive() {
	c.mu.Lock()
	c.heard = c.now()
	c.mu.Unlock()
}

// Healthy says the collection reflects its watch stream and the stream is
// alive: listed, its last watch not failed, and the cluster heard from within
// bound. What it holds then misses at most what the cluster
// wrote in the last bound, and in practice only the watch's own delay.
func (c *Collection) Healthy(bound time.Duration) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.synced && !c.gaveUp && c.now().Sub(c.heard) <= bound
}

// Heard says when the watch last proved the collection caught up (zero: not
// since it failed, or never).
func (c *Collection) Heard() time.Time {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.heard
}

// Gone is an object deleted as it was at ResourceVersion: the cache reflects the
// delete once it holds no object of the name at that version or older (none at
// all, for 0).
type Gone = kubegate.DeletedObject

// Lacks says the cache holds none of the deleted objects as they were.
func (c *Collection) Lacks(gone []Gone) bool { return c.store.lacks(gone) }

// WaitLacks waits until Lacks(gone), or ctx ends; a collection that cannot sync
// fails at once.
func (c *Collection) WaitLacks(ctx context.Context, gone []Gone) error {
	return c.waitUntil(ctx, func() bool { return c.store.lacks(gone) }, false)
}

// TryFallback takes one of limit slots for a query that reads the cluster
// because the collection was behind; release gives it back. ok false: limit
// queries of the collection read the cluster already.
func (c *Collection) TryFallback(limit int32) (release func(), ok bool) {
	for {
		n := c.fallbacks.Load()
		if n >= limit {
			return nil, false
		}
		if c.fallbacks.CompareAndSwap(n, n+1) {
			var once sync.Once
			return func() { once.Do(func() { c.fallbacks.Add(-1) }) }, true
		}
	}
}

// ResourceVersion is the resource version the cache has reached.
func (c *Collection) ResourceVersion() uint64 { return c.store.resourceVersion() }
