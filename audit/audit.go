// Package audit records who called what through the gateway: one event per
// authenticated request, buffered in memory and written to the store in batches so
// that auditing adds no database round trip to a request.
package audit

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/batch"
)

// DefaultMaxBufferBytes bounds the buffer; past it events are dropped and counted,
// so a slow or failing database cannot exhaust memory.
const DefaultMaxBufferBytes = 16 << 20

// Recorder buffers audit events for the store.
type Recorder struct {
	store    kubegate.Store
	logger   *slog.Logger
	maxBytes int

	mu      sync.Mutex
	pending []kubegate.AuditEvent
	bytes   int // the pending events' approximate size
	dropped int
}

// New returns a Recorder writing to store, buffering at most maxBytes of events
// (DefaultMaxBufferBytes when 0).
func New(store kubegate.Store, logger *slog.Logger, maxBytes int) *Recorder {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBufferBytes
	}
	return &Recorder{store: store, logger: logger, maxBytes: maxBytes}
}

// size approximates an event's memory: its strings and the fixed fields.
func size(e kubegate.AuditEvent) int {
	return 96 + len(e.RequestID) + len(e.User) + len(e.AccessKey) + len(e.Cluster) + len(e.Verb) + len(e.Path) + len(e.SourceIP)
}

// Record queues one event.
func (r *Recorder) Record(e kubegate.AuditEvent) {
	n := size(e)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.bytes+n > r.maxBytes {
		r.dropped++
		return
	}
	r.pending = append(r.pending, e)
	r.bytes += n
}

// Flush writes the queued events now. When the write fails the batch goes back
// in front of what was queued meanwhile, as far as the buffer's bound allows, for
// the next flush.
func (r *Recorder) Flush(ctx context.Context) error {
	r.mu.Lock()
	pending, dropped := r.pending, r.dropped
	r.pending, r.bytes, r.dropped = nil, 0, 0
	r.mu.Unlock()
	if dropped > 0 {
		r.logger.Warn("audit buffer full; events dropped", "dropped", dropped)
	}
	if len(pending) == 0 {
		return nil
	}
	err := r.store.AppendAudit(ctx, pending)
	if err == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	newer := r.pending
	r.pending, r.bytes = nil, 0
	for _, e := range append(pending, newer...) {
		if n := size(e); r.bytes+n <= r.maxBytes {
			r.pending = append(r.pending, e)
			r.bytes += n
		} else {
			r.dropped++
		}
	}
	return err
}

// RunRetention deletes the events older than retention now and every hour until
// ctx is done; with retention 0 it keeps everything and returns.
func (r *Recorder) RunRetention(ctx context.Context, retention time.Duration, now func() time.Time) {
	if retention <= 0 {
		return
	}
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		n, err := r.store.PruneAudit(ctx, now().Add(-retention))
		switch {
		case err != nil && ctx.Err() == nil:
			r.logger.Warn("deleting old audit events failed", "err", err)
		case n > 0:
			r.logger.Info("deleted audit events past their retention", "events", n, "retention", retention)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Run flushes every interval until ctx is done, then once more.
func (r *Recorder) Run(ctx context.Context, interval time.Duration) {
	batch.FlushEvery(ctx, interval, r.Flush, r.logger, "writing audit events")
}
