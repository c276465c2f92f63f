package ratelimit

import (
	"strconv"
	"testing"
	"time"
)

// An attacker cycling through keys cannot grow the limiter past its bound.
func TestMemoryIsBounded(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	f := NewFailures(10, func() time.Time { return now })
	f.SetMaxKeys(1000)
	for i := range 50_000 {
		f.Fail("10.0." + strconv.Itoa(i))
		if i%100 == 0 {
			now = now.Add(time.Millisecond)
		}
	}
	if n := len(f.keys); n > 1000 {
		t.Fatalf("%d keys remembered, bound 1000", n)
	}
	f.Fail("last")
	if _, ok := f.keys["last"]; !ok {
		t.Fatal("the newest failure was forgotten")
	}
}
