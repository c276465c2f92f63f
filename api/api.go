// Package api holds the gateway's own JSON API: sessions, users, access keys, token
// exchange in the KubeCube and DCE dialects, and the token verification keys. It
// translates HTTP to calls on account and token, and errors to Status bodies.
package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/account"
	"github.com/kubegate/kubegate/cluster"
	"github.com/kubegate/kubegate/filters"
	"github.com/kubegate/kubegate/internal/httperr"
	"github.com/kubegate/kubegate/ratelimit"
	"github.com/kubegate/kubegate/server"
	"github.com/kubegate/kubegate/token"
)

// Options configures the API.
type Options struct {
	Accounts *account.Service
	Tokens   *token.Service
	Clusters *cluster.Registry
	// ExternalURL is the gateway's URL for clients (kubeconfigs); the request's
	// host when empty.
	ExternalURL string
	// ExternalCAData is embedded in generated kubeconfigs.
	ExternalCAData []byte
	// Kpanda serves DCE's per-cluster resource lists.
	Kpanda http.Handler
	// Store answers the audit log.
	Store kubegate.Store
	// TokenTTL is the default lifetime of exchanged tokens; MaxTokenTTL clamps any
	// requested one. SessionTTL is the lifetime of console logins.
	TokenTTL    time.Duration
	MaxTokenTTL time.Duration
	SessionTTL  time.Duration
	// FailuresPerIP and FailuresPerKey limit failed exchanges and logins per minute.
	FailuresPerIP  int
	FailuresPerKey int
	// SecureCookies marks session cookies Secure (the gateway serves HTTPS, or sits
	// behind a proxy that does).
	SecureCookies bool
	Now           func() time.Time
	Logger        *slog.Logger
}

// API is the set of handlers.
type API struct {
	opts      Options
	perIP     *ratelimit.Failures
	perKey    *ratelimit.Failures
	authn     *Authenticator
	ghippoAPI ghippo
}

// New returns the API.
func New(opts Options) *API {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	a := &API{
		opts:   opts,
		perIP:  ratelimit.NewFailures(opts.FailuresPerIP, opts.Now),
		perKey: ratelimit.NewFailures(opts.FailuresPerKey, opts.Now),
		authn:  &Authenticator{Tokens: opts.Tokens, Accounts: opts.Accounts},
	}
	a.ghippoAPI = ghippo{a}
	return a
}

// Authenticator is the request authenticator the filter chain uses.
func (a *API) Authenticator() *Authenticator { return a.authn }

