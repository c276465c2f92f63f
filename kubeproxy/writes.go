package kubeproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/cluster"
	"github.com/kubegate/kubegate/listcache"
	"github.com/kubegate/kubegate/request"
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
	target          *cluster.Member
	group, resource string
}

func keyOf(target *cluster.Member, info *kubegate.KubeRequest) writeKey {
	return writeKey{target, info.APIGroup, info.Resource}
}

// writeMark is what answers of a collection must reflect after recent writes:
// at least a version (creates, updates, patches); the absence of objects deleted
// at once (as they were at their version or older; by name when only a Status
// said); and, after a write whose effect the answer does not say (a
// deletecollection, an answer that is not JSON), a strict answer — until a
// strict read settles the strict writes it counted.
type writeMark struct {
	kubegate.WriteMark
	settled int64 // the strict writes a strict read has covered
}

// strict says the next answer must be strict.
func (m writeMark) strict() bool { return m.Strict > m.settled }

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
func (w *writes) record(k writeKey, add kubegate.WriteMark) {
	now := w.now()
	add.At = now
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.m[k]; !ok && len(w.m) >= maxWriteMarks {
		oldest, at := writeKey{}, now
		for k, m := range w.m {
			if now.Sub(m.At) > writeMarkTTL {
				delete(w.m, k)
			} else if m.At.Before(at) {
				oldest, at = k, m.At
			}
		}
		if len(w.m) >= maxWriteMarks {
			delete(w.m, oldest) // the least recent write; the health bound still holds for it
		}
	}
	m := w.m[k]
	if now.Sub(m.At) > writeMarkTTL {
		m = writeMark{} // settled counts too: the shared count may have started afresh
	}
	m.WriteMark = m.Merge(add, now.Add(-writeMarkTTL))
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
	if w.now().Sub(m.At) > writeMarkTTL {
		delete(w.m, k)
		return writeMark{}
	}
	return m
}

// settle records that a strict read found version rv after strict writes
// counted (the count the read began with: a strict write since keeps the next
// answer strict). The version then stands for them.
func (w *writes) settle(k writeKey, strict int64, rv uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	m, ok := w.m[k]
	if now := w.now(); !ok || now.Sub(m.At) > writeMarkTTL {
		m = writeMark{WriteMark: kubegate.WriteMark{At: now}} // the strict writes were another replica's
	}
	m.settled = max(m.settled, strict)
	m.ResourceVersion = max(m.ResourceVersion, rv)
	w.m[k] = m
}

// isWrite says a request changes objects of a collection.
func isWrite(info *request.Info) bool {
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
	ctx := resp.Request.Context()
	info := request.InfoFrom(ctx)
	up, _ := ctx.Value(upstreamKey).(*upstream)
	if up == nil || !isWrite(info) || resp.Request.URL.Query().Has("dryRun") {
		return nil // a dry run changes nothing
	}
	key := keyOf(up.target, &info.KubeRequest)
	if ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); ct != "application/json" {
		p.markWrite(ctx, key, kubegate.WriteMark{Strict: 1}) // protobuf, YAML, CBOR: the version is not read here
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
		p.markWrite(ctx, key, kubegate.WriteMark{Strict: 1})
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
		p.markWrite(ctx, key, kubegate.WriteMark{Gone: []listcache.Gone{{Namespace: info.Namespace, Name: obj.Details.Name}}})
	case info.Verb == "deletecollection" || err != nil || obj.Kind == "Status":
		p.markWrite(ctx, key, kubegate.WriteMark{Strict: 1})
	case info.Verb == "delete" && obj.Metadata.DeletionTimestamp == nil:
		// Deleted at once. Current apiservers answer with the object at the
		// deletion's version, older ones at its last: the version covers the
		// first, the object's absence (at that version or older) the second.
		p.markWrite(ctx, key, kubegate.WriteMark{ResourceVersion: rv, Gone: []listcache.Gone{{Namespace: obj.Metadata.Namespace, Name: obj.Metadata.Name, ResourceVersion: rv}}})
	default: // created, changed, or deleted later (finalizers, grace): the version says
		p.markWrite(ctx, key, kubegate.WriteMark{ResourceVersion: rv})
	}
	return nil
}

// markWrite records a carried write's mark here and, with other replicas,
// shares it before the client has the answer: the client's next list may reach
// another replica. A write the store cannot take is still marked here.
func (p *Proxy) markWrite(ctx context.Context, key writeKey, m kubegate.WriteMark) {
	p.writes.record(key, m)
	if p.shared == nil {
		return
	}
	m.Cluster, m.Group, m.Resource, m.At = key.target.Name, key.group, key.resource, p.writes.now()
	ctx, cancel := context.WithTimeout(ctx, sharedMarkTimeout)
	defer cancel()
	if _, err := p.shared.put.Submit(ctx, m); err != nil {
		p.logger.Warn("sharing a write mark with the other replicas failed; their cached answers may miss the write for up to the cache staleness bound",
			"cluster", m.Cluster, "resource", m.Resource, "err", err)
	}
}

// marks is what the collection's answers must reflect after the writes any
// replica carried: this replica's marks joined with the shared ones. An error:
// the other replicas' writes are not known, so the answer must be strict.
func (p *Proxy) marks(ctx context.Context, key writeKey) (writeMark, error) {
	m := p.writes.mark(key)
	if p.shared == nil {
		return m, nil
	}
	ctx, cancel := context.WithTimeout(ctx, sharedMarkTimeout)
	defer cancel()
	s, err := p.shared.get.Submit(ctx, kubegate.WriteMark{Cluster: key.target.Name, Group: key.group, Resource: key.resource})
	if err != nil {
		return m, err
	}
	m.ResourceVersion = max(m.ResourceVersion, s.ResourceVersion)
	m.Gone = append(m.Gone[:len(m.Gone):len(m.Gone)], s.Gone...)
	m.Strict += s.Strict // both only rise, so their sum does
	return m, nil
}
