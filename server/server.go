// Package server assembles kubegate's HTTP server: the filter chain, the routes and
// the lifecycle (listen, serve, graceful shutdown).
package server

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/filters"
	"github.com/kubegate/kubegate/httpapi"
	"github.com/kubegate/kubegate/httperr"
	"github.com/kubegate/kubegate/metrics"
)

// ReadyCheck is one named condition of /readyz.
type ReadyCheck struct {
	Name  string
	Check func(context.Context) error
}

// Options configures a Server.
type Options struct {
	Listen      string
	TLSCertFile string
	TLSKeyFile  string
	// H2C, without TLS, serves HTTP/2 in cleartext (prior knowledge) too.
	H2C             bool
	ShutdownTimeout time.Duration
	Logger          *slog.Logger
	Now             func() time.Time
	ReadyChecks     []ReadyCheck
	// Authenticator establishes identities; without one every request is anonymous.
	Authenticator filters.Authenticator
	// SecureCookies marks the session cookies the authentication filter renews Secure.
	SecureCookies bool
	// TrustedProxies may set X-Forwarded-For.
	TrustedProxies []netip.Prefix
	// Audit, when set, receives one event per authenticated request.
	Audit filters.AuditSink
	// Limits bound each request's URI and body reading.
	Limits filters.Limits
	// Metrics, when set, counts requests and is served at /metrics: on
	// MetricsListen alone when that is set, and only to requests bearing
	// MetricsToken when that is set.
	Metrics       *metrics.Metrics
	MetricsListen string
	MetricsToken  string
	// KnownCluster says whether a cluster name is registered: only those become
	// metric labels.
	KnownCluster func(name string) bool
	// Routes registers the application's handlers on the mux.
	Routes func(mux *http.ServeMux)
	// Prefixes are served before the mux sees the request, so that ServeMux's path
	// cleaning and redirects never apply to them: a proxy validates its own paths.
	Prefixes []Prefix
}

// Prefix routes every request whose escaped path starts with Path to Handler.
type Prefix struct {
	Path    string
	Handler http.Handler
}

// Server is kubegate's HTTP server.
type Server struct {
	opts     Options
	listener net.Listener
	http     *http.Server
	draining atomic.Bool
	// metricsListener and metricsHTTP serve /metrics apart, with MetricsListen.
	metricsListener net.Listener
	metricsHTTP     *http.Server
}

// New listens on opts.Listen (so the bound address is known before serving, which
// matters for :0) and prepares the handler chain.
func New(ctx context.Context, opts Options) (*Server, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: opts}

	var tlsConfig *tls.Config
	if opts.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(opts.TLSCertFile, opts.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("loading TLS certificate: %w", err)
		}
		// HTTP/2 for clients that offer it (client-go multiplexes an informer's
		// watches over one connection); exec, attach and port-forward clients ask
		// for HTTP/1.1, which upgrades need.
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}}
	}

	lc := net.ListenConfig{}
	ln, err := lc.Listen(ctx, "tcp", opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", opts.Listen, err)
	}
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	} else if ip := ln.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() { //nolint:forcetypeassert // a TCP listener.
		opts.Logger.Warn("serving plain HTTP on a non-loopback address: passwords, secret keys and tokens cross the network in clear; "+
			"set --tls-cert-file/--tls-key-file, or terminate TLS in front of kubegate and set --external-url https://...", "addr", ln.Addr().String())
	}
	s.listener = ln
	if opts.Metrics != nil && opts.MetricsListen != "" {
		mln, err := lc.Listen(ctx, "tcp", opts.MetricsListen)
		if err != nil {
			_ = ln.Close()
			return nil, fmt.Errorf("listening on %s for metrics: %w", opts.MetricsListen, err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", s.metricsHandler())
		s.metricsListener = mln
		s.metricsHTTP = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 16 << 10,
			ErrorLog: slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn)}
	}
	s.http = &http.Server{
		Handler:           s.BuildHandlerChain(s.routes()),
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    64 << 10, // a 431 past it
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		// HTTP/2's own bounds: MaxHeaderBytes above bounds its header lists too;
		// one connection carries at most 250 requests at once (a client-go
		// program's informers and calls), each frame at most 1 MiB; a
		// connection that stops answering pings is closed.
		HTTP2: &http.HTTP2Config{MaxConcurrentStreams: 250, MaxReadFrameSize: 1 << 20, SendPingTimeout: 30 * time.Second, PingTimeout: 15 * time.Second},
	}
	if opts.H2C && tlsConfig == nil {
		// Behind a proxy that terminates TLS and speaks h2c: the same HTTP/2
		// bounds as over TLS; HTTP/1.1 stays, for upgrades and plain clients.
		s.http.Protocols = new(http.Protocols)
		s.http.Protocols.SetHTTP1(true)
		s.http.Protocols.SetUnencryptedHTTP2(true)
	}
	if opts.Metrics != nil {
		s.http.ConnState = func(_ net.Conn, state http.ConnState) { opts.Metrics.ObserveConnection(state) }
	}
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.listener.Addr() }

