// Package kubeproxy forwards /api/v1/cube/proxy/clusters/{cluster}/{kubernetes path}
// to the named cluster as the caller: the gateway's own credentials plus
// Kubernetes impersonation, so that each cluster's RBAC decides. Bodies stream both
// ways, watches flush as events arrive, and upgraded connections (exec, attach,
// port-forward) are carried through.
package kubeproxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/cluster"
	"github.com/kubegate/kubegate/filters"
	"github.com/kubegate/kubegate/internal/httperr"
	"github.com/kubegate/kubegate/listquery"
)

// Prefix is where the proxy is mounted.
const Prefix = "/api/v1/cube/proxy/clusters/"

// allowedRoots are the Kubernetes API paths the proxy forwards; nothing else of a
// cluster (or of the gateway) is reachable through it.
var allowedRoots = map[string]bool{ //nolint:gochecknoglobals // a constant set.
	"api": true, "apis": true, "version": true, "openapi": true, "healthz": true, "readyz": true, "livez": true,
}

// Targets resolves a cluster name to how to reach it.
type Targets interface {
	Target(name string) (*cluster.Target, error)
}

// Options configures the proxy.
type Options struct {
	// MaxPageSize bounds pageSize, and what pageSize=0 may return.
	MaxPageSize int
	// Observe, when set, is told the outcome of every request that reached a
	// registered cluster.
	Observe func(cluster string, code int)
}

// Proxy is the proxy handler.
type Proxy struct {
	targets Targets
	logger  *slog.Logger
	opts    Options
	proxy   *httputil.ReverseProxy
}

type ctxKey int

const upstreamKey ctxKey = 0

// upstream is where one request goes, decided before the ReverseProxy runs.
type upstream struct {
	target  *cluster.Target
	path    string // decoded
	rawPath string // as the client escaped it
}

// New returns the proxy.
func New(targets Targets, logger *slog.Logger, opts Options) *Proxy {
	if opts.MaxPageSize == 0 {
		opts.MaxPageSize = 5000
	}
	p := &Proxy{targets: targets, logger: logger, opts: opts}
	p.proxy = &httputil.ReverseProxy{
		Rewrite:      rewrite,
		Transport:    transport{},
		BufferPool:   &bufferPool{},
		ErrorHandler: p.errorHandler,
		ErrorLog:     slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	return p
}

// ServeHTTP implements http.Handler.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rw := filters.NewResponseWriter(w)
	cluster, err := p.serve(rw, r)
	if err != nil {
		writeListError(rw, err)
	}
	if cluster != "" && p.opts.Observe != nil {
		p.opts.Observe(cluster, rw.Status())
	}
}

