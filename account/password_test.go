package account

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/kubegate/kubegate"
)

// At most `slots` hashes run and `queue` wait; the next is refused at once with a
// 429 and Retry-After, whatever the load.
func TestKDFLimiterBoundsRunningAndWaiting(t *testing.T) {
	l := newKDFLimiter(2, 2)
	release := make(chan struct{})
	running := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.do(context.Background(), func() { running <- struct{}{}; <-release }); err != nil {
				t.Errorf("a call within the bounds was refused: %v", err)
			}
		}()
	}
	<-running
	<-running // two run; wait until the other two queue
	for deadline := time.Now().Add(10 * time.Second); l.waiting.Load() < 2; {
		if time.Now().After(deadline) {
			t.Fatalf("waiting = %d, want 2", l.waiting.Load())
		}
		time.Sleep(time.Millisecond)
	}
	// A call past the queue must be refused at once, not wait.
	fifth := make(chan error, 1)
	go func() { fifth <- l.do(context.Background(), func() { t.Error("a call past the queue ran") }) }()
	var err error
	select {
	case err = <-fifth:
	case <-time.After(5 * time.Second):
		close(release)
		t.Fatal("a call past the queue waited instead of being refused")
	}
	var e *kubegate.Error
	if kubegate.ErrorCode(err) != kubegate.ETooManyRequests || !asError(err, &e) || e.RetryAfter <= 0 {
		t.Fatalf("fifth call: %v, want a 429 with Retry-After", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	close(release)
	wg.Wait()
	if err := l.do(ctx, func() {}); err != nil { // a free slot is taken even with a done context
		t.Fatalf("after the burst: %v", err)
	}
}

func asError(err error, e **kubegate.Error) bool {
	x, ok := err.(*kubegate.Error) //nolint:errorlint // the limiter returns it unwrapped.
	*e = x
	return ok
}
