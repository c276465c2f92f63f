package listcache

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kubegate/kubegate/cluster"
)

// Members resolves a cluster name to its current member (cluster.Registry).
type Members interface {
	Member(name string) (*cluster.Member, error)
}

// CacheOptions configure a Cache.
type CacheOptions struct {
	Members Members
	// IdleTimeout drops a collection no query used for this long (default 10 min).
	IdleTimeout time.Duration
	// MemoryLimit bounds the cached objects' approximate memory, all collections
	// together: past it the least recently used go, and no new one starts.
	MemoryLimit int64
	// MaxCollections bounds how many collections are cached at once (default 64).
	MaxCollections int
	// SweepInterval is how often idle, over-budget and orphaned collections are
	// dropped (default 30 s).
	SweepInterval time.Duration
	Collection    Options
	// ObserveList, when set, learns each full list of a collection from its
	// cluster (a collection's first, and each relist after its watch could not
	// resume), by cluster.
	ObserveList func(cluster string)
	Logger      *slog.Logger
	Now         func() time.Time
}

type cacheKey struct{ cluster, path string }

type cacheEntry struct {
	coll     *Collection
	member   *cluster.Member
	cancel   context.CancelFunc
	lastUsed time.Time
}

// Cache holds the collections queries use, started on first use.
type Cache struct {
	o CacheOptions

	mu      sync.Mutex
	ctx     context.Context // Run's: collections live under it
	entries map[cacheKey]*cacheEntry
	// resting are collections dropped for memory, not started again before the
	// time: a collection that cannot fit is not listed again on every query.
	resting map[cacheKey]time.Time

	discovery  *discovery
	permission *permission
	rechecking atomic.Bool // a recheck of refusals runs
}

// current is the member the registry has for name now; nil: none.
func (c *Cache) current(name string) *cluster.Member {
	t, err := c.o.Members.Member(name)
	if err != nil {
		return nil
	}
	return t
}

// maxResting bounds the collections remembered as resting: their paths are the
// callers' choice.
const maxResting = 4096

// NewCache returns a cache; Run must be running for it to start collections.
func NewCache(o CacheOptions) *Cache {
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 10 * time.Minute
	}
	if o.SweepInterval <= 0 {
		o.SweepInterval = 30 * time.Second
	}
	if o.MaxCollections <= 0 {
		o.MaxCollections = 64
	}
	o.Collection.MaxBytes = o.MemoryLimit // one collection alone past the limit gives up while listing
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o.Collection.Logger = o.Logger
	return &Cache{o: o, entries: map[cacheKey]*cacheEntry{}, resting: map[cacheKey]time.Time{},
		discovery:  &discovery{now: o.Now, known: map[discoveryKey]discovered{}},
		permission: &permission{now: o.Now, logger: o.Logger, answers: map[permissionKey]permissionAnswer{}}}
}

// Run sweeps until ctx ends, then stops every collection.
func (c *Cache) Run(ctx context.Context) {
	c.mu.Lock()
	c.ctx = ctx
	c.mu.Unlock()
	t := time.NewTicker(c.o.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			c.mu.Lock()
			for k, e := range c.entries {
				e.cancel()
				delete(c.entries, k)
			}
			c.mu.Unlock()
			return
		case <-t.C:
			c.Sweep()
			if c.rechecking.CompareAndSwap(false, true) {
				go func() {
					defer c.rechecking.Store(false)
					c.permission.recheck(ctx, c.current)
				}()
			}
		}
	}
}

// Collection returns the collection path (cluster-wide, e.g. /api/v1/pods) of
// target, starting it on first use; nil when it cannot be cached, or the cache
// is not running, full (collections or memory), or resting the collection after
// dropping it for memory or after it gave up: the caller reads the cluster
// instead. Only a resource the cluster's discovery lists is started.
func (c *Cache) Collection(target *cluster.Member, path string) *Collection {
	coll, found, ctx := c.lookup(target, path)
	if found || ctx == nil {
		return coll
	}
	if !c.discovery.serves(ctx, target, path) || !c.permission.allows(ctx, target, path) {
		return nil
	}
	return c.start(target, path)
}

// lookup finds a started collection; found false with a context: one may start.
func (c *Cache) lookup(target *cluster.Member, path string) (coll *Collection, found bool, ctx context.Context) {
	k := cacheKey{target.Name, path}
	now := c.o.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[k]; ok {
		if e.member == target {
			if !e.coll.GaveUp() {
				e.lastUsed = now
				return e.coll, true, nil
			}
			// It gave up (too large, or not cachable): its slot goes to others,
			// and it rests rather than list again on every query.
			c.giveUpLocked(k, e, now)
			return nil, true, nil
		}
		e.cancel() // the cluster was registered again: new server or credentials
		delete(c.entries, k)
	}
	if until, ok := c.resting[k]; ok && now.Before(until) {
		return nil, true, nil
	}
	if c.ctx == nil || c.ctx.Err() != nil || !c.roomLocked() {
		return nil, true, nil
	}
	return nil, false, c.ctx
}

