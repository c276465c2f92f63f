package listcache

import (
	"sort"
	"sync"
	"sync/atomic"
)

// store holds one collection's objects, indexed by namespace, and the resource
// version they reflect: the reflector writes it (replace after a list, put and
// bookmark from the watch), readers take snapshots. Objects are immutable once
// stored, so a snapshot is a slice of pointers taken under the read lock.
type store struct {
	mu      sync.RWMutex
	objects map[string]*Object
	byNS    map[string]map[string]*Object
	bytes   int64
	rv      uint64 // the resource version of the last list, event or bookmark applied
	// version counts changes to the objects; a view is rebuilt for the first
	// cluster-wide query after one.
	version uint64
	viewMu  sync.Mutex // one build at a time
	view    atomic.Pointer[view]
}

func newStore() *store {
	return &store{objects: map[string]*Object{}, byNS: map[string]map[string]*Object{}}
}

// replace swaps in what a list read: objects (by keyOf), their approximate
// memory, and the list's resource version.
func (s *store) replace(objects map[string]*Object, bytes int64, rv uint64) {
	byNS := map[string]map[string]*Object{}
	for k, o := range objects {
		ns := byNS[o.Namespace]
		if ns == nil {
			ns = map[string]*Object{}
			byNS[o.Namespace] = ns
		}
		ns[k] = o
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objects, s.byNS, s.bytes, s.rv = objects, byNS, bytes, rv
	s.version++
	s.view.Store(nil)
}

// put stores o, or removes the object of its name when deleted, and moves the
// resource version to o's.
func (s *store) put(o *Object, deleted bool) {
	k := keyOf(o.Namespace, o.Name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.objects[k]; ok {
		s.bytes -= old.size()
		delete(s.objects, k)
		delete(s.byNS[old.Namespace], k)
	}
	if !deleted {
		s.objects[k] = o
		ns := s.byNS[o.Namespace]
		if ns == nil {
			ns = map[string]*Object{}
			s.byNS[o.Namespace] = ns
		}
		ns[k] = o
		s.bytes += o.size()
	} else if len(s.byNS[o.Namespace]) == 0 {
		delete(s.byNS, o.Namespace)
	}
	s.version++
	s.view.Store(nil) // it would keep replaced objects alive
	s.rv = max(s.rv, o.ResourceVersion)
}

// bookmark moves the resource version to rv; moved says it was behind.
func (s *store) bookmark(rv uint64) (moved bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rv > s.rv {
		s.rv = rv
		return true
	}
	return false
}

// resourceVersion is the version the objects reflect.
func (s *store) resourceVersion() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.rv
}

// lacks says the store holds none of the deleted objects as they were.
func (s *store) lacks(gone []Gone) bool {
	if len(gone) == 0 {
		return true
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, g := range gone {
		if o, ok := s.objects[keyOf(g.Namespace, g.Name)]; ok && (g.ResourceVersion == 0 || o.ResourceVersion <= g.ResourceVersion) {
			return false
		}
	}
	return true
}

// objectsOf returns the objects of namespace ("" for all) in no order.
func (s *store) objectsOf(namespace string) ([]*Object, uint64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	src := s.objects
	if namespace != "" {
		src = s.byNS[namespace]
	}
	out := make([]*Object, 0, len(src))
	for _, o := range src {
		out = append(out, o)
	}
	return out, s.rv
}

// snapshot is objectsOf sorted by namespace and name.
func (s *store) snapshot(namespace string) ([]*Object, uint64) {
	out, rv := s.objectsOf(namespace)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Name < out[j].Name
	})
	return out, rv
}

// count says how many objects namespace ("" for all) holds, and whether any
// object is in a namespace (false for cluster-scoped resources, or while
// nothing says).
func (s *store) count(namespace string) (n int, namespaced bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, clusterScoped := s.byNS[""]
	namespaced = len(s.byNS) > 0 && !clusterScoped
	if namespace == "" {
		return len(s.objects), namespaced
	}
	return len(s.byNS[namespace]), namespaced
}

// smallestNamespace is the namespace where the store holds the fewest objects:
// default when it holds none there, as in most clusters.
func (s *store) smallestNamespace() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	best, n := "default", len(s.byNS["default"])
	for ns, objs := range s.byNS {
		if n == 0 {
			break
		}
		if ns != "" && len(objs) < n {
			best, n = ns, len(objs)
		}
	}
	return best
}

// stats says how many objects the store holds and their approximate memory,
// its scan view's included.
func (s *store) stats() (objects int, bytes int64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	bytes = s.bytes
	if v := s.view.Load(); v != nil {
		bytes += v.bytes
	}
	return len(s.objects), bytes
}

// currentView returns a view of the objects as they are now, building one if
// they changed since the last, and the resource version it reflects.
func (s *store) currentView() (*view, uint64) {
	s.mu.RLock()
	version, rv := s.version, s.rv
	s.mu.RUnlock()
	if v := s.view.Load(); v != nil && v.version == version {
		return v, rv
	}
	s.viewMu.Lock() // one build at a time; the queries behind it use it
	defer s.viewMu.Unlock()
	s.mu.RLock()
	version, rv = s.version, s.rv
	if v := s.view.Load(); v != nil && v.version == version {
		s.mu.RUnlock()
		return v, rv
	}
	objs := make([]*Object, 0, len(s.objects))
	for _, o := range s.objects {
		objs = append(objs, o)
	}
	s.mu.RUnlock()
	// Built outside the lock: the watch keeps applying events meanwhile.
	v := newView(version, objs)
	s.mu.RLock()
	if s.version == version { // a change while building has dropped the view already
		s.view.Store(v)
	}
	s.mu.RUnlock()
	return v, rv
}
