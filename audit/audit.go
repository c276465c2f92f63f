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
	"github.com/kubegate/kubegate/internal/batch"
)

// maxPending bounds the buffer; past it events are dropped and counted, so a slow
// database cannot exhaust memory.
const maxPending = 10_000

// Recorder buffers audit events for the store.
type Recorder struct {
	store  kubegate.Store
	logger *slog.Logger

	mu      sync.Mutex
	pending []kubegate.AuditEvent
	dropped int
}

// New returns a Recorder writing to store.
func New(store kubegate.Store, logger *slog.Logger) *Recorder {
	return &Recorder{store: store, logger: logger}
}

// Record queues one event.
func (r *Recorder) Record(e kubegate.AuditEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.pending) >= maxPending {
		r.dropped++
		return
	}
	r.pending = append(r.pending, e)
}

// Flush writes the queued events now.
func (r *Recorder) Flush(ctx context.Context) error {
	r.mu.Lock()
	batch, dropped := r.pending, r.dropped
	r.pending, r.dropped = nil, 0
	r.mu.Unlock()
	if dropped > 0 {
		r.logger.Warn("audit buffer full; events dropped", "dropped", dropped)
	}
	return r.store.AppendAudit(ctx, batch)
}

// Run flushes every interval until ctx is done, then once more.
func (r *Recorder) Run(ctx context.Context, interval time.Duration) {
	batch.FlushEvery(ctx, interval, r.Flush, r.logger, "writing audit events")
}
