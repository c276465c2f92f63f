package request

import (
	"context"
	"log/slog"

	"github.com/kubegate/kubegate"
)

type ctxKey int

const (
	infoKey ctxKey = iota
	identityKey
	clientIPKey
	idKey
	loggerKey
)

// Names of the console's cookies and of the headers that carry request facts.
const (
	// SessionCookie carries a console session's token; CSRFCookie and CSRFHeader
	// implement the double-submit check for cookie sessions.
	SessionCookie = "kubegate_session"
	CSRFCookie    = "kubegate_csrf"
	CSRFHeader    = "X-CSRF-Token"
	// IDHeader carries the request ID in and out.
	IDHeader = "X-Request-Id"
)

// WithInfo returns ctx carrying the request's classification.
func WithInfo(ctx context.Context, i *Info) context.Context {
	return context.WithValue(ctx, infoKey, i)
}

// InfoFrom returns the classification of the request ctx belongs to. A request
// that was never classified gets one worked out from nothing: class other.
func InfoFrom(ctx context.Context) *Info {
	if i, ok := ctx.Value(infoKey).(*Info); ok {
		return i
	}
	return &Info{Class: ClassOther}
}

// WithIdentity returns ctx acting as id; the authentication filter, and tests and
// handlers that act on behalf of someone, use it.
func WithIdentity(ctx context.Context, id *kubegate.Identity) context.Context {
	return context.WithValue(ctx, identityKey, id)
}

// Identity returns who the request acts as, or nil for an anonymous request.
func Identity(ctx context.Context) *kubegate.Identity {
	id, _ := ctx.Value(identityKey).(*kubegate.Identity)
	return id
}

// WithClientIP returns ctx carrying the client's address.
func WithClientIP(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, clientIPKey, ip)
}

// ClientIP returns the client's address as filters.WithClientIP established it,
// or "".
func ClientIP(ctx context.Context) string {
	ip, _ := ctx.Value(clientIPKey).(string)
	return ip
}

// WithID returns ctx carrying the request's ID.
func WithID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, idKey, id)
}

// ID returns the ID of the request ctx belongs to, or "".
func ID(ctx context.Context) string {
	id, _ := ctx.Value(idKey).(string)
	return id
}

// WithLogger returns ctx carrying the request-scoped logger.
func WithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey, l)
}

// Logger returns the request-scoped logger (tagged with the request ID), or the
// fallback when the request was not logged.
func Logger(ctx context.Context, fallback *slog.Logger) *slog.Logger {
	if l, ok := ctx.Value(loggerKey).(*slog.Logger); ok {
		return l
	}
	return fallback
}
