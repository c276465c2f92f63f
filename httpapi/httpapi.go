// Package httpapi is the HTTP plumbing every JSON handler of the gateway shares,
// whatever dialect it speaks: handlers that return errors, the one error edge
// (logged once, written as a Status), identity guards, strict JSON decoding, the
// JSON writer, method routing and paging parameters.
package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/httperr"
	"github.com/kubegate/kubegate/request"
)

// Handler is a handler that returns its error instead of writing it.
type Handler func(http.ResponseWriter, *http.Request) error

func (f Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := f(w, r); err != nil {
		WriteError(w, r, err)
	}
}

// WriteError is the edge where a handler's error becomes a response: an internal
// error is logged once, with the request ID, and answered without its cause.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	var resp httperr.Response
	if !errors.As(err, &resp) {
		switch kubegate.ErrorCode(err) {
		case kubegate.EInternal:
			request.Logger(r.Context(), slog.Default()).Error("request failed", "err", err)
		case kubegate.EUnavailable:
			request.Logger(r.Context(), slog.Default()).Warn("request failed: a dependency is unavailable", "err", err)
		}
	}
	httperr.Write(w, err)
}

// IdentityHandler is a handler for authenticated requests.
type IdentityHandler func(http.ResponseWriter, *http.Request, *kubegate.Identity) error

// RequireIdentity returns the caller's identity, or a 401 (with WWW-Authenticate)
// for an anonymous request.
func RequireIdentity(w http.ResponseWriter, r *http.Request) (*kubegate.Identity, error) {
	id := request.Identity(r.Context())
	if id == nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="kubegate"`)
		return nil, kubegate.Errorf(kubegate.EUnauthorized, "authentication required: send Authorization: Bearer <token>")
	}
	return id, nil
}

// Authed refuses anonymous requests.
func Authed(f IdentityHandler) Handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := RequireIdentity(w, r)
		if err != nil {
			return err
		}
		return f(w, r, id)
	}
}

// Admin refuses requests of anyone but an admin, and of an admin's credential
// scoped to clusters or namespaces: a scope limits what the credential reaches,
// and gateway-wide administration reaches everything.
func Admin(f IdentityHandler) Handler { return Authed(admin(unscoped(f))) }

// Session refuses requests that do not come from a login session (the console's
// cookie, or a token from the login endpoint): credentials minted from a
// credential cannot mint credentials, so a leaked hour-long token exchanged from
// an access key cannot become a permanent key.
func Session(f IdentityHandler) Handler { return Authed(session(f)) }

// AdminSession refuses anyone but an admin in a login session.
func AdminSession(f IdentityHandler) Handler { return Authed(admin(session(f))) }

func admin(f IdentityHandler) IdentityHandler {
	return func(w http.ResponseWriter, r *http.Request, id *kubegate.Identity) error {
		if !id.Admin {
			return kubegate.Errorf(kubegate.EForbidden, "user %s is not an administrator", id.Name)
		}
		return f(w, r, id)
	}
}

func unscoped(f IdentityHandler) IdentityHandler {
	return func(w http.ResponseWriter, r *http.Request, id *kubegate.Identity) error {
		if len(id.Scope.Clusters) > 0 || len(id.Scope.Namespaces) > 0 {
			return kubegate.Errorf(kubegate.EForbidden,
				"refused by the credential's scope: a credential limited to clusters or namespaces cannot administer the gateway")
		}
		return f(w, r, id)
	}
}

func session(f IdentityHandler) IdentityHandler {
	return func(w http.ResponseWriter, r *http.Request, id *kubegate.Identity) error {
		if id.AccessKey != "" {
			return kubegate.Errorf(kubegate.EForbidden,
				"managing users, clusters, access keys and tokens needs a login session (the console, or a token from %slogin), not a token exchanged from access key %s",
				request.CubePrefix, id.AccessKey)
		}
		return f(w, r, id)
	}
}

// Methods routes a request by its method and answers any other method with a 405
// Status that lists the allowed ones. HEAD is served by GET.
type Methods map[string]http.Handler

func (m Methods) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h, ok := m[r.Method]; ok {
		h.ServeHTTP(w, r)
		return
	}
	if h, ok := m[http.MethodGet]; ok && r.Method == http.MethodHead {
		h.ServeHTTP(w, r)
		return
	}
	allowed := make([]string, 0, len(m))
	for k := range m {
		allowed = append(allowed, k)
	}
	sort.Strings(allowed)
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	httperr.Write(w, kubegate.Errorf(kubegate.EMethod, "method %s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, strings.Join(allowed, ", ")))
}

// MaxBody bounds JSON request bodies.
const MaxBody = 1 << 20

// DecodeJSON decodes a JSON body strictly: unknown fields, trailing data and wrong
// types are 400s naming the problem. An empty body leaves v alone when optional.
func DecodeJSON(w http.ResponseWriter, r *http.Request, v any, optional bool) error {
	body := http.MaxBytesReader(w, r.Body, MaxBody)
	data, err := io.ReadAll(body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return kubegate.Errorf(kubegate.ETooLarge, "request body exceeds %d bytes", MaxBody)
		}
		if kubegate.ErrorCode(err) != kubegate.EInternal {
			return err // already says what went wrong (a body that came too slowly)
		}
		return kubegate.Errorf(kubegate.EInvalid, "reading request body: %v", err)
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		if optional {
			return nil
		}
		return kubegate.Errorf(kubegate.EInvalid, "request body is required (JSON)")
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		var syntaxErr *json.SyntaxError
		var own *kubegate.Error
		switch {
		case errors.As(err, &own):
			return own // a type's own UnmarshalJSON said what is wrong
		case errors.As(err, &typeErr):
			return kubegate.Errorf(kubegate.EInvalid, "request body: field %q must be a %s", typeErr.Field, typeErr.Type)
		case errors.As(err, &syntaxErr):
			return kubegate.Errorf(kubegate.EInvalid, "request body is not valid JSON: %v", err)
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			return kubegate.Errorf(kubegate.EInvalid, "request body: %s", strings.TrimPrefix(err.Error(), "json: "))
		default:
			return kubegate.Errorf(kubegate.EInvalid, "request body: %v", err)
		}
	}
	if dec.More() {
		return kubegate.Errorf(kubegate.EInvalid, "request body: unexpected data after the JSON object")
	}
	return nil
}

// WriteJSON writes v as a JSON response that caches must not keep.
func WriteJSON(w http.ResponseWriter, code int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, err = w.Write(append(body, '\n'))
	return err
}

// WriteSuccess answers a delete as Kubernetes does: a Status of Success.
func WriteSuccess(w http.ResponseWriter, message string) error {
	return WriteJSON(w, http.StatusOK, map[string]any{
		"kind": "Status", "apiVersion": "v1", "metadata": map[string]any{}, "status": "Success", "code": http.StatusOK, "message": message,
	})
}

// IntParam reads an optional integer query parameter in [min, max].
func IntParam(r *http.Request, name string, def, min, max int) (int, error) {
	vs, ok := r.URL.Query()[name]
	if !ok {
		return def, nil
	}
	if len(vs) != 1 {
		return 0, kubegate.Errorf(kubegate.EInvalid, "parameter %s must be given once", name)
	}
	n, err := strconv.Atoi(vs[0])
	if err != nil || n < min || n > max {
		return 0, kubegate.Errorf(kubegate.EInvalid, "parameter %s must be an integer from %d to %d, got %q", name, min, max, vs[0])
	}
	return n, nil
}

// Pagination is a page of a list as both dialects describe it.
type Pagination struct {
	Page     int `json:"page"`
	PageSize int `json:"pageSize"`
	Total    int `json:"total"`
	Pages    int `json:"pages"`
}

// NewPagination describes page (1-based) of size items (0: all) of total.
func NewPagination(page, size, total int) Pagination {
	pages := 0
	switch {
	case size > 0:
		pages = (total + size - 1) / size
	case total > 0:
		pages = 1
	}
	return Pagination{Page: page, PageSize: size, Total: total, Pages: pages}
}

// PageParams reads page (1-based) and pageSize, the names both dialects use.
func PageParams(r *http.Request) (page, size int, p kubegate.Page, err error) {
	if page, err = IntParam(r, "page", 1, 1, 1<<30); err != nil {
		return
	}
	if size, err = IntParam(r, "pageSize", 10, 1, 1000); err != nil {
		return
	}
	return page, size, kubegate.Page{Limit: size, Offset: (page - 1) * size}, nil
}

// TimeString formats a time for JSON, or "" for the zero time.
func TimeString(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// ExternalURL is the gateway's URL as clients reach it: configured (the
// --external-url), or the request's own scheme and host. A Host the client chose
// must not be served to anyone else from a shared cache (a poisoned jwks_uri or
// kubeconfig server), so an answer built from it, when w is given, is marked
// Vary: Host and no-store.
func ExternalURL(w http.ResponseWriter, configured string, r *http.Request) string {
	if configured != "" {
		return strings.TrimSuffix(configured, "/")
	}
	if w != nil {
		w.Header().Add("Vary", "Host")
		w.Header().Set("Cache-Control", "no-store")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
