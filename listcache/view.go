package listcache

import (
	"encoding/json"
	"strings"

	"github.com/kubegate/kubegate/listquery"
)

// view is a columnar copy of the fields cluster-wide queries read of every
// object — name, namespace, creation time — with the strings of each column in
// one allocation. A query over the whole collection then scans memory in order
// instead of following a pointer per object per field: at 100k objects that
// is most of its time (docs/benchmarks.md). Objects are read only for what the
// view lacks (labels, other paths) and for the page's JSON.
type view struct {
	version uint64 // the collection's version it copies
	objs    []*Object
	names   []string
	nss     []string
	created []string
	bytes   int64 // approximate memory: the strings, their headers, the pointers
}

// newView copies the columns of objs, which it keeps.
func newView(version uint64, objs []*Object) *view {
	v := &view{version: version, objs: objs}
	var size int
	for _, o := range objs {
		size += len(o.Name) + len(o.Namespace) + len(o.Created)
	}
	var b strings.Builder
	b.Grow(size)
	for _, o := range v.objs {
		b.WriteString(o.Name)
		b.WriteString(o.Namespace)
		b.WriteString(o.Created)
	}
	all, off := b.String(), 0
	next := func(n int) string { s := all[off : off+n]; off += n; return s }
	v.names, v.nss, v.created = make([]string, len(v.objs)), make([]string, len(v.objs)), make([]string, len(v.objs))
	for i, o := range v.objs {
		v.names[i], v.nss[i], v.created[i] = next(len(o.Name)), next(len(o.Namespace)), next(len(o.Created))
	}
	v.bytes = int64(size + len(v.objs)*(3*16+8))
	return v
}

// row is one object of a view as a listquery.Item. A query reuses one row, so
// scanning allocates nothing per object.
type row struct {
	v *view
	i int
}

// Values implements listquery.Item, from the columns where they hold the path.
func (r *row) Values(path listquery.Path, out []string) []string {
	if len(path) == 2 && path[0] == "metadata" {
		switch path[1] {
		case "name":
			return append(out, r.v.names[r.i])
		case "namespace":
			if ns := r.v.nss[r.i]; ns != "" {
				return append(out, ns)
			}
			return out
		case "creationTimestamp":
			if c := r.v.created[r.i]; c != "" {
				return append(out, c)
			}
			return out
		}
	}
	return r.v.objs[r.i].Values(path, out)
}

// Meta implements listquery.Item.
func (r *row) Meta() (namespace, name string) { return r.v.nss[r.i], r.v.names[r.i] }

// JSON implements listquery.Item.
func (r *row) JSON() json.RawMessage { return r.v.objs[r.i].Raw }