// serve proxies the request and returns the cluster it reached, if any.
func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) (string, error) {
	if filters.Identity(r.Context()) == nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="kubegate"`)
		return "", kubegate.Errorf(kubegate.EUnauthorized, "authentication required: send Authorization: Bearer <token>")
	}
	for name := range r.Header {
		if strings.HasPrefix(http.CanonicalHeaderKey(name), "Impersonate-") {
			return "", kubegate.Errorf(kubegate.EForbidden, "header %s is not allowed: the gateway acts as the authenticated user", name)
		}
	}
	clusterName, rawPath, path, err := SplitPath(r.URL.EscapedPath())
	if err != nil {
		return "", err
	}
	target, err := p.targets.Target(clusterName)
	if err != nil {
		return "", err
	}

	// List extension parameters on a collection: the gateway filters, sorts and
	// pages. Everything else passes through untouched.
	if query := r.URL.Query(); r.Method == http.MethodGet && listquery.Present(query) && isCollection(path) {
		if isWatch(query) {
			if _, ok := query["selector"]; ok {
				return target.Name, p.serveWatch(w, r, target, path)
			}
		}
		return target.Name, p.serveKubeCubeList(w, r, target, path)
	}
	ctx := context.WithValue(r.Context(), upstreamKey, &upstream{target: target, path: path, rawPath: rawPath})
	p.proxy.ServeHTTP(w, r.WithContext(ctx))
	return target.Name, nil
}

// SplitPath takes the escaped request path and returns the cluster and the
// Kubernetes path, refusing anything that could leave the cluster's API: encoded
// slashes or backslashes, "." and ".." segments in any encoding, empty segments, and
// paths outside the Kubernetes API roots.
func SplitPath(escaped string) (clusterName, rawPath, path string, err error) {
	rest, ok := strings.CutPrefix(escaped, Prefix)
	if !ok {
		return "", "", "", kubegate.Errorf(kubegate.ENotFound, "not a proxy path")
	}
	clusterName, rawPath, _ = strings.Cut(rest, "/")
	if err := cluster.ValidateName(clusterName); err != nil {
		return "", "", "", kubegate.Errorf(kubegate.EInvalid, "invalid proxy path: %s", kubegate.ErrorMessage(err))
	}
	rawPath = "/" + rawPath
	lower := strings.ToLower(rawPath)
	if strings.Contains(lower, "%2f") || strings.Contains(lower, "%5c") || strings.Contains(rawPath, "\\") {
		return "", "", "", kubegate.Errorf(kubegate.EInvalid, "invalid proxy path: encoded slashes and backslashes are not allowed")
	}
	path, err = url.PathUnescape(rawPath)
	if err != nil {
		return "", "", "", kubegate.Errorf(kubegate.EInvalid, "invalid proxy path: %v", err)
	}
	segments := strings.Split(path[1:], "/")
	for i, s := range segments {
		switch {
		case s == "." || s == "..":
			return "", "", "", kubegate.Errorf(kubegate.EInvalid, "invalid proxy path: %q segments are not allowed", s)
		case s == "" && i != len(segments)-1:
			return "", "", "", kubegate.Errorf(kubegate.EInvalid, "invalid proxy path: empty segments are not allowed")
		case strings.ContainsAny(s, "\x00\r\n"):
			return "", "", "", kubegate.Errorf(kubegate.EInvalid, "invalid proxy path: control characters are not allowed")
		}
	}
	if !allowedRoots[segments[0]] {
		return "", "", "", kubegate.Errorf(kubegate.ENotFound,
			"the proxy forwards only Kubernetes API paths (/api, /apis, /version, /openapi, /healthz, /readyz, /livez), not %q", path)
	}
	return clusterName, rawPath, path, nil
}

// rewrite points the outgoing request at the cluster and strips every header that
// could carry the client's identity or credentials; the transport sets the
// impersonation headers.
func rewrite(pr *httputil.ProxyRequest) {
	up := pr.In.Context().Value(upstreamKey).(*upstream) //nolint:forcetypeassert // set by serve before the proxy runs.
	out := pr.Out
	out.URL.Scheme = up.target.Server.Scheme
	out.URL.Host = up.target.Server.Host
	out.URL.Path = strings.TrimSuffix(up.target.Server.Path, "/") + up.path
	out.URL.RawPath = ""
	if up.rawPath != up.path {
		out.URL.RawPath = strings.TrimSuffix(up.target.Server.EscapedPath(), "/") + up.rawPath
	}
	out.URL.RawQuery = pr.In.URL.RawQuery
	out.Host = ""
	stripIdentity(out.Header)
}

// stripIdentity removes client credentials and identity claims from h.
func stripIdentity(h http.Header) {
	for name := range h {
		c := http.CanonicalHeaderKey(name)
		if strings.HasPrefix(c, "Impersonate-") || strings.HasPrefix(c, "X-Remote-") {
			delete(h, name)
		}
	}
	for _, name := range []string{"Authorization", "Proxy-Authorization", "Cookie", "X-Csrf-Token"} {
		h.Del(name)
	}
}

// transport sends a request to its cluster as the authenticated caller.
type transport struct{}

func (transport) RoundTrip(req *http.Request) (*http.Response, error) {
	up, _ := req.Context().Value(upstreamKey).(*upstream)
	id := filters.Identity(req.Context())
	if up == nil || id == nil {
		return nil, errors.New("kubeproxy: request without a cluster or an identity") // fail closed
	}
	// Identity is set here, last, after every client header that could claim one
	// is gone: whatever happened before, the cluster sees only the caller.
	stripIdentity(req.Header)
	req.Header.Set("Impersonate-User", id.Name)
	for _, g := range id.Groups {
		req.Header.Add("Impersonate-Group", g)
	}
	rt := up.target.Transport
	if isUpgrade(req) {
		rt = up.target.Upgrade
	}
	return rt.RoundTrip(req)
}

func isUpgrade(r *http.Request) bool {
	for _, v := range r.Header.Values("Connection") {
		for _, tok := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				return true
			}
		}
	}
	return false
}

func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	up, _ := r.Context().Value(upstreamKey).(*upstream)
	name := ""
	if up != nil {
		name = up.target.Name
	}
	if r.Context().Err() != nil {
		return // the client went away
	}
	msg := fmt.Sprintf("error talking to cluster %s: %v", name, err)
	var netErr net.Error
	if errors.As(err, &netErr) {
		msg = fmt.Sprintf("cluster %s is unreachable: %v", name, err)
	}
	filters.Logger(r.Context(), p.logger).Warn("proxy error", "cluster", name, "err", err)
	httperr.Write(w, kubegate.Errorf(kubegate.EUnavailable, "%s", msg))
}

// bufferPool reuses the 32 KiB copy buffers ReverseProxy would otherwise allocate
// for every response.
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }
