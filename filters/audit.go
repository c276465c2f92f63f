package filters

import (
	"context"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kubegate/kubegate"
)

// MaxAuditPath bounds the path an audit event keeps: clients choose paths, and
// the audit log must not become their storage.
const MaxAuditPath = 1024

// truncate cuts s to at most n bytes, at a character boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	n -= len("…")
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// maxClaimed bounds the name or access key an attempt claimed, as the audit keeps it.
const maxClaimed = 128

// NoteAttempt tells the audit whom an unauthenticated login or key exchange
// claims to be, before it is checked.
func NoteAttempt(ctx context.Context, user, accessKey string) {
	if f, ok := ctx.Value(factsKey).(*facts); ok {
		f.attempt = &attempt{user: user, accessKey: accessKey}
	}
}

// AuditSink takes audit events.
type AuditSink interface {
	Record(kubegate.AuditEvent)
}

// WithAudit records one event per authenticated request once it has been answered:
// who (user and access key), where (cluster, path without the query), what (verb),
// the outcome and latency, and the client address.
//
// A login or key exchange has no identity yet; it is recorded, failed or not,
// under the name or access key it claimed (NoteAttempt), so that guessing shows.
func WithAudit(h http.Handler, sink AuditSink, now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := Identity(r.Context())
		if id == nil {
			f, _ := r.Context().Value(factsKey).(*facts)
			if f == nil {
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
				// A rate-limited attempt is not audited: a flood must not crowd out
				// the events of authenticated requests in the audit's buffer.
				if f.attempt == nil || status == http.StatusTooManyRequests {
					return
				}
				sink.Record(kubegate.AuditEvent{
					Time: start.UTC().Truncate(time.Microsecond), RequestID: RequestID(r.Context()),
					User: truncate(f.attempt.user, maxClaimed), AccessKey: truncate(f.attempt.accessKey, maxClaimed),
					Verb: strings.ToLower(r.Method), Path: truncate(r.URL.Path, MaxAuditPath), StatusCode: status,
					Latency: now().Sub(start), SourceIP: ClientIP(r.Context()),
				})
			}()
			h.ServeHTTP(rw, r)
			return
		}
		start := now()
		rw := NewResponseWriter(w)
		defer func() {
			status := rw.Status()
			if status == 0 {
				status = http.StatusOK
			}
			// The verb as Kubernetes audits it (list, watch, create…) where the
			// request is a resource's, else the method.
			verb := Info(r.Context()).Verb
			if verb == "" {
				verb = strings.ToLower(r.Method)
			}
			sink.Record(kubegate.AuditEvent{
				Time: start.UTC().Truncate(time.Microsecond), RequestID: RequestID(r.Context()),
				User: id.Name, UserID: id.UserID, AccessKey: id.AccessKey, Cluster: Info(r.Context()).Cluster,
				Verb: truncate(verb, 16), Path: truncate(r.URL.Path, MaxAuditPath), StatusCode: status,
				Latency: now().Sub(start), SourceIP: ClientIP(r.Context()), Scope: scopeDecision(r),
			})
		}()
		h.ServeHTTP(rw, r)
	})
}

func scopeDecision(r *http.Request) string {
	if f, ok := r.Context().Value(factsKey).(*facts); ok {
		return f.scope
	}
	return ""
}
