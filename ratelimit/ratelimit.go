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

// DefaultMaxKeys bounds how many keys a limiter remembers.
const DefaultMaxKeys = 100_000

// Failures allows at most PerMinute failures per key in any sliding minute.
// Successes cost nothing.
type Failures struct {
	perMinute int
	maxKeys   int
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
	return &Failures{perMinute: perMinute, maxKeys: DefaultMaxKeys, now: now, keys: map[string][]time.Time{}}
}

// SetMaxKeys bounds the keys remembered (DefaultMaxKeys by default): past it, the
// keys with the oldest last failure are forgotten first, so an attacker cycling
// through keys cannot grow memory.
func (f *Failures) SetMaxKeys(n int) { f.mu.Lock(); f.maxKeys = n; f.mu.Unlock() }

// Blocked says whether key has used its failures for the window, and how long
// until the oldest of them leaves it.
func (f *Failures) Blocked(key string) (time.Duration, bool) {
	if f.perMinute <= 0 {
		return 0, false
	}
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.blocked(key, now)
}

func (f *Failures) blocked(key string, now time.Time) (time.Duration, bool) {
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
	f.record(key, now)
}

func (f *Failures) record(key string, now time.Time) {
	f.sweep(now)
	times := append(recent(f.keys[key], now), now)
	if len(times) > f.perMinute {
		times = times[len(times)-f.perMinute:] // older ones no longer decide anything
	}
	f.keys[key] = times
}

// attempt counts an attempt as a failure before it is checked, unless key is
// blocked; the returned time identifies it for forgive.
func (f *Failures) attempt(key string) (at time.Time, wait time.Duration, blocked bool) {
	if f.perMinute <= 0 {
		return time.Time{}, 0, false
	}
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	if wait, blocked := f.blocked(key, now); blocked {
		return time.Time{}, wait, true
	}
	f.record(key, now)
	return now, 0, false
}

// forgive takes back the attempt of key counted at `at` (it succeeded).
func (f *Failures) forgive(key string, at time.Time) {
	if at.IsZero() {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	times := f.keys[key]
	for i := len(times) - 1; i >= 0; i-- {
		if times[i].Equal(at) {
			f.keys[key] = append(times[:i:i], times[i+1:]...)
			break
		}
	}
	if len(f.keys[key]) == 0 {
		delete(f.keys, key)
	}
}

func recent(times []time.Time, now time.Time) []time.Time {
	i := 0
	for i < len(times) && !times[i].After(now.Add(-window)) {
		i++
	}
	return times[i:]
}

// sweep drops keys without failures in the window, so memory follows recent
// failures only, and past maxKeys the keys whose last failure is oldest.
func (f *Failures) sweep(now time.Time) {
	if len(f.keys) < f.maxKeys && now.Before(f.sweepAt) {
		return
	}
	f.sweepAt = now.Add(window)
	for k, times := range f.keys {
		if len(recent(times, now)) == 0 {
			delete(f.keys, k)
		}
	}
	// Still full: forget the half whose last failure is oldest, so a flood of
	// fresh keys costs a sweep per maxKeys/2 failures, not one per failure.
	if len(f.keys) >= f.maxKeys {
		for limit := window / 2; len(f.keys) >= f.maxKeys/2 && limit > 0; limit /= 2 {
			cutoff := now.Add(-limit)
			for k, times := range f.keys {
				if times[len(times)-1].Before(cutoff) {
					delete(f.keys, k)
				}
			}
		}
		for k := range f.keys { // the rest, in no order, if every one is recent
			if len(f.keys) < f.maxKeys/2 {
				break
			}
			delete(f.keys, k)
		}
	}
}

// Guard limits credential checks (logins, access key exchanges, password
// changes) per client address and per account: one guard serves every kind of
// check, each naming its account with a prefix ("user:", "ak:").
type Guard struct {
	perAddr *Failures
	perKey  *Failures
}

// NewGuard returns a guard allowing perAddr failures per client address and perKey
// per account in any minute (0: no limit).
func NewGuard(perAddr, perKey int, now func() time.Time) *Guard {
	return &Guard{perAddr: NewFailures(perAddr, now), perKey: NewFailures(perKey, now)}
}

// Begin counts an attempt from addr for key before the credential is checked, so
// that attempts made at once cannot all pass a limit only finished failures
// would trip, and refuses it with a 429 saying how long to wait when either limit
// is used up. The caller must call done with whether the credential was right: a
// right one is not counted.
func (g *Guard) Begin(addr, key string) (done func(ok bool), err error) {
	atAddr, wait, blocked := g.perAddr.attempt(addr)
	if !blocked {
		var atKey time.Time
		if atKey, wait, blocked = g.perKey.attempt(key); !blocked {
			return func(ok bool) {
				if ok {
					g.perAddr.forgive(addr, atAddr)
					g.perKey.forgive(key, atKey)
				}
			}, nil
		}
		g.perAddr.forgive(addr, atAddr) // refused before any check: not an attempt
	}
	return nil, &kubegate.Error{Code: kubegate.ETooManyRequests, RetryAfter: wait,
		Message: fmt.Sprintf("too many failed attempts; retry after %d seconds", int((wait+time.Second-1)/time.Second))}
}
