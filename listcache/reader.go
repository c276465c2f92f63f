package listcache

import (
	"encoding/json"

	"github.com/kubegate/kubegate/listquery"
)

// Result is one page of a query answered from the cache.
type Result struct {
	Items []json.RawMessage
	Total int
	// ResourceVersion is the one the answer reflects (of a single partition;
	// over several, each partition's is in Versions).
	ResourceVersion uint64
	Versions        []uint64
}

// Partition is one scope of one collection a query reads: a cluster's
// collection, in all namespaces ("") or one. Which partitions a caller may read
// is decided before the reader is asked (RBAC per cluster and namespace).
type Partition struct {
	Collection *Collection
	Namespace  string
}

// QueryPartitions evaluates q over the objects of every partition as one list,
// into one pager: one order and one page over them all, holding only the page
// asked for, never a copy of every object. maxPageSize caps pageSize=0. With
// one partition the answer is Collection.Query's.
func QueryPartitions(q *listquery.Query, parts []Partition, maxPageSize int) (Result, error) {
	pager := listquery.NewPager(q, maxPageSize)
	res := Result{Versions: make([]uint64, len(parts))}
	for i, p := range parts {
		res.Versions[i] = p.Collection.feed(pager, p.Namespace)
	}
	items, err := pager.Page()
	if err != nil {
		return Result{}, err
	}
	res.Items, res.Total = items, pager.Total()
	if len(parts) == 1 {
		res.ResourceVersion, res.Versions = res.Versions[0], nil
	}
	return res, nil
}

// feed adds the objects of namespace ("" for all) to pager, without decoding
// them: the fields every query touches are kept parsed, others are read once per
// object and path. It returns the resource version they reflect.
func (c *Collection) feed(pager *listquery.Pager, namespace string) uint64 {
	if namespace != "" {
		objs, rv := c.store.objectsOf(namespace) // the pager orders what it keeps
		for _, o := range objs {
			pager.AddItem(o)
		}
		return rv
	}
	v, rv := c.store.currentView()
	r := &row{v: v}
	for r.i = range v.objs {
		pager.AddItem(r)
	}
	return rv
}

// Query evaluates q over the objects of namespace ("" for all) as the cache holds
// them now, with the same evaluator as the upstream path (listquery), so both
// paths answer alike, but without decoding the objects; maxPageSize caps
// pageSize=0.
func (c *Collection) Query(q *listquery.Query, namespace string, maxPageSize int) (Result, error) {
	return QueryPartitions(q, []Partition{{Collection: c, Namespace: namespace}}, maxPageSize)
}

// QueryDecoded answers q over the objects of namespace ("" for all), each
// decoded and turned by transform into the shape q reads (a dialect's item),
// or dropped: slower than Query, a decode an object, but the cluster is not
// read.
func (c *Collection) QueryDecoded(q *listquery.Query, namespace string, maxPageSize int, transform func(map[string]any) (map[string]any, bool)) (Result, error) {
	objs, rv := c.store.objectsOf(namespace)
	pager := listquery.NewPager(q, maxPageSize)
	pager.Transform = transform
	for _, o := range objs {
		if err := pager.Add(o.Raw); err != nil {
			return Result{}, err
		}
	}
	items, err := pager.Page()
	if err != nil {
		return Result{}, err
	}
	return Result{Items: items, Total: pager.Total(), ResourceVersion: rv}, nil
}
