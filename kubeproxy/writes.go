package kubeproxy

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/kubegate/kubegate/cluster"
	"github.com/kubegate/kubegate/filters"
	"github.com/kubegate/kubegate/listcache"
)

// Read-your-writes: a write the gateway carries records the resource version
// the cluster gave it, for its collection; a cached answer for that collection
// then waits (bounded) until the cache holds that version. A script that writes
// and then lists sees its write, whatever else the cluster is writing.
const (
	// maxWriteMarks bounds the marks kept: one per collection written lately.
	maxWriteMarks = 10_000
	// writeMarkTTL is how long a mark is kept: far longer than a healthy watch
	// takes to deliver the write.
	writeMarkTTL = time.Minute
	// maxWriteBody bounds what is read of a write's answer to find its version
	// (an object is at most about 1.5 MB, etcd's limit).
	maxWriteBody = 2 << 20
)

// writeKey is a resource of a cluster, whatever the API version it is written
// and listed through (autoscaling/v1 and v2 are one collection in etcd).
type writeKey struct {
	target          *cluster.Target
	group, resource string
}

func keyOf(target *cluster.Target, info *filters.RequestInfo) writeKey {
	return writeKey{target, info.APIGroup, info.Resource}
}

// writeMark is what answers of a collection must reflect after recent writes.
type writeMark struct {
	rv uint64 // at least this version (creates, updates, patches)
	// gone are objects deleted at once, which must be absent from the answers
	// (as they were at their version or older; by name when only a Status said).
	gone []listcache.Gone
	// strict: a write whose effect the answer does not say (a deletecollection,
	// an answer that is not JSON): the next answers are strict, until a strict
	// read that began after strictAt settles it.
	strict   bool
	strictAt time.Time
	at       time.Time
}

// maxGoneMarks bounds a collection's gone marks; past it the mark turns strict.
const maxGoneMarks = 64

// writes are the marks of recent writes, by collection.
type writes struct {
	now func() time.Time

	mu sync.Mutex
	m  map[writeKey]writeMark
}

func newWrites(now func() time.Time) *writes {
	return &writes{now: now, m: map[writeKey]writeMark{}}
}

// record merges what a write just now requires of the collection's answers.
func (w *writes) record(k writeKey, add writeMark) {
	now := w.now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.m[k]; !ok && len(w.m) >= maxWriteMarks {
		oldest, at := writeKey{}, now
		for k, m := range w.m {
			if now.Sub(m.at) > writeMarkTTL {
				delete(w.m, k)
			} else if m.at.Before(at) {
				oldest, at = k, m.at
			}
		}
		if len(w.m) >= maxWriteMarks {
			delete(w.m, oldest) // the least recent write; the health bound still holds for it
		}
	}
	m := w.m[k]
	if now.Sub(m.at) > writeMarkTTL {
		m = writeMark{}
	}
	m.rv = max(m.rv, add.rv)
	if add.strict {
		m.strict, m.strictAt = true, now
	}
	m.gone = append(m.gone[:len(m.gone):len(m.gone)], add.gone...) // a copy: readers hold the old slice
	if len(m.gone) > maxGoneMarks {
		m.gone, m.strict, m.strictAt = nil, true, now
	}
	m.at = now
	w.m[k] = m
}

// mark is what the collection's answers must reflect after its recent writes.
func (w *writes) mark(k writeKey) writeMark {
	w.mu.Lock()
	defer w.mu.Unlock()
	m, ok := w.m[k]
	if !ok {
		return writeMark{}
	}
	if w.now().Sub(m.at) > writeMarkTTL {
		delete(w.m, k)
		return writeMark{}
	}
	return m
}

// settle turns a strict mark into the version a strict read found, so that one
// strict answer after a deletecollection is enough: the mark must not have
// turned strict again since that read began (strictAt), or it stays strict.
func (w *writes) settle(k writeKey, strictAt time.Time, rv uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if m, ok := w.m[k]; ok && m.strict && m.strictAt.Equal(strictAt) {
		m.strict, m.rv = false, max(m.rv, rv)
		w.m[k] = m
	}
}

// isWrite says a request changes objects of a collection.
func isWrite(info *filters.RequestInfo) bool {
	switch info.Verb {
	case "create", "update", "patch", "delete", "deletecollection":
		return info.Resource != "" && !info.Connect
	}
	return false
}

// recordWrite reads the version a successful write's answer carries (the
// object's, or a list's for a deletecollection) and marks its collection, before
// the client has the answer: the client's next list must find the mark. An
// answer that is not JSON, or too large, marks nothing.
func (p *Proxy) recordWrite(resp *http.Response) error {
	if p.writes == nil || resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil
	}
	info := filters.Info(resp.Request.Context())
	up, _ := resp.Request.Context().Value(upstreamKey).(*upstream)
	if up == nil || !isWrite(info) || resp.Request.URL.Query().Has("dryRun") {
		return nil // a dry run changes nothing
	}
	key := keyOf(up.target, info)
	if ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); ct != "application/json" {
		p.writes.record(key, writeMark{strict: true}) // protobuf, YAML, CBOR: the version is not read here
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxWriteBody+1))
	if err != nil {
		return err
	}
	if len(body) > maxWriteBody {
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(body), resp.Body), resp.Body}
		p.writes.record(key, writeMark{strict: true})
		return nil
	}
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var obj struct {
		Kind    string `json:"kind"`
		Details struct {
			Name string `json:"name"`
		} `json:"details"` // a delete's Success Status
		Metadata struct {
			Namespace         string  `json:"namespace"`
			Name              string  `json:"name"`
			ResourceVersion   string  `json:"resourceVersion"`
			DeletionTimestamp *string `json:"deletionTimestamp"`
		} `json:"metadata"`
	}
	rv, err := uint64(0), json.Unmarshal(body, &obj)
	if err == nil && obj.Kind != "Status" {
		rv, err = strconv.ParseUint(obj.Metadata.ResourceVersion, 10, 64)
	}
	switch {
	case info.Verb == "delete" && obj.Kind == "Status" && obj.Details.Name != "":
		// Deleted, and the answer does not say at which version: no object of
		// the name may remain.
		p.writes.record(key, writeMark{gone: []listcache.Gone{{Namespace: info.Namespace, Name: obj.Details.Name}}})
	case info.Verb == "deletecollection" || err != nil || obj.Kind == "Status":
		p.writes.record(key, writeMark{strict: true})
	case info.Verb == "delete" && obj.Metadata.DeletionTimestamp == nil:
		// Deleted at once. Current apiservers answer with the object at the
		// deletion's version, older ones at its last: the version covers the
		// first, the object's absence (at that version or older) the second.
		p.writes.record(key, writeMark{rv: rv, gone: []listcache.Gone{{Namespace: obj.Metadata.Namespace, Name: obj.Metadata.Name, ResourceVersion: rv}}})
	default: // created, changed, or deleted later (finalizers, grace): the version says
		p.writes.record(key, writeMark{rv: rv})
	}
	return nil
}
