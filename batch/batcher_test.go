package batch

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A request is answered by a call that began after it was submitted, calls
// never overlap, and requests that arrive during a call share the next one.
func TestRequestsJoinTheNextCall(t *testing.T) {
	var version atomic.Int64 // what a call "reads"
	var running, calls atomic.Int32
	release := make(chan struct{})
	b := &Batcher[int64, int64]{Do: func(_ context.Context, items []int64) ([]int64, error) {
		if running.Add(1) != 1 {
			t.Error("two calls at once")
		}
		defer running.Add(-1)
		calls.Add(1)
		v := version.Load()
		if calls.Load() == 1 {
			<-release // the first call is slow: the next requests pile up
		}
		out := make([]int64, len(items))
		for i := range out {
			out[i] = v
		}
		return out, nil
	}}
	first := make(chan int64)
	go func() { v, _ := b.Submit(context.Background(), 0); first <- v }()
	for calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	version.Store(1) // written after the first call read: later requests must see it
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if v, err := b.Submit(context.Background(), 0); err != nil || v != 1 {
				t.Errorf("a request after the write got %d, %v", v, err)
			}
		}()
	}
	time.Sleep(50 * time.Millisecond) // let them queue behind the slow call
	close(release)
	if v := <-first; v != 0 {
		t.Fatalf("first = %d", v)
	}
	wg.Wait()
	if n := calls.Load(); n > 3 {
		t.Fatalf("51 requests took %d calls; the 50 queued ones should share", n)
	}
}

// A failed call fails each of its requests; a caller whose context ends stops
// waiting; the batcher goes on serving.
func TestFailuresAndCancellation(t *testing.T) {
	fail := errors.New("database down")
	var broken atomic.Bool
	broken.Store(true)
	b := &Batcher[string, string]{Max: 2, Do: func(ctx context.Context, items []string) ([]string, error) {
		if broken.Load() {
			return nil, fail
		}
		return items, nil
	}}
	if _, err := b.Submit(context.Background(), "a"); !errors.Is(err, fail) {
		t.Fatalf("err = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.Submit(ctx, "b"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: err = %v", err)
	}
	broken.Store(false)
	if v, err := b.Submit(context.Background(), "c"); err != nil || v != "c" {
		t.Fatalf("after recovery: %q, %v", v, err)
	}
	short := &Batcher[int, int]{Do: func(context.Context, []int) ([]int, error) { return nil, nil }}
	if _, err := short.Submit(context.Background(), 1); !errors.Is(err, errShort) {
		t.Fatalf("short answer: err = %v", err)
	}
}

// A caller that stopped waiting takes no place in a call; past MaxPending a
// request fails at once (ErrBusy); a panicking call fails its requests only.
func TestLoadIsShed(t *testing.T) {
	release := make(chan struct{})
	var seen atomic.Int32
	b := &Batcher[int, int]{MaxPending: 3, Do: func(_ context.Context, items []int) ([]int, error) {
		if items[0] == 0 {
			<-release
		}
		if items[0] == -1 {
			panic("boom")
		}
		seen.Add(int32(len(items)))
		return items, nil
	}}
	go func() { _, _ = b.Submit(context.Background(), 0) }()
	for {
		b.mu.Lock()
		running := b.running && len(b.pending) == 0
		b.mu.Unlock()
		if running {
			break
		}
		time.Sleep(time.Millisecond)
	}
	gone, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 3)
	for i := 1; i <= 3; i++ {
		ctx := context.Background()
		if i == 1 {
			ctx = gone
		}
		go func() { _, err := b.Submit(ctx, i); errs <- err }()
	}
	for {
		b.mu.Lock()
		n := len(b.pending)
		b.mu.Unlock()
		if n == 3 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := b.Submit(context.Background(), 4); !errors.Is(err, ErrBusy) {
		t.Fatalf("a fourth waiting request: err = %v", err)
	}
	cancel()
	close(release)
	for range 3 {
		if err := <-errs; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("a waiting request: %v", err)
		}
	}
	if n := seen.Load(); n != 3 { // 0, 2 and 3: not the cancelled 1
		t.Fatalf("%d items reached calls, want 3", n)
	}
	if _, err := b.Submit(context.Background(), -1); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("a panicking call: err = %v", err)
	}
	if v, err := b.Submit(context.Background(), 5); err != nil || v != 5 {
		t.Fatalf("after a panic: %d, %v", v, err)
	}
}
