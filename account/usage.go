package account

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/kubegate/kubegate"
)

// usageRecorder batches key uses: an exchange only updates a map, and the latest
// use of each key is written every few seconds in one transaction.
type usageRecorder struct {
	store  kubegate.Store
	logger *slog.Logger

	mu      sync.Mutex
	pending map[string]kubegate.KeyUse
}

func newUsageRecorder(store kubegate.Store, logger *slog.Logger) *usageRecorder {
	return &usageRecorder{store: store, logger: logger, pending: map[string]kubegate.KeyUse{}}
}

func (u *usageRecorder) record(use kubegate.KeyUse) {
	u.mu.Lock()
	if prev, ok := u.pending[use.AccessKey]; !ok || use.At.After(prev.At) {
		u.pending[use.AccessKey] = use
	}
	u.mu.Unlock()
}

func (u *usageRecorder) flush(ctx context.Context) error {
	u.mu.Lock()
	if len(u.pending) == 0 {
		u.mu.Unlock()
		return nil
	}
	batch := make([]kubegate.KeyUse, 0, len(u.pending))
	for _, use := range u.pending {
		use.At = use.At.UTC().Truncate(time.Microsecond)
		batch = append(batch, use)
	}
	u.pending = map[string]kubegate.KeyUse{}
	u.mu.Unlock()
	return u.store.RecordKeyUses(ctx, batch)
}
