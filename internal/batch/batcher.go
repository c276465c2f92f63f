package batch

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Batcher runs the requests of many callers as one call: a request that
// arrives while a call runs joins the next one. So every request is served by
// a call that began after it arrived (what a read barrier needs), and one
// caller or a thousand cost about the same number of calls (a group commit).
// Do runs over the items submitted since its last call, one call at a time, at
// most Max items a call.
type Batcher[T, R any] struct {
	// Do answers items in order: one result for each, or an error for all.
	Do func(ctx context.Context, items []T) ([]R, error)
	// Max bounds the items of one call (0: 100).
	Max int
	// Timeout bounds one call (0: 5 s); a caller's own context may end sooner.
	Timeout time.Duration

	mu      sync.Mutex
	pending []*request[T, R]
	running bool
}

type request[T, R any] struct {
	item T
	res  R
	err  error
	done chan struct{}
}

// errShort says Do broke its contract.
var errShort = errors.New("batch: fewer results than items")

// Submit adds item to the next call and waits for its result, or for ctx.
func (b *Batcher[T, R]) Submit(ctx context.Context, item T) (R, error) {
	r := &request[T, R]{item: item, done: make(chan struct{})}
	b.mu.Lock()
	b.pending = append(b.pending, r)
	if !b.running {
		b.running = true
		go b.run()
	}
	b.mu.Unlock()
	select {
	case <-r.done:
		return r.res, r.err
	case <-ctx.Done():
		var zero R
		return zero, ctx.Err()
	}
}

// run makes calls until nothing is pending; no goroutine is left when idle.
func (b *Batcher[T, R]) run() {
	limit, timeout := b.Max, b.Timeout
	if limit <= 0 {
		limit = 100
	}
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	for {
		b.mu.Lock()
		n := min(len(b.pending), limit)
		if n == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		batch := b.pending[:n:n]
		b.pending = b.pending[n:]
		b.mu.Unlock()

		items := make([]T, len(batch))
		for i, r := range batch {
			items[i] = r.item
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		res, err := b.Do(ctx, items)
		cancel()
		if err == nil && len(res) < len(batch) {
			err = errShort
		}
		for i, r := range batch {
			if err != nil {
				r.err = err
			} else {
				r.res = res[i]
			}
			close(r.done)
		}
	}
}
