// Package listcache keeps collections of a cluster's objects in memory, fed by
// list and watch with the gateway's own credential, so that list queries can be
// answered without reading every object from the cluster each time.
//
// A Collection is split as client-go's tools/cache is: the reflector
// (reflector.go, client.go) lists, watches, backs off and relists; the store
// (store.go) holds the objects, their namespace index and scan views; the
// freshness protocol (freshness.go) decides when the store may answer a list
// and how long a list waits; the reader (reader.go) answers a query over one or
// several partitions (cluster × namespace) into one pager. Cache (cache.go)
// starts collections on first use and engages with cluster members: a cluster
// registered again or removed loses its collections, and only its.
//
// Objects are kept compactly: the raw JSON as the cluster sent it, plus the
// fields every query touches (namespace, name, labels, creation time, resource
// version), parsed once per object version. Objects are immutable once stored,
// so a snapshot is a slice of pointers taken under a read lock.
package listcache
