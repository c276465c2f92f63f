package batch

import (
	"context"
	"errors"
	"fmt"
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
	// MaxPending bounds the requests waiting for a call (0: 10 000): past it a
	// request fails at once, so a slow backend sheds load instead of queueing it.
	MaxPending int

	mu      sync.Mutex
	pending []*request[T, R]
	running bool
}

type request[T, R any] struct {
	ctx  context.Context // a caller that stopped waiting is left out of calls
	item T
	res  R
	err  error
	done chan struct{}
}

// errShort says Do broke its contract.
var errShort = errors.New("batch: fewer results than items")

// ErrBusy says too many requests are waiting already.
var ErrBusy = errors.New("batch: too many requests waiting")

// Submit adds item to the next call and waits for its result, or for ctx.
func (b *Batcher[T, R]) Submit(ctx context.Context, item T) (R, error) {
	r := &request[T, R]{ctx: ctx, item: item, done: make(chan struct{})}
	b.mu.Lock()
	limit := b.MaxPending
	if limit <= 0 {
		limit = 10_000
	}
	if len(b.pending) >= limit {
		b.mu.Unlock()
		var zero R
		return zero, ErrBusy
	}
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
		var batch []*request[T, R]
		for len(b.pending) > 0 && len(batch) < limit {
			r := b.pending[0]
			b.pending = b.pending[1:]
			if r.ctx.Err() != nil {
				close(r.done) // its caller has gone: not worth a place in the call
				continue
			}
			batch = append(batch, r)
		}
		if len(batch) == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()

		items := make([]T, len(batch))
		for i, r := range batch {
			items[i] = r.item
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		res, err := b.call(ctx, items)
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

// call runs Do, its panic an error of the call rather than the process's end.
func (b *Batcher[T, R]) call(ctx context.Context, items []T) (res []R, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("batch: %v", p)
		}
	}()
	return b.Do(ctx, items)
}