// start starts the collection unless another query did meanwhile or the room
// went.
func (c *Cache) start(target *cluster.Member, path string) *Collection {
	k := cacheKey{target.Name, path}
	now := c.o.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[k]; ok && e.member == target && !e.coll.GaveUp() {
		return e.coll
	} else if ok {
		return nil // changed meanwhile: the next query sorts it out
	}
	if c.ctx == nil || c.ctx.Err() != nil || !c.roomLocked() {
		return nil
	}
	if target.Context().Err() != nil {
		return nil // registered again or removed meanwhile
	}
	delete(c.resting, k)
	// The collection lives under Run's context and the member's: a cluster
	// registered again or removed stops it at once.
	ctx, cancel := context.WithCancel(c.ctx)
	stop := context.AfterFunc(target.Context(), cancel)
	o := c.o.Collection
	if observe := c.o.ObserveList; observe != nil {
		o.OnList = func() { observe(target.Name) }
	}
	e := &cacheEntry{coll: Start(ctx, target, path, o), member: target, lastUsed: now,
		cancel: func() { stop(); cancel() }}
	c.entries[k] = e
	c.o.Logger.Info("caching a collection", "cluster", target.Name, "collection", path)
	return e.coll
}

// roomLocked says whether another collection fits, after freeing the slots of
// those that gave up.
func (c *Cache) roomLocked() bool {
	if len(c.entries) >= c.o.MaxCollections {
		now := c.o.Now()
		for k, e := range c.entries {
			if e.coll.GaveUp() {
				c.giveUpLocked(k, e, now)
			}
		}
	}
	return len(c.entries) < c.o.MaxCollections && (c.o.MemoryLimit <= 0 || c.bytesLocked() < c.o.MemoryLimit)
}

// giveUpLocked drops a collection that gave up. One the cluster refused rests
// as long as a refusal is trusted, and its permission is asked again: RBAC that
// changed may change back. The others rest for the idle timeout.
func (c *Cache) giveUpLocked(k cacheKey, e *cacheEntry, now time.Time) {
	if e.coll.Refused() {
		c.permission.forget(k.cluster, k.path)
		c.restForLocked(k, now, refusedTTL)
		return
	}
	c.restLocked(k, now)
}

// restLocked drops the collection k and keeps it from starting again for the
// idle timeout.
func (c *Cache) restLocked(k cacheKey, now time.Time) {
	c.restForLocked(k, now, c.o.IdleTimeout)
}

func (c *Cache) restForLocked(k cacheKey, now time.Time, d time.Duration) {
	if e, ok := c.entries[k]; ok {
		e.cancel()
		delete(c.entries, k)
	}
	if len(c.resting) >= maxResting {
		for r, until := range c.resting {
			if !now.Before(until) {
				delete(c.resting, r)
			}
		}
		if len(c.resting) >= maxResting {
			clear(c.resting)
		}
	}
	c.resting[k] = now.Add(d)
}

func (c *Cache) bytesLocked() int64 {
	var n int64
	for _, e := range c.entries {
		_, b := e.coll.Stats()
		n += b
	}
	return n
}

// Engage implements cluster.Part: when m's registration changes or ends, its
// collections stop and are dropped at once, and what the cache learned of the
// cluster (its discovery, the gateway's permissions) is forgotten. Other
// clusters' collections are untouched.
func (c *Cache) Engage(m *cluster.Member) {
	context.AfterFunc(m.Context(), func() { c.release(m) })
}

// release drops everything held for m.
func (c *Cache) release(m *cluster.Member) {
	c.mu.Lock()
	for k, e := range c.entries {
		if e.member == m {
			e.cancel()
			delete(c.entries, k)
			c.o.Logger.Info("dropped a cached collection", "cluster", k.cluster, "collection", k.path, "reason", "cluster registered again or removed")
		}
	}
	c.mu.Unlock()
	c.permission.release(m)
	c.discovery.release(m)
}

// Sweep drops collections that are idle, whose cluster is gone or changed, and
// the least recently used while over the memory limit.
func (c *Cache) Sweep() {
	now := c.o.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	drop := func(k cacheKey, why string) {
		c.entries[k].cancel()
		delete(c.entries, k)
		c.o.Logger.Info("dropped a cached collection", "cluster", k.cluster, "collection", k.path, "reason", why)
	}
	for k, e := range c.entries {
		switch {
		case e.member.Context().Err() != nil:
			drop(k, "cluster registered again or removed")
		case now.Sub(e.lastUsed) > c.o.IdleTimeout:
			drop(k, "idle")
		}
	}
	if c.o.MemoryLimit <= 0 {
		return
	}
	keys := make([]cacheKey, 0, len(c.entries))
	for k := range c.entries {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return c.entries[keys[i]].lastUsed.Before(c.entries[keys[j]].lastUsed) })
	for _, k := range keys {
		if c.bytesLocked() <= c.o.MemoryLimit {
			break
		}
		c.o.Logger.Info("dropped a cached collection", "cluster", k.cluster, "collection", k.path, "reason", "over the memory limit")
		c.restLocked(k, now)
	}
	for k, until := range c.resting {
		if !now.Before(until) {
			delete(c.resting, k)
		}
	}
}

// Stats sums the collections' sizes.
func (c *Cache) Stats() (collections, objects int, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.entries {
		n, b := e.coll.Stats()
		objects += n
		bytes += b
	}
	return len(c.entries), objects, bytes
}

// Len says how many collections are cached.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
