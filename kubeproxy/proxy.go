// Package kubeproxy forwards /api/v1/cube/proxy/clusters/{cluster}/{kubernetes path}
// (request.ProxyPrefix) to the named cluster as the caller: the gateway's own credentials plus
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
	"strings"
	"sync"
	"time"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/cluster"
	"github.com/kubegate/kubegate/httpapi"
	"github.com/kubegate/kubegate/httperr"
	"github.com/kubegate/kubegate/listcache"
	"github.com/kubegate/kubegate/listquery"
	"github.com/kubegate/kubegate/request"
)

// Targets resolves a cluster name to how to reach it, and lists the clusters.
type Targets interface {
	Member(name string) (*cluster.Member, error)
	List() []kubegate.Cluster
}

// Options configures the proxy.
type Options struct {
	// MaxPageSize bounds pageSize, and what pageSize=0 may return.
	MaxPageSize int
	// Cache answers list queries from memory; nil: every list reads the cluster.
	Cache Cache
	// CacheWait bounds how long a query waits for the cache to be as fresh as the
	// cluster was when the query came (default 250 ms); then the cluster answers.
	CacheWait time.Duration
	// CacheStaleness bounds how long ago a collection's watch must have been
	// heard from (an event or a bookmark) for the cache to answer a list without
	// asking the cluster (default 5 s): the most an answer can miss of what the
	// cluster wrote, gateway writes aside (those are always waited for).
	CacheStaleness time.Duration
	// SharedMarks, with a Cache, shares the marks of carried writes with the
	// other replicas (read-your-writes across them); nil: one replica.
	SharedMarks MarkStore
	// ObserveListQuery, when set, learns where each list query's answer came from.
	ObserveListQuery func(source string)
	// ObserveFreshness, when set, learns the freshness path of each list query
	// the cache could have answered (freshness* constants).
	ObserveFreshness func(path string)
	// ObserveAnswerAge, when set, learns for each default-consistency answer from
	// the cache how long before it the collection's watch last proved the cache
	// caught up: the most the answer can miss of writes around the gateway.
	ObserveAnswerAge func(time.Duration)
}

// Proxy is the proxy handler.
type Proxy struct {
	targets Targets
	logger  *slog.Logger
	opts    Options
	proxy   *httputil.ReverseProxy
	access  *access      // RBAC answers for cached lists
	writes  *writes      // marks of writes carried, with a cache
	shared  *sharedMarks // and the other replicas', with SharedMarks
}

type ctxKey int

const upstreamKey ctxKey = 0

// upstream is where one request goes, decided before the ReverseProxy runs.
type upstream struct {
	target  *cluster.Member
	path    string // decoded
	rawPath string // as the client escaped it
}

// New returns the proxy.
func New(targets Targets, logger *slog.Logger, opts Options) *Proxy {
	if opts.MaxPageSize == 0 {
		opts.MaxPageSize = 5000
	}
	if opts.CacheWait <= 0 {
		opts.CacheWait = listcache.DefaultWait
	}
	if opts.CacheStaleness <= 0 {
		opts.CacheStaleness = listcache.DefaultStaleness
	}
	p := &Proxy{targets: targets, logger: logger, opts: opts, access: newAccess(time.Now)}
	if opts.Cache != nil {
		p.writes = newWrites(time.Now)
		if opts.SharedMarks != nil {
			p.shared = newSharedMarks(opts.SharedMarks, time.Now)
		}
	}
	p.proxy = &httputil.ReverseProxy{
		Rewrite: rewrite,
		ModifyResponse: func(resp *http.Response) error {
			if err := sandboxUpstream(resp); err != nil {
				return err
			}
			return p.recordWrite(resp)
		},
		Transport:    transport{},
		BufferPool:   &bufferPool{},
		ErrorHandler: p.errorHandler,
		ErrorLog:     slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	return p
}

// Engage implements cluster.Part: what the proxy remembers of a cluster's RBAC
// goes with its registration.
func (p *Proxy) Engage(m *cluster.Member) { p.access.reviews.Engage(m) }

// ServeHTTP serves ProxyPrefix + {cluster}/{kubernetes path}, as
// filters.WithRequestInfo classified it.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := p.serve(w, r); err != nil {
		httpapi.WriteError(w, r, err)
	}
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) error {
	sandbox(w.Header())
	if _, err := httpapi.RequireIdentity(w, r); err != nil {
		return err
	}
	for name := range r.Header {
		if cluster.ClaimsImpersonation(name) {
			return kubegate.Errorf(kubegate.EForbidden, "header %s is not allowed: the gateway acts as the authenticated user", name)
		}
	}
	info := request.InfoFrom(r.Context())
	if info.Class != request.ClassProxy {
		return kubegate.Errorf(kubegate.ENotFound, "not a proxy path")
	}
	if info.PathErr != nil {
		return info.PathErr
	}
	if info.ClusterSet != nil {
		return p.serveAcross(w, r, info)
	}
	target, err := p.targets.Member(info.Cluster)
	if err != nil {
		return err
	}

	// List extension parameters on a collection: the gateway filters, sorts and
	// pages. Everything else passes through untouched.
	if query := r.URL.Query(); (info.Verb == "list" || info.Verb == "watch") && r.Method == http.MethodGet && info.IsCollection() && listquery.Present(query) {
		if _, ok := query["selector"]; ok && info.Verb == "watch" {
			return p.serveWatch(w, r, target, info.Path)
		}
		return p.serveKubeCubeList(w, r, target, info)
	}
	ctx := context.WithValue(r.Context(), upstreamKey, &upstream{target: target, path: info.Path, rawPath: info.RawPath})
	p.proxy.ServeHTTP(w, r.WithContext(ctx))
	return nil
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
	cluster.StripIdentity(out.Header)
}

// sandbox marks everything the proxy answers as untrusted content: the proxy
// serves tenants' pages (a Service's or Pod's .../proxy/) on the gateway's
// origin, so a browser must run them in an opaque origin, without the console's
// cookies or storage, and never sniff a type.
func sandbox(h http.Header) {
	h.Set("Content-Security-Policy", "sandbox")
	h.Set("X-Content-Type-Options", "nosniff")
}

// sandboxUpstream drops what a cluster's response could set on the gateway's
// origin (cookies) and its own versions of the sandbox headers, which serve has
// set already.
func sandboxUpstream(resp *http.Response) error {
	for _, name := range []string{"Set-Cookie", "Set-Cookie2", "Content-Security-Policy", "Content-Security-Policy-Report-Only", "X-Content-Type-Options"} {
		resp.Header.Del(name)
	}
	return nil
}

// transport sends a proxied request to its cluster as the authenticated caller,
// through the member's caller round tripper (HTTP/1.1 for connection upgrades).
type transport struct{}

func (transport) RoundTrip(req *http.Request) (*http.Response, error) {
	up, _ := req.Context().Value(upstreamKey).(*upstream)
	if up == nil {
		return nil, errors.New("kubeproxy: request without a cluster") // fail closed
	}
	if request.InfoFrom(req.Context()).Upgrade {
		return up.target.UpgradeCaller().RoundTrip(req) // connection upgrades need HTTP/1.1
	}
	return up.target.Caller().RoundTrip(req)
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
	request.Logger(r.Context(), p.logger).Warn("proxy error", "cluster", name, "err", err)
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
