// Package batch writes and reads the store in batches: the flush loop of
// in-memory buffers (key uses, audit events), and Batcher, which joins callers'
// requests into one call (write marks).
package batch

import (
	"context"
	"log/slog"
	"time"
)

// FlushEvery calls flush every interval until ctx is done, then once more with a
// context that is not cancelled, so that nothing buffered is lost at shutdown.
// Failures are logged as what failed.
func FlushEvery(ctx context.Context, interval time.Duration, flush func(context.Context) error, logger *slog.Logger, what string) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := flush(context.WithoutCancel(ctx)); err != nil {
				logger.Warn(what+" failed", "err", err)
			}
			return
		case <-t.C:
			if err := flush(ctx); err != nil {
				logger.Warn(what+" failed", "err", err)
			}
		}
	}
}
