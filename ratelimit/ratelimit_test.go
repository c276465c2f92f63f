package ratelimit_test

import (
	"testing"
	"time"

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
