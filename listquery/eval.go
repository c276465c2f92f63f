package listquery

import (
	"container/heap"
	"encoding/json"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kubegate/kubegate"
)

// Item is a list item the collector can evaluate without decoding it (a cached
// object): the values at a path, as Values reads them from a decoded object; its
// namespace and name; and the JSON a page shows of it.
type Item interface {
	Values(path Path, out []string) []string
	Meta() (namespace, name string)
	JSON() json.RawMessage
}

// valuer reads the values at a path of one item (an Item, or a decoded object).
type valuer interface {
	Values(path Path, out []string) []string
}

// decoded is a decoded JSON object as a valuer.
type decoded map[string]any

func (d decoded) Values(path Path, out []string) []string { return values(d, path, out) }

// Match reports whether obj (a decoded JSON object) satisfies every condition.
func (q *Query) Match(obj map[string]any) bool {
	return q.match(decoded(obj), nil)
}

// match evaluates the conditions on v; buf is scratch space, returned for reuse.
func (q *Query) match(v valuer, buf []string) bool {
	for _, c := range q.Conds {
		buf = v.Values(c.Path, buf[:0])
		if !c.match(buf) {
			return false
		}
	}
	return true
}

func (c Cond) match(vals []string) bool {
	switch c.Op {
	case Exists:
		return len(vals) > 0
	case NotExists:
		return len(vals) == 0
	case Lt, Gt:
		want, _ := ordinal(c.Values[0]) // checked when parsed
		for _, v := range vals {
			if got, ok := ordinal(v); ok && (c.Op == Lt && got < want || c.Op == Gt && got > want) {
				return true
			}
		}
		return false
	}
	fuzzy := c.Op == Fuzzy || c.Op == NotFuzzy
	hit := false
	for _, v := range vals {
		if fuzzy {
			v = lower(v) // once per value, not once per alternative
		}
		for _, want := range c.Values {
			if fuzzy {
				hit = strings.Contains(v, want)
			} else {
				hit = v == want
			}
			if hit {
				break
			}
		}
		if hit {
			break
		}
	}
	if c.Op == NotEq || c.Op == NotFuzzy || c.Op == NotIn {
		return !hit
	}
	return hit
}

// lower is strings.ToLower, with a quick way out for what is lower-case ASCII
// already (most names and label values): no scan for Unicode, no copy.
func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' || c >= 0x80 {
			return strings.ToLower(s)
		}
	}
	return s
}

// Values appends the scalar values at path in obj (a decoded JSON object), as
// strings, as queries see them.
func Values(obj map[string]any, path Path, out []string) []string { return values(obj, path, out) }

// values appends the scalar values at path in obj, as strings. A path through an
// array visits every element. Keys match case-insensitively (an exact match wins),
// and a one-segment path not found at the top is looked up under metadata, so
// sortName=CreationTimestamp works as in KubeCube's guide.
func values(obj map[string]any, path Path, out []string) []string {
	n := len(out)
	out = collect(obj, path, out)
	if len(out) == n && len(path) == 1 {
		if md, ok := obj["metadata"].(map[string]any); ok {
			out = collect(md, path, out)
		}
	}
	return out
}

func collect(v any, path Path, out []string) []string {
	if len(path) == 0 {
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				out = collect(e, nil, out)
			}
		case string:
			out = append(out, x)
		case float64:
			out = append(out, strconv.FormatFloat(x, 'f', -1, 64))
		case bool:
			out = append(out, strconv.FormatBool(x))
		}
		return out
	}
	switch x := v.(type) {
	case map[string]any:
		if child, ok := x[path[0]]; ok {
			return collect(child, path[1:], out)
		}
		for k, child := range x {
			if strings.EqualFold(k, path[0]) {
				return collect(child, path[1:], out)
			}
		}
	case []any:
		for _, e := range x {
			out = collect(e, path, out)
		}
	}
	return out
}

// sortKey is an item's position in the order; missing keys sort last either way.
type sortKey struct {
	missing bool
	s       string
	n       float64
}

func (q *Query) key(it valuer, buf []string) sortKey {
	vals := it.Values(q.SortPath, buf[:0])
	if len(vals) == 0 {
		return sortKey{missing: true}
	}
	v := vals[0]
	switch q.SortFunc {
	case SortNumber:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) {
			return sortKey{missing: true}
		}
		return sortKey{n: f}
	case SortTime:
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return sortKey{missing: true}
		}
		return sortKey{n: float64(t.UnixNano())}
	default:
		return sortKey{s: v}
	}
}

type entry struct {
	key       sortKey
	namespace string
	name      string
	raw       json.RawMessage
	obj       map[string]any // encoded for the page when raw is nil
}

// before is the result order: by key (ascending or descending), missing keys last,
// ties by namespace then name, so pages are stable.
func (q *Query) before(a, b *entry) bool {
	if c := q.compareKeys(a.key, b.key); c != 0 {
		return c < 0
	}
	if a.namespace != b.namespace {
		return a.namespace < b.namespace
	}
	return a.name < b.name
}

// compareKeys orders two sort keys as the result does: ascending or
// descending, missing keys last either way.
func (q *Query) compareKeys(a, b sortKey) int {
	if a.missing != b.missing {
		if a.missing {
			return 1
		}
		return -1
	}
	if a.missing {
		return 0
	}
	c := 0
	if q.SortFunc == SortString {
		c = strings.Compare(a.s, b.s)
	} else if a.n < b.n {
		c = -1
	} else if a.n > b.n {
		c = 1
	}
	if q.Desc {
		c = -c
	}
	return c
}

