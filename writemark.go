package kubegate

import (
	"time"
)

// WriteMark is what the answers of one cluster's collection must reflect after
// the writes any replica carried to it lately: read-your-writes across replicas
// (the cached list path waits for it, see kubeproxy).
type WriteMark struct {
	Cluster, Group, Resource string
	// ResourceVersion: the answers hold at least this version.
	ResourceVersion uint64
	// Gone are objects deleted at once, which the answers must not hold.
	Gone []DeletedObject
	// Strict counts the writes whose effect the gateway could not read (a
	// deletecollection, an answer that is not JSON): after each, the next answer
	// is strict. It only rises, so a reader remembers the count it has settled.
	Strict int64
	At     time.Time // the last write
}

// MaxWriteMarkGone bounds a mark's Gone; past it, the mark counts one more
// strict write instead.
const MaxWriteMarkGone = 64

// DeletedObject is an object deleted as it was at ResourceVersion (0: whatever
// its version): a cache reflects the delete once it holds no object of the name
// at that version or older.
type DeletedObject struct {
	Namespace, Name string
	ResourceVersion uint64
}

// Merge folds later into m: the higher version, the gone objects joined (past
// MaxWriteMarkGone, one strict write instead), the strict writes added. A mark
// last written before since starts afresh but keeps its strict count, which
// only rises.
func (m WriteMark) Merge(later WriteMark, since time.Time) WriteMark {
	if m.At.Before(since) {
		m = WriteMark{Cluster: m.Cluster, Group: m.Group, Resource: m.Resource, Strict: m.Strict}
	}
	m.ResourceVersion = max(m.ResourceVersion, later.ResourceVersion)
	m.Strict += later.Strict
	m.Gone = append(m.Gone[:len(m.Gone):len(m.Gone)], later.Gone...) // a copy: readers may hold the old slice
	if len(m.Gone) > MaxWriteMarkGone {
		m.Gone, m.Strict = nil, m.Strict+1
	}
	if later.At.After(m.At) {
		m.At = later.At
	}
	return m
}