// URL is the base URL of the server, with 127.0.0.1 for an unspecified host.
func (s *Server) URL() string {
	scheme := "http"
	if s.opts.TLSCertFile != "" {
		scheme = "https"
	}
	host, port, _ := net.SplitHostPort(s.Addr().String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// BuildHandlerChain wraps the application handler in every filter. It is the one
// place the chain is assembled; wrapping goes inside out, so a request meets the
// filters bottom-up: request ID, request classification, request limits, access
// log, metrics, panic recovery, client IP, authentication, audit, credential
// scope, the bound on a user's long-running requests.
func (s *Server) BuildHandlerChain(h http.Handler) http.Handler {
	h = filters.WithLongRunningLimit(h, s.opts.Limits.MaxLongRunningPerUser)
	h = filters.WithScope(h)
	if s.opts.Audit != nil {
		h = filters.WithAudit(h, s.opts.Audit, s.opts.Now)
	}
	if s.opts.Authenticator != nil {
		h = filters.WithAuthentication(h, s.opts.Authenticator, s.opts.SecureCookies)
	}
	h = filters.WithClientIP(h, s.opts.TrustedProxies)
	h = filters.WithPanicRecovery(h, s.opts.Logger)
	if s.opts.Metrics != nil {
		h = filters.WithMetrics(h, s.opts.Metrics, s.opts.Now, s.opts.KnownCluster)
	}
	h = filters.WithLogging(h, s.opts.Logger, s.opts.Now)
	h = filters.WithRequestLimits(h, s.opts.Limits)
	h = filters.WithRequestInfo(h)
	h = filters.WithRequestID(h)
	return h
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/healthz", httpapi.Methods{http.MethodGet: http.HandlerFunc(s.healthz)})
	mux.Handle("/livez", httpapi.Methods{http.MethodGet: http.HandlerFunc(s.healthz)})
	mux.Handle("/readyz", httpapi.Methods{http.MethodGet: http.HandlerFunc(s.readyz)})
	if s.opts.Metrics != nil && s.opts.MetricsListen == "" {
		mux.Handle("/metrics", s.metricsHandler())
	}
	if s.opts.Routes != nil {
		s.opts.Routes(mux)
	}
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httperr.Write(w, kubegate.Errorf(kubegate.ENotFound, "the server could not find the requested resource %q", r.URL.Path))
	}))
	if len(s.opts.Prefixes) == 0 {
		return mux
	}
	prefixes := s.opts.Prefixes
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.EscapedPath()
		for _, pre := range prefixes {
			if strings.HasPrefix(p, pre.Path) {
				pre.Handler.ServeHTTP(w, r)
				return
			}
		}
		mux.ServeHTTP(w, r)
	})
}

// metricsHandler serves the metrics, to holders of MetricsToken when it is set.
func (s *Server) metricsHandler() http.Handler {
	h := s.opts.Metrics.Handler()
	if s.opts.MetricsToken != "" {
		want := []byte("Bearer " + s.opts.MetricsToken)
		next := h
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="kubegate-metrics"`)
				httperr.Write(w, kubegate.Errorf(kubegate.EUnauthorized, "/metrics needs the metrics bearer token (--metrics-token-file)"))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	return httpapi.Methods{http.MethodGet: h}
}

// MetricsURL is the base URL /metrics is served under apart, or "".
func (s *Server) MetricsURL() string {
	if s.metricsListener == nil {
		return ""
	}
	return "http://" + s.metricsListener.Addr().String()
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeText(w, http.StatusOK, "ok")
}

// readyz reports whether this replica should get traffic: every check must pass,
// and a replica that is shutting down reports not ready so load balancers drain it.
// With ?verbose it lists each check, as the Kubernetes apiserver does.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	type result struct {
		name string
		err  error
	}
	results := []result{}
	if s.draining.Load() {
		results = append(results, result{"shutdown", errors.New("shutting down")})
	}
	checks := append([]ReadyCheck(nil), s.opts.ReadyChecks...)
	sort.Slice(checks, func(i, j int) bool { return checks[i].Name < checks[j].Name })
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	for _, c := range checks {
		results = append(results, result{c.Name, c.Check(ctx)})
	}
	var b strings.Builder
	failed := false
	for _, res := range results {
		if res.err != nil {
			failed = true
			fmt.Fprintf(&b, "[-]%s failed: %v\n", res.name, res.err)
		} else {
			fmt.Fprintf(&b, "[+]%s ok\n", res.name)
		}
	}
	if failed {
		s.opts.Logger.Warn("readyz check failed", "checks", b.String())
		writeText(w, http.StatusServiceUnavailable, b.String()+"readyz check failed")
		return
	}
	if _, verbose := r.URL.Query()["verbose"]; verbose {
		writeText(w, http.StatusOK, b.String()+"readyz check passed")
		return
	}
	writeText(w, http.StatusOK, "ok")
}

func writeText(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body))
}

// Run serves until ctx is done, then shuts down gracefully: it stops accepting,
// reports not ready, and lets in-flight requests finish within ShutdownTimeout.
// It returns nil after a clean shutdown.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(s.listener) }()
	s.opts.Logger.Info("serving", "url", s.URL(), "addr", s.Addr().String())
	if s.metricsHTTP != nil {
		go func() { _ = s.metricsHTTP.Serve(s.metricsListener) }()
		defer func() { _ = s.metricsHTTP.Close() }()
		s.opts.Logger.Info("serving metrics", "url", s.MetricsURL()+"/metrics")
	}

	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	s.draining.Store(true)
	s.opts.Logger.Info("shutting down; waiting for in-flight requests", "timeout", s.opts.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.ShutdownTimeout)
	defer cancel()
	if err := s.http.Shutdown(sctx); err != nil {
		_ = s.http.Close()
		return fmt.Errorf("graceful shutdown did not finish within %s: %w", s.opts.ShutdownTimeout, err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving: %w", err)
	}
	s.opts.Logger.Info("stopped")
	return nil
}