// Pager evaluates a query over items fed one at a time. It keeps only the
// items that can still be on the requested page (a bounded heap of the best
// offset+pageSize), so memory follows the page, not the list.
type Pager struct {
	q     *Query
	keep  int // how many best items to keep
	cap   int // for pageSize=0: the most items a response may hold
	total int
	h     entryHeap
	buf   []string // scratch for the values of one item
	// Transform, when set, turns each item into the shape the query and the page
	// are in (a dialect's own item shape), or drops it (keep false).
	Transform func(obj map[string]any) (out map[string]any, keep bool)
}

// NewPager returns a pager for q; maxPageSize caps pageSize=0.
func NewPager(q *Query, maxPageSize int) *Pager {
	c := &Pager{q: q, cap: maxPageSize, buf: make([]string, 0, 8)}
	if q.PageSize == 0 {
		c.keep = maxPageSize + 1 // one more, to tell "too many" from "exactly the cap"
	} else {
		c.keep = q.PageSize * q.PageNum
		if c.keep < 0 || q.PageNum > math.MaxInt32 {
			c.keep = math.MaxInt32
		}
	}
	c.h.before = func(a, b *entry) bool { return q.before(b, a) } // a max-heap: the worst item on top
	return c
}

// Add evaluates one list item.
func (c *Pager) Add(raw json.RawMessage) error {
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		return err
	}
	if c.Transform != nil {
		var keep bool
		if obj, keep = c.Transform(obj); !keep {
			return nil
		}
		raw = nil // the page holds the transformed item
	}
	c.AddDecoded(obj, raw)
	return nil
}

// AddDecoded evaluates an item already decoded; raw is what the page shows of it
// (nil: obj, encoded when the page is).
func (c *Pager) AddDecoded(obj map[string]any, raw json.RawMessage) {
	if !c.q.match(decoded(obj), c.buf) {
		return
	}
	c.total++
	e := &entry{key: c.q.key(decoded(obj), c.buf), raw: raw}
	if raw == nil {
		e.obj = obj
	}
	if md, ok := obj["metadata"].(map[string]any); ok {
		e.namespace, _ = md["namespace"].(string)
		e.name, _ = md["name"].(string)
	}
	c.push(e)
}

// AddItem evaluates an item that reads its own values (no Transform applies).
func (c *Pager) AddItem(it Item) {
	if !c.q.match(it, c.buf) {
		return
	}
	c.total++
	k := c.q.key(it, c.buf)
	if len(c.h.items) >= c.keep && (c.keep == 0 || !c.q.before(&entry{key: k, namespace: nsOf(it), name: nameOf(it)}, c.h.items[0])) {
		return // cannot be on the page: no entry made
	}
	e := &entry{key: k, raw: it.JSON()}
	e.namespace, e.name = it.Meta()
	c.push(e)
}

func nsOf(it Item) string   { ns, _ := it.Meta(); return ns }
func nameOf(it Item) string { _, n := it.Meta(); return n }

// push keeps e if it can still be on the page.
func (c *Pager) push(e *entry) {
	if len(c.h.items) < c.keep {
		heap.Push(&c.h, e)
		return
	}
	if c.keep > 0 && c.q.before(e, c.h.items[0]) {
		c.h.items[0] = e
		heap.Fix(&c.h, 0)
	}
}

// MetadataOnly says the query reads only an item's name, namespace, creation
// time and labels, and no Transform applies: an Item that decodes only its
// metadata (listcache.ParseItem) answers it as a decoded object would, for a
// fraction of the decoding.
func (c *Pager) MetadataOnly() bool {
	if c.Transform != nil || !metadataPath(c.q.SortPath) {
		return false
	}
	for _, cond := range c.q.Conds {
		if !metadataPath(cond.Path) {
			return false
		}
	}
	return true
}

func metadataPath(p Path) bool {
	if len(p) < 2 || p[0] != "metadata" {
		return false
	}
	switch {
	case len(p) == 2:
		return p[1] == "name" || p[1] == "namespace" || p[1] == "creationTimestamp"
	case len(p) == 3:
		return p[1] == "labels"
	}
	return false
}

// Total is the number of matching items seen.
func (c *Pager) Total() int { return c.total }

// Page returns the requested page in order.
func (c *Pager) Page() ([]json.RawMessage, error) {
	if c.q.PageSize == 0 && c.total > c.cap {
		return nil, kubegate.Errorf(kubegate.EInvalid, "parameter pageSize: 0 asks for all %d matches, more than the %d allowed; page with pageSize and pageNum", c.total, c.cap)
	}
	items := c.h.items
	sort.Slice(items, func(i, j int) bool { return c.q.before(items[i], items[j]) })
	start := 0
	if c.q.PageSize > 0 {
		start = (c.q.PageNum - 1) * c.q.PageSize
	}
	if start > len(items) {
		start = len(items)
	}
	out := make([]json.RawMessage, 0, len(items)-start)
	for _, e := range items[start:] {
		raw := e.raw
		if raw == nil {
			var err error
			if raw, err = json.Marshal(e.obj); err != nil {
				return nil, err
			}
		}
		out = append(out, raw)
	}
	return out, nil
}

type entryHeap struct {
	items  []*entry
	before func(a, b *entry) bool
}

func (h *entryHeap) Len() int           { return len(h.items) }
func (h *entryHeap) Less(i, j int) bool { return h.before(h.items[i], h.items[j]) }
func (h *entryHeap) Swap(i, j int)      { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *entryHeap) Push(x any)         { h.items = append(h.items, x.(*entry)) } //nolint:forcetypeassert // only entries are pushed.
func (h *entryHeap) Pop() any {
	last := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return last
}
