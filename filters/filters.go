// Package filters holds kubegate's HTTP middleware, each concern a
// WithX(handler, ...) http.Handler wrapper in the style of the Kubernetes apiserver's
// filters. The facts they establish (classification, identity, client address,
// request ID) are read through package request. The chain is assembled in one
// place, server.BuildHandlerChain.
package filters

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/httperr"
	"github.com/kubegate/kubegate/request"
)

type ctxKey int

const factsKey ctxKey = iota

// facts are what inner filters learn about a request that outer ones report: the
// access log line is written by WithLogging, outside authentication.
type facts struct {
	user  string
	scope string // the credential's scope decision, for the audit
	// attempt is whom an unauthenticated login or key exchange claimed to be,
	// for the audit (NoteAttempt).
	attempt *attempt
}

type attempt struct{ user, accessKey string }

// WithRequestID gives every request an ID: the caller's X-Request-Id when it is a
// short token of safe characters, a random one otherwise. The ID is echoed in the
// response so that a user's report can be matched with the logs.
func WithRequestID(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(request.IDHeader)
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set(request.IDHeader, id)
		h.ServeHTTP(w, r.WithContext(request.WithID(r.Context(), id)))
	})
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms.
	return hex.EncodeToString(b[:])
}

// WithLogging logs one line per request: method, path (never the query, which can
// carry secrets such as secretKey), status, bytes and duration. It also puts a
// request-scoped logger in the context.
func WithLogging(h http.Handler, logger *slog.Logger, now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := now()
		l := logger.With("request_id", request.ID(r.Context()))
		rw := NewResponseWriter(w)
		f := &facts{}
		defer func() {
			l.LogAttrs(r.Context(), slog.LevelInfo, "request",
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.String("user", f.user),
				slog.Int("status", rw.Status()),
				slog.Int64("bytes", rw.Written()),
				slog.Duration("duration", now().Sub(start)),
				slog.String("remote", r.RemoteAddr),
			)
		}()
		ctx := context.WithValue(request.WithLogger(r.Context(), l), factsKey, f)
		h.ServeHTTP(rw, r.WithContext(ctx))
	})
}

// WithPanicRecovery turns a panic in a handler into a logged stack trace and, when
// nothing was written yet, a 500 Status. http.ErrAbortHandler is re-raised so that
// net/http aborts the response as the handler intended.
func WithPanicRecovery(h http.Handler, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := NewResponseWriter(w)
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler { //nolint:errorlint,err113 // the sentinel is compared by identity in net/http too.
				panic(v)
			}
			request.Logger(r.Context(), logger).Error("panic serving request",
				"request_id", request.ID(r.Context()), "method", r.Method, "path", r.URL.Path,
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if !rw.WroteHeader() {
				httperr.Write(rw, kubegate.Errorf(kubegate.EInternal, "internal error"))
			}
		}()
		h.ServeHTTP(rw, r)
	})
}

// WithRequestInfo classifies every request once, before any other filter reads
// what it is for.
func WithRequestInfo(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(request.WithInfo(r.Context(), request.Classify(r))))
	})
}
