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
	u.keepLatest(use)
	u.mu.Unlock()
}

// keepLatest holds use unless a later use of the same key is pending; the caller
// holds mu.
func (u *usageRecorder) keepLatest(use kubegate.KeyUse) {
	if prev, ok := u.pending[use.AccessKey]; !ok || use.At.After(prev.At) {
		u.pending[use.AccessKey] = use
	}
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
	if err := u.store.RecordKeyUses(ctx, batch); err != nil {
		// Put the batch back for the next flush; uses recorded meanwhile are newer
		// and win. The map holds one entry per key, so it stays bounded.
		u.mu.Lock()
		for _, use := range batch {
			u.keepLatest(use)
		}
		u.mu.Unlock()
		return err
	}
	return nil
}
