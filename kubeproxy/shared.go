package kubeproxy

import (
	"context"
	"time"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/batch"
)

// MarkStore shares the marks of carried writes between replicas (the store,
// on PostgreSQL), so that a write through one replica is waited for by a
// cached list on another.
type MarkStore interface {
	MergeWriteMarks(ctx context.Context, marks []kubegate.WriteMark, since time.Time) error
	WriteMarks(ctx context.Context, keys []kubegate.WriteMark, since time.Time) ([]kubegate.WriteMark, error)
}

// sharedMarkTimeout bounds how long a write's answer or a list waits for the
// store: a write is then answered unshared (logged), a list strictly. One
// store call gets half of it, so a request that waited behind a running call
// still has its own.
const sharedMarkTimeout = time.Second

// sharedMarks puts and gets marks in batches: the writes and lists that arrive
// while one store call runs share the next, so the store sees a few calls a
// millisecond at most whatever the request rate, and each list's read began
// after the list came (it sees every write answered before).
type sharedMarks struct {
	put *batch.Batcher[kubegate.WriteMark, struct{}]
	get *batch.Batcher[kubegate.WriteMark, kubegate.WriteMark]
}

type markKey struct{ cluster, group, resource string }

func keyOfMark(m kubegate.WriteMark) markKey { return markKey{m.Cluster, m.Group, m.Resource} }

func newSharedMarks(store MarkStore, now func() time.Time) *sharedMarks {
	return &sharedMarks{
		put: &batch.Batcher[kubegate.WriteMark, struct{}]{Timeout: sharedMarkTimeout / 2, Do: func(ctx context.Context, marks []kubegate.WriteMark) ([]struct{}, error) {
			since := now().Add(-writeMarkTTL)
			merged := map[markKey]kubegate.WriteMark{} // one row per collection
			for _, m := range marks {
				k := keyOfMark(m)
				if old, ok := merged[k]; ok {
					m = old.Merge(m, since)
				}
				merged[k] = m
			}
			rows := make([]kubegate.WriteMark, 0, len(merged))
			for _, m := range merged {
				rows = append(rows, m)
			}
			return make([]struct{}, len(marks)), store.MergeWriteMarks(ctx, rows, since)
		}},
		get: &batch.Batcher[kubegate.WriteMark, kubegate.WriteMark]{Timeout: sharedMarkTimeout / 2, Do: func(ctx context.Context, keys []kubegate.WriteMark) ([]kubegate.WriteMark, error) {
			unique := map[markKey]bool{}
			ask := make([]kubegate.WriteMark, 0, len(keys))
			for _, k := range keys {
				if !unique[keyOfMark(k)] {
					unique[keyOfMark(k)] = true
					ask = append(ask, k)
				}
			}
			found, err := store.WriteMarks(ctx, ask, now().Add(-writeMarkTTL))
			if err != nil {
				return nil, err
			}
			byKey := make(map[markKey]kubegate.WriteMark, len(found))
			for _, m := range found {
				byKey[keyOfMark(m)] = m
			}
			out := make([]kubegate.WriteMark, len(keys))
			for i, k := range keys {
				out[i] = byKey[keyOfMark(k)] // none: no replica wrote it lately
			}
			return out, nil
		}},
	}
}
