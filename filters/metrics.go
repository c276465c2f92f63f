package filters

import (
	"net/http"
	"strings"
	"time"

	"github.com/kubegate/kubegate/metrics"
)

// WithMetrics counts every request by route class, method and status, and records
// the latency of all but long-running ones (watches, upgrades).
func WithMetrics(h http.Handler, m *metrics.Metrics, now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := now()
		rw := NewResponseWriter(w)
		defer func() {
			code := rw.Status()
			if code == 0 {
				code = http.StatusOK
			}
			m.ObserveRequest(metrics.Route(r.URL.Path), r.Method, code, now().Sub(start).Seconds(), longRunning(r))
		}()
		h.ServeHTTP(rw, r)
	})
}

func longRunning(r *http.Request) bool {
	q := r.URL.Query()
	if w := strings.ToLower(q.Get("watch")); w == "true" || w == "1" || q.Get("follow") == "true" {
		return true
	}
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || strings.Contains(strings.ToLower(r.Header.Get("Connection")), "upgrade")
}
