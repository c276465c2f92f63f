package filters

import (
	"net/http"
	"time"

	"github.com/kubegate/kubegate/metrics"
	"github.com/kubegate/kubegate/request"
)

// WithMetrics counts every request by route class, method and status, records
// the latency of all but long-running ones (watches, upgrades), and counts the
// requests addressed to a registered cluster (known says which are) by cluster.
// Every label comes from a fixed set or the registry, so clients cannot grow them.
func WithMetrics(h http.Handler, m *metrics.Metrics, now func() time.Time, known func(cluster string) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := now()
		rw := NewResponseWriter(w)
		defer func() {
			code := rw.Code()
			info := request.InfoFrom(r.Context())
			m.ObserveRequest(string(info.Class), methodLabel(r.Method), code, now().Sub(start).Seconds(), info.LongRunning)
			if info.Path != "" && info.PathErr == nil && known != nil && known(info.Cluster) {
				m.ObserveProxied(info.Cluster, code)
			}
		}()
		h.ServeHTTP(rw, r)
	})
}

// methodLabel maps a method to itself when it is a standard one, "other" otherwise.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}
