package listcache

import (
	"encoding/json"
	"strings"

	"github.com/kubegate/kubegate/listquery"
)

// maxExtracted bounds the paths an object keeps the values of: past it values
// are read from the JSON each time (slow, but memory stays bounded whatever
// paths queries name).
const maxExtracted = 8

// Values implements listquery.Item: the values at path as listquery reads them
// from the decoded object. The metadata fields every query touches come from
// the parsed object; other paths are read from the JSON once and kept.
func (o *Object) Values(path listquery.Path, out []string) []string {
	if len(path) >= 2 && path[0] == "metadata" {
		switch {
		case len(path) == 2 && path[1] == "name":
			return append(out, o.Name)
		case len(path) == 2 && path[1] == "namespace":
			if o.Namespace == "" {
				return out // cluster-scoped: no such field
			}
			return append(out, o.Namespace)
		case len(path) == 2 && path[1] == "creationTimestamp":
			if o.Created == "" {
				return out
			}
			return append(out, o.Created)
		case len(path) == 3 && path[1] == "labels":
			if v, ok := o.Labels[path[2]]; ok {
				return append(out, v)
			}
			if !o.foldedLabel(path[2]) {
				return out // absent (a key differing in case only would match: read it as listquery does)
			}
		}
	}
	return append(out, o.extract(path)...)
}

// foldedLabel says whether a label key equals k but for case.
func (o *Object) foldedLabel(k string) bool {
	for key := range o.Labels {
		if strings.EqualFold(key, k) {
			return true
		}
	}
	return false
}

// extract reads the values at path from the JSON, keeping them for next time.
func (o *Object) extract(path listquery.Path) []string {
	key := strings.Join(path, "\x00")
	o.mu.Lock()
	vals, ok := o.extracted[key]
	o.mu.Unlock()
	if ok {
		return vals
	}
	var obj map[string]any
	if err := json.Unmarshal(o.Raw, &obj); err != nil {
		return nil // the cache parsed it when it stored it: cannot happen
	}
	vals = listquery.Values(obj, path, nil)
	o.mu.Lock()
	if o.extracted == nil {
		o.extracted = map[string][]string{}
	}
	if len(o.extracted) < maxExtracted {
		o.extracted[key] = vals
	}
	o.mu.Unlock()
	return vals
}

// Meta implements listquery.Item.
func (o *Object) Meta() (namespace, name string) { return o.Namespace, o.Name }

// JSON implements listquery.Item.
func (o *Object) JSON() json.RawMessage { return o.Raw }
