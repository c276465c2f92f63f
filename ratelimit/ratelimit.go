// Package ratelimit counts failures per key (a client address, an access key, a
// user name) and blocks a key that failed too often in the last minute, saying how
// long to wait.
package ratelimit

import (
	"fmt"
	"sync"
	"time"

	"github.com/kubegate/kubegate"
)

// window is the span failures are counted over.
const window = time.Minute

// Failures allows at most PerMinute failures per key in any sliding minute.
// Successes cost nothing.
type Failures struct {
	perMinute int
	now       func() time.Time

	mu sync.Mutex
	// keys holds each key's failure times in the window, oldest first.
	keys    map[string][]time.Time
	sweepAt time.Time
}

// NewFailures returns a limiter allowing perMinute failures per key (0 disables it).
func NewFailures(perMinute int, now func() time.Time) *Failures {
	if now == nil {
		now = time.Now
	}
	return &Failures{perMinute: perMinute, now: now, keys: map[string][]time.Time{}}
}

// Blocked says whether key has used its failures for the window, and how long
// until the oldest of them leaves it.
func (f *Failures) Blocked(key string) (time.Duration, bool) {
	if f.perMinute <= 0 {
		return 0, false
	}
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	times := recent(f.keys[key], now)
	if len(times) < f.perMinute {
		return 0, false
	}
	wait := times[len(times)-f.perMinute].Add(window).Sub(now)
	if wait < time.Second {
		wait = time.Second
	}
	return wait, true
}

// Fail records a failure of key.
func (f *Failures) Fail(key string) {
	if f.perMinute <= 0 {
		return
	}
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sweep(now)
	times := append(recent(f.keys[key], now), now)
	if len(times) > f.perMinute {
		times = times[len(times)-f.perMinute:] // older ones no longer decide anything
	}
	f.keys[key] = times
}

func recent(times []time.Time, now time.Time) []time.Time {
	i := 0
	for i < len(times) && !times[i].After(now.Add(-window)) {
		i++
	}
	return times[i:]
}

// sweep drops keys without failures in the window, so memory follows recent
// failures only.
func (f *Failures) sweep(now time.Time) {
	if now.Before(f.sweepAt) {
		return
	}
	f.sweepAt = now.Add(window)
	for k, times := range f.keys {
		if len(recent(times, now)) == 0 {
			delete(f.keys, k)
		}
	}
}

// Guard limits failed credential checks (logins, access key exchanges) per client
// address and per account: one guard serves every kind of check, each naming its
// account with a prefix ("user:", "ak:").
type Guard struct {
	perAddr *Failures
	perKey  *Failures
}

// NewGuard returns a guard allowing perAddr failures per client address and perKey
// per account in any minute (0: no limit).
func NewGuard(perAddr, perKey int, now func() time.Time) *Guard {
	return &Guard{perAddr: NewFailures(perAddr, now), perKey: NewFailures(perKey, now)}
}

// Check refuses, with a 429 error saying how long to wait, an attempt from addr for
// key when either has failed too often.
func (g *Guard) Check(addr, key string) error {
	wait, blocked := g.perAddr.Blocked(addr)
	if !blocked {
		wait, blocked = g.perKey.Blocked(key)
	}
	if !blocked {
		return nil
	}
	return &kubegate.Error{Code: kubegate.ETooManyRequests, RetryAfter: wait,
		Message: fmt.Sprintf("too many failed attempts; retry after %d seconds", int((wait+time.Second-1)/time.Second))}
}

// Fail records a failed attempt from addr for key.
func (g *Guard) Fail(addr, key string) {
	g.perAddr.Fail(addr)
	g.perKey.Fail(key)
}
