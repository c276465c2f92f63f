package listcache

import (
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kubegate/kubegate/cluster"
)

// Collection is one collection of one cluster (all namespaces), kept up to date
// by list and watch until its context ends. Its parts: the reflector
// (reflector.go) lists and watches into the store (store.go) and keeps the
// sync state below; the freshness protocol (freshness.go) decides when the
// store may answer; the reader (reader.go) answers queries from it.
type Collection struct {
	target *cluster.Member
	path   string // the cluster-wide collection, e.g. /apis/apps/v1/deployments
	logger *slog.Logger
	now    func() time.Time
	store  *store

	mu     sync.RWMutex // guards the sync state
	synced bool
	err    error // why the last sync failed, while not synced
	// typed says list items carry kind and apiVersion (known once a list had
	// items); watch events always do, and are made to look like list items.
	typed, typedKnown bool
	// listAPIVersion and listKind are the list's own (e.g. v1, ConfigMapList).
	listAPIVersion, listKind string
	gaveUp                   bool // ErrUncachable: no more attempts
	// heard is when the cluster last showed the watch alive and caught up (the
	// list's start, a watch ended at its timeout, an event, a bookmark), zero once
	// a watch failed or fell behind: the watch's health (Healthy). A quiet cluster
	// sends no bookmarks (their version would not move), so short watches' ends
	// are the heartbeat.
	heard   time.Time
	advance chan struct{} // closed, and replaced, after the store's version moves or sync state changes
	// hurry asks for a bookmark soon: a query waits for a version the watch has
	// not reached, most likely because the cluster wrote something else since
	// (its resource version is global, and the watch hears only this resource).
	hurry chan struct{}
	// fallbacks counts queries reading the cluster because the cache was behind.
	fallbacks atomic.Int32
}

func (c *Collection) broadcastLocked() {
	close(c.advance)
	c.advance = make(chan struct{})
}

// Refused says the collection gave up because the cluster refused the gateway.
func (c *Collection) Refused() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gaveUp && errors.Is(c.err, errRefused)
}

// GaveUp says the collection cannot be cached (ErrUncachable) and stopped trying.
func (c *Collection) GaveUp() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gaveUp
}

// ListType is the apiVersion and kind of the collection's lists (say v1 and
// ConfigMapList), as the cluster named them; empty before the first list.
func (c *Collection) ListType() (apiVersion, kind string) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.listAPIVersion, c.listKind
}

// Stats says how many objects the collection holds and their approximate
// memory, its scan view's included.
func (c *Collection) Stats() (objects int, bytes int64) { return c.store.stats() }

// Count says how many objects namespace ("" for all) holds, and whether any
// object of the collection is in a namespace (false for cluster-scoped
// resources, or while nothing says).
func (c *Collection) Count(namespace string) (n int, namespaced bool) {
	return c.store.count(namespace)
}

// Snapshot returns the objects of namespace ("" for all), sorted by namespace
// and name, and the resource version they reflect.
func (c *Collection) Snapshot(namespace string) ([]*Object, uint64) {
	return c.store.snapshot(namespace)
}
