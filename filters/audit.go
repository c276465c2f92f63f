package filters

import (
	"net/http"
	"strings"
	"time"

	"github.com/kubegate/kubegate"
)

// AuditSink takes audit events.
type AuditSink interface {
	Record(kubegate.AuditEvent)
}

// WithAudit records one event per authenticated request once it has been answered:
// who (user and access key), where (cluster, path without the query), what (verb),
// the outcome and latency, and the client address.
func WithAudit(h http.Handler, sink AuditSink, now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := Identity(r.Context())
		if id == nil {
			h.ServeHTTP(w, r)
			return
		}
		start := now()
		rw := NewResponseWriter(w)
		defer func() {
			status := rw.Status()
			if status == 0 {
				status = http.StatusOK
			}
			sink.Record(kubegate.AuditEvent{
				Time: start.UTC().Truncate(time.Microsecond), RequestID: RequestID(r.Context()),
				User: id.Name, AccessKey: id.AccessKey, Cluster: Info(r.Context()).Cluster,
				Verb: strings.ToLower(r.Method), Path: r.URL.Path, StatusCode: status,
				Latency: now().Sub(start), SourceIP: ClientIP(r.Context()),
			})
		}()
		h.ServeHTTP(rw, r)
	})
}