// Register adds the API's routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	h := func(f func(http.ResponseWriter, *http.Request) error) http.Handler { return handler(f) }
	mux.Handle("/api/v1/cube/login", server.Methods{http.MethodPost: h(a.login)})
	mux.Handle("/api/v1/cube/logout", server.Methods{http.MethodPost: h(a.logout)})
	mux.Handle("/api/v1/cube/whoami", server.Methods{http.MethodGet: h(authed(a.whoami))})
	mux.Handle("/api/v1/cube/user/password", server.Methods{http.MethodPost: h(authed(a.changePassword)), http.MethodPut: h(authed(a.changePassword))})

	mux.Handle("/api/v1/cube/users", server.Methods{http.MethodGet: h(admin(a.listUsers)), http.MethodPost: h(admin(a.createUser))})
	mux.Handle("/api/v1/cube/users/{name}", server.Methods{
		http.MethodGet: h(admin(a.getUser)), http.MethodPatch: h(admin(a.updateUser)), http.MethodDelete: h(admin(a.deleteUser)),
	})

	mux.Handle("/api/v1/cube/key/create", server.Methods{http.MethodPost: h(authed(a.createKey))})
	mux.Handle("/api/v1/cube/key", server.Methods{
		http.MethodGet: h(authed(a.listKeys)), http.MethodPatch: h(authed(a.updateKey)), http.MethodDelete: h(authed(a.deleteKey)),
	})
	mux.Handle("/api/v1/cube/key/token", server.Methods{http.MethodGet: h(a.kubecubeToken), http.MethodPost: h(a.kubecubeToken)})
	mux.Handle("/api/v1/cube/signing-keys/rotate", server.Methods{http.MethodPost: h(admin(a.rotateSigningKey))})

	mux.Handle("/apis/ghippo.io/v1alpha1/token", server.Methods{http.MethodGet: h(a.dceToken), http.MethodPost: h(a.dceToken)})
	mux.Handle("/apis/ghippo.io/v1alpha1/users", server.Methods{http.MethodGet: h(admin(a.ghippoAPI.listUsers))})

	mux.Handle("/api/v1/cube/clusters", server.Methods{http.MethodGet: h(authed(a.listClusters)), http.MethodPost: h(admin(a.registerCluster))})
	mux.Handle("/api/v1/cube/clusters/{name}", server.Methods{http.MethodGet: h(authed(a.getCluster)), http.MethodDelete: h(admin(a.deleteCluster))})
	mux.Handle("/api/v1/cube/clusters/{name}/kubeconfig", server.Methods{http.MethodGet: h(authed(a.clusterKubeconfig))})
	mux.Handle("/apis/kpanda.io/v1alpha1/clusters", server.Methods{http.MethodGet: h(authed(a.kpandaClusters))})
	if a.opts.Kpanda != nil {
		mux.Handle("/apis/kpanda.io/v1alpha1/clusters/{cluster}/{rest...}", server.Methods{http.MethodGet: a.opts.Kpanda})
	}

	mux.Handle("/api/v1/cube/audit", server.Methods{http.MethodGet: h(admin(a.listAudit))})

	mux.Handle("/.well-known/jwks.json", server.Methods{http.MethodGet: h(a.jwks)})
	mux.Handle("/.well-known/openid-configuration", server.Methods{http.MethodGet: h(a.openIDConfiguration)})
}

// handler adapts a handler that returns an error; the error becomes a Status.
type handler func(http.ResponseWriter, *http.Request) error

func (f handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := f(w, r); err != nil {
		if kubegate.ErrorCode(err) == kubegate.EInternal {
			filters.Logger(r.Context(), slog.Default()).Error("request failed", "err", err)
		}
		httperr.Write(w, err)
	}
}

type identityHandler func(http.ResponseWriter, *http.Request, *kubegate.Identity) error

// authed refuses anonymous requests.
func authed(f identityHandler) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		id := filters.Identity(r.Context())
		if id == nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="kubegate"`)
			return kubegate.Errorf(kubegate.EUnauthorized, "authentication required: send Authorization: Bearer <token>")
		}
		return f(w, r, id)
	}
}

// admin refuses requests of anyone but an admin.
func admin(f identityHandler) func(http.ResponseWriter, *http.Request) error {
	return authed(func(w http.ResponseWriter, r *http.Request, id *kubegate.Identity) error {
		if !id.Admin {
			return kubegate.Errorf(kubegate.EForbidden, "user %s is not an administrator", id.Name)
		}
		return f(w, r, id)
	})
}

// maxBody bounds JSON request bodies.
const maxBody = 1 << 20

// decodeJSON decodes a JSON body strictly: unknown fields, trailing data and wrong
// types are 400s naming the problem. An empty body leaves v alone when optional.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any, optional bool) error {
	body := http.MaxBytesReader(w, r.Body, maxBody)
	data, err := io.ReadAll(body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return kubegate.Errorf(kubegate.ETooLarge, "request body exceeds %d bytes", maxBody)
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
		switch {
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

func writeJSON(w http.ResponseWriter, code int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, err = w.Write(append(body, '\n'))
	return err
}

// writeSuccess answers a delete as Kubernetes does: a Status of Success.
func writeSuccess(w http.ResponseWriter, message string) error {
	return writeJSON(w, http.StatusOK, map[string]any{
		"kind": "Status", "apiVersion": "v1", "metadata": map[string]any{}, "status": "Success", "code": http.StatusOK, "message": message,
	})
}

// intParam reads an optional non-negative integer query parameter.
func intParam(r *http.Request, name string, def, min, max int) (int, error) {
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

// timeString formats a time for JSON, or "" for the zero time.
func timeString(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
