package filters

import (
	"context"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/request"
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
		id := request.Identity(r.Context())
		f, _ := r.Context().Value(factsKey).(*facts)
		if id == nil && f == nil {
			h.ServeHTTP(w, r)
			return
		}
		start := now()
		rw := NewResponseWriter(w)
		defer func() {
			e, ok := auditEvent(r, id, f, rw.Code())
			if !ok {
				return
			}
			e.Time, e.Latency = start.UTC().Truncate(time.Microsecond), now().Sub(start)
			sink.Record(e)
		}()
		h.ServeHTTP(rw, r)
	})
}

// auditEvent is what the audit keeps of an answered request: an authenticated
// one's, or an attempt's (ok false: nothing to keep).
func auditEvent(r *http.Request, id *kubegate.Identity, f *facts, status int) (e kubegate.AuditEvent, ok bool) {
	e = kubegate.AuditEvent{RequestID: request.ID(r.Context()), Path: truncate(r.URL.Path, MaxAuditPath), StatusCode: status, SourceIP: request.ClientIP(r.Context())}
	if id == nil {
		// A rate-limited attempt is not audited: a flood must not crowd out the
		// events of authenticated requests in the audit's buffer.
		if f.attempt == nil || status == http.StatusTooManyRequests {
			return e, false
		}
		e.User, e.AccessKey, e.Verb = truncate(f.attempt.user, maxClaimed), truncate(f.attempt.accessKey, maxClaimed), strings.ToLower(r.Method)
		return e, true
	}
	// The verb as Kubernetes audits it (list, watch, create…) where the request
	// is a resource's, else the method.
	verb := request.InfoFrom(r.Context()).Verb
	if verb == "" {
		verb = strings.ToLower(r.Method)
	}
	e.User, e.UserID, e.AccessKey, e.Cluster = id.Name, id.UserID, id.AccessKey, request.InfoFrom(r.Context()).Cluster
	e.Verb, e.Scope = truncate(verb, 16), scopeDecision(r)
	return e, true
}

func scopeDecision(r *http.Request) string {
	if f, ok := r.Context().Value(factsKey).(*facts); ok {
		return f.scope
	}
	return ""
}
