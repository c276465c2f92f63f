package listcache

import (
	"sort"
	"time"

	"github.com/kubegate/kubegate"
)

// CollectionHealth is one collection's watch, as the metrics show it.
type CollectionHealth struct {
	Cluster, Path string
	// Healthy as Collection.Healthy says it, for the bound Health was given.
	Healthy bool
	Objects int
	// Heard is when the watch last proved the collection caught up (zero after a
	// failure, until it resumes).
	Heard time.Time
}

// Health reports every collection's watch; healthy: heard from within bound.
func (c *Cache) Health(bound time.Duration) []CollectionHealth {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]CollectionHealth, 0, len(c.entries))
	for k, e := range c.entries {
		n, _ := e.coll.Stats()
		out = append(out, CollectionHealth{Cluster: k.cluster, Path: k.path, Healthy: e.coll.Healthy(bound), Heard: e.coll.Heard(), Objects: n})
	}
	return out
}

// Status is what the cache does for cluster: its collections (healthy: heard
// from within bound) and the refused ones, sorted by path.
func (c *Cache) Status(cluster string, bound time.Duration) kubegate.ListCacheStatus {
	st := kubegate.ListCacheStatus{Enabled: true}
	for _, h := range c.Health(bound) {
		if h.Cluster == cluster {
			st.Collections = append(st.Collections, kubegate.CachedCollection{Path: h.Path, Objects: h.Objects, Healthy: h.Healthy})
		}
	}
	sort.Slice(st.Collections, func(i, j int) bool { return st.Collections[i].Path < st.Collections[j].Path })
	for _, r := range c.permission.refusals() {
		if r.Cluster == cluster {
			group, resource, _ := groupResource(r.Path)
			if group != "" {
				resource += "." + group
			}
			st.Refused = append(st.Refused, kubegate.RefusedCollection{Path: r.Path, Resource: resource, Reason: r.Reason})
		}
	}
	return st
}

// Refusals lists the collections the gateway may not cache, and why.
func (c *Cache) Refusals() []Refusal { return c.permission.refusals() }
