package listcache

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/kubegate/kubegate/listquery"
)

// Object is one cached object.
type Object struct {
	Raw             json.RawMessage
	Namespace, Name string
	Labels          map[string]string
	// Created is metadata.creationTimestamp as the JSON has it (RFC 3339).
	Created string
	// ResourceVersion is the object's, as a number (etcd's revision).
	ResourceVersion uint64

	// extracted holds the values of other paths queries asked for, read once
	// from Raw per path (the object is replaced, not changed, when it changes).
	mu        sync.Mutex
	extracted map[string][]string
}

// size approximates an object's memory: its JSON, its strings and labels, and
// the fixed fields and map entry.
func (o *Object) size() int64 {
	n := len(o.Raw) + len(o.Namespace) + len(o.Name) + 160
	for k, v := range o.Labels {
		n += len(k) + len(v) + 48
	}
	return int64(n)
}

// objectMeta is what parsing an object reads of it.
type objectMeta struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name              string            `json:"name"`
		Namespace         string            `json:"namespace"`
		ResourceVersion   string            `json:"resourceVersion"`
		CreationTimestamp string            `json:"creationTimestamp"`
		Labels            map[string]string `json:"labels"`
	} `json:"metadata"`
}

// parseObject parses what the cache keeps of an object, and says its kind if
// the JSON names one.
func parseObject(raw json.RawMessage) (*Object, string, error) {
	o, m, err := decodeMeta(raw)
	if err != nil {
		return nil, "", err
	}
	if o.ResourceVersion, err = parseRV(m.Metadata.ResourceVersion); err != nil {
		return nil, "", err
	}
	return o, m.Kind, nil
}

// decodeMeta decodes the metadata of raw, and the object that keeps it.
func decodeMeta(raw json.RawMessage) (*Object, *objectMeta, error) {
	var m objectMeta
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, nil, fmt.Errorf("decoding an object: %w", err)
	}
	md := m.Metadata
	return &Object{Raw: raw, Namespace: md.Namespace, Name: md.Name, Labels: md.Labels, Created: md.CreationTimestamp}, &m, nil
}

// ParseItem reads what metadata queries need of a list item (its name,
// namespace, labels and creation time) without decoding the rest: the
// streaming path's fast way through a list when Pager.MetadataOnly says
// so. Other paths are read from the JSON when asked, as in the cache.
func ParseItem(raw json.RawMessage) (listquery.Item, error) {
	o, _, err := decodeMeta(raw) // no resource version: aggregated APIs' need not be numbers
	if err != nil {
		return nil, err
	}
	return o, nil
}

// parseRV reads a resource version. Kubernetes calls them opaque, but those of
// etcd-backed resources are its revisions, ordered numbers; the cache's
// consistency rests on that, as the apiserver's own watch cache does.
func parseRV(s string) (uint64, error) {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: resourceVersion %q is not a number", ErrUncachable, s)
	}
	return n, nil
}

func keyOf(namespace, name string) string { return namespace + "/" + name }

// stripTypeMeta removes the top-level kind and apiVersion members of a JSON
// object, leaving the rest byte for byte.
func stripTypeMeta(raw json.RawMessage) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errors.New("an object is not a JSON object")
	}
	out := make([]byte, 0, len(raw))
	out = append(out, '{')
	for dec.More() {
		start := dec.InputOffset()
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		if k, _ := t.(string); k == "kind" || k == "apiVersion" {
			continue
		}
		member := bytes.TrimLeft(raw[start:dec.InputOffset()], ", \t\r\n")
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(out, member...)
	}
	return append(out, '}'), nil
}
