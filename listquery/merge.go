package listquery

import (
	"container/heap"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/kubegate/kubegate"
)

// Ranked is one source's answer to a query asked for its best Depth items: those
// items, in the query's order, and how many matched there in all.
type Ranked struct {
	Source string
	Items  []json.RawMessage
	Total  int
}

// Sourced is an item of a merged page and the source it came from.
type Sourced struct {
	Source string
	Item   json.RawMessage
}

// Depth is how many of its best items each source must give for Merge to page
// q over them all: everything up to the end of the page asked for (for
// pageSize=0, one more than the cap, to tell "too many").
func (q *Query) Depth(maxPageSize int) int {
	if q.PageSize == 0 {
		return maxPageSize + 1
	}
	return q.PageSize * q.PageNum
}

// Top is q asked of one source for Merge: the same conditions and order, the
// first Depth items.
func (q *Query) Top(maxPageSize int) *Query {
	top := *q
	top.PageSize, top.PageNum = q.Depth(maxPageSize), 1
	return &top
}

// Merge pages q over several sources' ranked answers (Top) as one list: one
// order — the sort key, then the source, namespace and name, so pages are stable
// and pageNum walks across sources — and totals summed. It reads the sources'
// items lazily, a k-way merge of the heads (memory: one head a source), and
// decodes only the items up to the end of the page.
func Merge(q *Query, sources []Ranked, maxPageSize int) (page []Sourced, total int, err error) {
	for _, s := range sources {
		total += s.Total
	}
	if q.PageSize == 0 && total > maxPageSize {
		return nil, 0, kubegate.Errorf(kubegate.EInvalid, "parameter pageSize: 0 asks for all %d matches, more than the %d allowed; page with pageSize and pageNum", total, maxPageSize)
	}
	skip, want := 0, total
	if q.PageSize > 0 {
		skip, want = (q.PageNum-1)*q.PageSize, q.PageSize
	}
	h := &headHeap{q: q}
	buf := make([]string, 0, 8)
	for i := range sources {
		if err := h.advance(&sources[i], buf); err != nil {
			return nil, 0, err
		}
	}
	heap.Init(h)
	for h.Len() > 0 && len(page) < want {
		top := h.heads[0]
		if skip > 0 {
			skip--
		} else {
			page = append(page, Sourced{Source: top.src.Source, Item: top.src.Items[top.next]})
		}
		if top.next+1 < len(top.src.Items) {
			if err := h.fill(top, top.next+1, buf); err != nil {
				return nil, 0, err
			}
			heap.Fix(h, 0)
		} else {
			heap.Pop(h)
		}
	}
	return page, total, nil
}

// head is a source's next item in the merge.
type head struct {
	src  *Ranked
	next int // index in src.Items
	e    entry
}

type headHeap struct {
	q     *Query
	heads []*head
}

// advance adds src's first item as a head, if it has one.
func (h *headHeap) advance(src *Ranked, buf []string) error {
	if len(src.Items) == 0 {
		return nil
	}
	hd := &head{src: src}
	if err := h.fill(hd, 0, buf); err != nil {
		return err
	}
	h.heads = append(h.heads, hd)
	return nil
}

// fill makes item i of hd's source its current one, decoding what orders it.
func (h *headHeap) fill(hd *head, i int, buf []string) error {
	obj, err := h.sortFields(hd.src.Items[i])
	if err != nil {
		return fmt.Errorf("an item of %s: %w", hd.src.Source, err)
	}
	hd.next = i
	hd.e = entry{key: h.q.key(decoded(obj), buf)}
	if md, ok := obj["metadata"].(map[string]any); ok {
		hd.e.namespace, _ = md["namespace"].(string)
		hd.e.name, _ = md["name"].(string)
	}
	return nil
}

// sortFields decodes what orders an item, and only that: its metadata and
// the top-level field the sort path starts with (matched as values matches
// keys), the rest of a large object kept undecoded.
func (h *headHeap) sortFields(raw json.RawMessage) (map[string]any, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, err
	}
	obj := make(map[string]any, 2)
	for k, v := range top {
		if k != "metadata" && (len(h.q.SortPath) == 0 || !strings.EqualFold(k, h.q.SortPath[0])) {
			continue
		}
		var x any
		if err := json.Unmarshal(v, &x); err != nil {
			return nil, err
		}
		obj[k] = x
	}
	return obj, nil
}

func (h *headHeap) Len() int { return len(h.heads) }
func (h *headHeap) Less(i, j int) bool {
	a, b := h.heads[i], h.heads[j]
	// The global order: the sort key first (missing keys last), then the
	// source, then the source's own tie-break (namespace, name).
	if c := h.q.compareKeys(a.e.key, b.e.key); c != 0 {
		return c < 0
	}
	if a.src.Source != b.src.Source {
		return a.src.Source < b.src.Source
	}
	return h.q.before(&a.e, &b.e)
}
func (h *headHeap) Swap(i, j int) { h.heads[i], h.heads[j] = h.heads[j], h.heads[i] }
func (h *headHeap) Push(x any)    { h.heads = append(h.heads, x.(*head)) } //nolint:forcetypeassert // only heads are pushed.
func (h *headHeap) Pop() any {
	last := h.heads[len(h.heads)-1]
	h.heads = h.heads[:len(h.heads)-1]
	return last
}
