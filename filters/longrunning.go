package filters

import (
	"net/http"
	"sync"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/httperr"
	"github.com/kubegate/kubegate/request"
)

// longRunning counts each user's open long-running requests (watches, followed
// logs, exec and port-forward sessions).
type longRunning struct {
	max  int
	mu   sync.Mutex
	open map[string]int
}

func (l *longRunning) acquire(user string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[user] >= l.max {
		return false
	}
	l.open[user]++
	return true
}

func (l *longRunning) release(user string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[user]--; l.open[user] <= 0 {
		delete(l.open, user) // the map holds only users with something open
	}
}

// WithLongRunningLimit bounds the long-running requests one user holds open at
// once, across all their credentials and clusters: each holds a connection to a
// cluster and memory here for as long as it lasts, so one key must not hold them
// by the hundred. Past max the request is a 429 saying so; max 0 disables it.
// It counts per user, not per key, since a user can make keys.
func WithLongRunningLimit(h http.Handler, max int) http.Handler {
	if max <= 0 {
		return h
	}
	l := &longRunning{max: max, open: map[string]int{}}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, info := request.Identity(r.Context()), request.InfoFrom(r.Context())
		if id == nil || !info.LongRunning || info.Path == "" { // only what holds a cluster connection
			h.ServeHTTP(w, r)
			return
		}
		user := id.UserID
		if user == "" {
			user = id.Name
		}
		if !l.acquire(user) {
			w.Header().Set("Retry-After", "10")
			httperr.Write(w, kubegate.Errorf(kubegate.ETooManyRequests,
				"%s already holds %d long-running requests (watches, followed logs, exec, port-forward) open, the most one user may (--max-watches-per-user); close one first", id.Name, max))
			return
		}
		defer l.release(user)
		h.ServeHTTP(w, r)
	})
}
