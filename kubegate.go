// Package kubegate holds the domain types of the kubegate gateway and the errors its
// packages share. Packages that talk to the outside world (HTTP, databases,
// Kubernetes) depend on this one, never the other way round.
package kubegate

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"
)

// Version is the gateway's version, stamped at build time with
// -ldflags "-X github.com/kubegate/kubegate.Version=...".
//
//nolint:gochecknoglobals // set by the linker, read-only at run time.
var Version = "dev"

// Error codes. They say what kind of failure happened, independent of transport;
// the HTTP edge maps each to a status code in one place.
const (
	EInvalid         = "invalid"           // the request is malformed: 400
	EUnauthorized    = "unauthorized"      // no or bad credentials: 401
	EForbidden       = "forbidden"         // authenticated but not allowed: 403
	ENotFound        = "not_found"         // no such object: 404
	EMethod          = "method"            // method not allowed on this route: 405
	EConflict        = "conflict"          // already exists, or a limit is reached: 409
	ETooManyRequests = "too_many"          // rate limited: 429
	EInternal        = "internal"          // a bug or an unexpected failure: 500
	EUnavailable     = "unavailable"       // a dependency is down: 503
	ETimeout         = "timeout"           // a dependency did not answer in time: 504
	ETooLarge        = "request_too_large" // body over the limit: 413
	EMediaType       = "media_type"        // a body of a type the route does not take: 415
	EURITooLong      = "uri_too_long"      // a request URI over the limit: 414
	ERequestTimeout  = "request_timeout"   // the client did not send the request in time: 408
)

// Error is an application error with a code and a message safe to show to the
// caller. Internal causes are kept out of Message on purpose.
type Error struct {
	Code    string
	Message string
	// RetryAfter, when set, tells the caller how long to wait (rate limits).
	RetryAfter time.Duration
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err if it is (or wraps) an *Error, "" for nil,
// EUnavailable for a dependency that cannot be reached (a database or a network
// peer down), and EInternal otherwise.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if unreachable(err) {
		return EUnavailable
	}
	return EInternal
}

// ErrorMessage returns the caller-safe message of err; other errors get a generic
// one so that implementation details never leak.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	if unreachable(err) {
		return "a service the gateway depends on is unavailable; retry later"
	}
	return "internal error"
}

// unreachable says err comes from a dependency that is down or restarting rather
// than from a bug: a network failure, a connection the driver gave up on, or a
// database's own "connection" and "operator intervention" errors (SQLSTATE classes
// 08 and 57P, as PostgreSQL reports a restart).
func unreachable(err error) bool {
	var netErr net.Error
	var sqlState interface{ SQLState() string }
	switch {
	case errors.As(err, &netErr), errors.Is(err, driver.ErrBadConn), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return true
	case errors.As(err, &sqlState):
		s := sqlState.SQLState()
		return strings.HasPrefix(s, "08") || strings.HasPrefix(s, "57P")
	}
	return false
}

// Groups every authenticated identity may carry; clusters bind RBAC to them.
const (
	GroupAdmins = "kubegate:admins"
	GroupUsers  = "kubegate:users"
)

// Identity is who a request acts as, established by a token or a session.
type Identity struct {
	UserID string
	Name   string
	Groups []string
	Admin  bool
	// AccessKey is the key the token was minted from; empty for console sessions.
	AccessKey string
	// TokenID and TokenExpiresAt identify the token the request came with, so
	// that logging out can revoke exactly it.
	TokenID        string
	TokenIssuedAt  time.Time
	TokenExpiresAt time.Time
	// SessionStart is when the console login the token belongs to began; zero
	// for tokens minted from credentials.
	SessionStart time.Time
	// TokenEpoch is the user's token epoch when the identity was established;
	// tokens issued for it carry it (see User.TokenEpoch).
	TokenEpoch int64
	// Scope is the credential's current scope (its access key's, read on every
	// request), zero for login sessions.
	Scope Scope
}

// VisibleClusters is the part of clusters an identity may see: a credential scoped
// to some clusters does not learn that the others exist.
func (id *Identity) VisibleClusters(clusters []Cluster) []Cluster {
	out := make([]Cluster, 0, len(clusters))
	for _, c := range clusters {
		if id.Scope.ReachesCluster(c.Name) {
			out = append(out, c)
		}
	}
	return out
}

// CheckCluster refuses a cluster outside the identity's scope, whether or not it
// exists, so that the answer does not tell which names are registered.
func (id *Identity) CheckCluster(name string) error {
	if !id.Scope.ReachesCluster(name) {
		return Errorf(EForbidden, "the credential reaches clusters %s, not %s", strings.Join(id.Scope.Clusters, ", "), name)
	}
	return nil
}

// SeesUpstreams says whether the identity may see where the clusters' API servers
// are: administrators only (not their scoped credentials, which cannot
// administer), as the addresses are of no use through the gateway and
// tell an attacker where to aim.
func (id *Identity) SeesUpstreams() bool { return id.Admin && id.Scope.IsZero() }

// GroupsFor returns the groups of a user: everyone is in GroupUsers, admins also in
// GroupAdmins.
func GroupsFor(u User) []string {
	if u.Admin {
		return []string{GroupUsers, GroupAdmins}
	}
	return []string{GroupUsers}
}
