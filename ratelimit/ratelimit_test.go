package ratelimit_test

import (
	"sync"
	"testing"
	"time"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/ratelimit"
)

func TestTenFailuresPerMinuteBlocksTheEleventh(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	f := ratelimit.NewFailures(10, func() time.Time { return now })
	for i := range 10 {
		if _, blocked := f.Blocked("AK"); blocked {
			t.Fatalf("attempt %d blocked", i+1)
		}
		f.Fail("AK")
		now = now.Add(time.Second)
	}
	wait, blocked := f.Blocked("AK")
	// The first failure leaves the window 60s after it happened, 10s ago.
	if !blocked || wait != 50*time.Second {
		t.Fatalf("11th attempt: blocked=%v wait=%v; want blocked for 50s", blocked, wait)
	}
	if _, blocked := f.Blocked("other"); blocked {
		t.Fatal("another key is blocked too")
	}
	now = now.Add(wait)
	if _, blocked := f.Blocked("AK"); blocked {
		t.Fatal("still blocked after Retry-After")
	}
	// A minute of quiet restores the whole budget.
	now = now.Add(time.Minute)
	for i := range 10 {
		if _, blocked := f.Blocked("AK"); blocked {
			t.Fatalf("after a quiet minute, attempt %d blocked", i+1)
		}
		f.Fail("AK")
	}
}

func TestZeroDisables(t *testing.T) {
	f := ratelimit.NewFailures(0, nil)
	for range 100 {
		f.Fail("x")
	}
	if _, blocked := f.Blocked("x"); blocked {
		t.Fatal("a disabled limiter blocked")
	}
}

// Attempts made at once are counted as they begin: a burst cannot all pass a
// limit that only finished failures would trip. Right credentials are forgiven.
func TestGuardCountsAttemptsBeforeTheyAreChecked(t *testing.T) {
	g := ratelimit.NewGuard(100, 10, nil)
	var mu sync.Mutex
	var admitted []func(bool)
	var wg sync.WaitGroup
	for range 150 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if done, err := g.Begin("10.0.0.1", "user:alice"); err == nil {
				mu.Lock()
				admitted = append(admitted, done)
				mu.Unlock()
			} else if kubegate.ErrorCode(err) != kubegate.ETooManyRequests {
				t.Errorf("refusal = %v", err)
			}
		}()
	}
	wg.Wait()
	if len(admitted) != 10 {
		t.Fatalf("%d of 150 simultaneous attempts admitted, want 10", len(admitted))
	}
	for _, done := range admitted {
		done(true) // all right after all: none counts
	}
	for i := range 10 {
		done, err := g.Begin("10.0.0.1", "user:alice")
		if err != nil {
			t.Fatalf("attempt %d after forgiven ones: %v", i, err)
		}
		done(false)
	}
	if _, err := g.Begin("10.0.0.1", "user:alice"); kubegate.ErrorCode(err) != kubegate.ETooManyRequests {
		t.Fatalf("eleventh failure: %v", err)
	}
	if _, err := g.Begin("10.0.0.2", "user:bob"); err != nil {
		t.Fatalf("another account from another address: %v", err)
	}
}
