// Package app wires kubegate together from a Config: storage, services, HTTP server.
// `kubegate serve` and `kubegate demo` both run an App; end-to-end tests too.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/account"
	"github.com/kubegate/kubegate/api"
	"github.com/kubegate/kubegate/api/dce"
	"github.com/kubegate/kubegate/api/kubecube"
	"github.com/kubegate/kubegate/apidocs"
	"github.com/kubegate/kubegate/audit"
	"github.com/kubegate/kubegate/authn"
	"github.com/kubegate/kubegate/cluster"
	"github.com/kubegate/kubegate/console"
	"github.com/kubegate/kubegate/filters"
	"github.com/kubegate/kubegate/grants"
	"github.com/kubegate/kubegate/httpapi"
	"github.com/kubegate/kubegate/internal/config"
	"github.com/kubegate/kubegate/kubeproxy"
	"github.com/kubegate/kubegate/listcache"
	"github.com/kubegate/kubegate/metrics"
	"github.com/kubegate/kubegate/ratelimit"
	"github.com/kubegate/kubegate/request"
	"github.com/kubegate/kubegate/server"
	"github.com/kubegate/kubegate/store"
	"github.com/kubegate/kubegate/store/postgres"
	"github.com/kubegate/kubegate/store/seal"
	"github.com/kubegate/kubegate/store/sqlite"
	"github.com/kubegate/kubegate/token"
)

// App is a configured gateway, listening but not yet serving.
type App struct {
	cfg      *config.Config
	logger   *slog.Logger
	store    kubegate.Store
	accounts *account.Service
	tokens   *token.Service
	clusters *cluster.Registry
	audit    *audit.Recorder
	cache    *listcache.Cache // nil without --list-cache
	grants   *grants.Service
	// reconciler keeps the grants' bindings in the clusters while this replica
	// leads.
	reconciler *grants.Reconciler
	srv        *server.Server
	// adminPassword is the bootstrap admin's password when it was generated now.
	adminPassword string
}

// New prepares the gateway: it opens the store and binds the listener, so URL is
// known before Run. On error everything opened is closed again.
func New(ctx context.Context, cfg *config.Config, logger *slog.Logger) (a *App, err error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating --data-dir: %w", err)
	}
	store, err := openStore(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = store.Close()
		}
	}()
	a = &App{cfg: cfg, logger: logger, store: store}
	a.accounts, err = account.New(account.Options{
		Store: store, MaxKeysPerUser: cfg.MaxKeysPerUser, Logger: logger,
		MaxPersonalTokensPerUser: cfg.MaxPersonalTokensPerUser, PersonalTokenMaxTTL: cfg.PersonalTokenMaxTTL,
		MaxKeyLifetime: cfg.KeyMaxLifetime, RequireKeyExpiry: cfg.KeyExpiryRequired,
	})
	if err != nil {
		return nil, err
	}
	var hmacSecret []byte
	if cfg.TokenHMACSecretFile != "" {
		if hmacSecret, err = os.ReadFile(cfg.TokenHMACSecretFile); err != nil {
			return nil, fmt.Errorf("--token-hmac-secret-file: %w", err)
		}
	}
	a.tokens, err = token.New(ctx, token.Options{
		Store: store, Algorithm: cfg.TokenSigningAlg, HMACSecret: hmacSecret, Issuer: cfg.Issuer, Audience: cfg.Audience,
		DefaultTTL: cfg.TokenTTL, MaxTTL: cfg.TokenMaxTTL, Logger: logger,
	})
	if err != nil {
		return nil, fmt.Errorf("token signing keys: %w", err)
	}
	if a.adminPassword, err = a.accounts.Bootstrap(ctx, cfg.BootstrapAdminPassword); err != nil {
		return nil, fmt.Errorf("creating the bootstrap admin: %w", err)
	}
	a.clusters = cluster.New(cluster.Options{
		Store: store, DialTimeout: cfg.ClusterDialTimeout, HealthInterval: cfg.ClusterHealthInterval, Logger: logger,
	})
	var externalCA []byte
	if cfg.ExternalCAFile != "" {
		if externalCA, err = os.ReadFile(cfg.ExternalCAFile); err != nil {
			return nil, fmt.Errorf("--external-ca-file: %w", err)
		}
	}
	authenticator := authn.New(authn.Options{
		Tokens: a.tokens, Accounts: a.accounts, SessionTTL: cfg.SessionTTL, SessionIdle: cfg.SessionIdleTimeout,
		Guard: ratelimit.NewGuard(cfg.FailuresPerIP, cfg.FailuresPerKey, nil),
	})
	m := metrics.New()
	popts := kubeproxy.Options{MaxPageSize: cfg.MaxPageSize, CacheWait: cfg.CacheWait, CacheStaleness: cfg.CacheStaleness}
	if cfg.ListCache {
		a.cache = listcache.NewCache(listcache.CacheOptions{
			Members: a.clusters, ObserveList: m.ObserveCacheList, IdleTimeout: cfg.CacheIdleTimeout, MemoryLimit: int64(cfg.CacheMemoryLimit), MaxCollections: cfg.CacheMaxCollections, Logger: logger,
			Collection: listcache.Options{Heartbeat: true}, // a bookmark every ~3 s proves a quiet collection's watch healthy
		})
		a.clusters.Engage(a.cache) // a cluster registered again or removed drops its collections, and only its
		popts.Cache, popts.ObserveListQuery, popts.ObserveFreshness = a.cache, m.ObserveListQuery, m.ObserveFreshness
		if cfg.Store == "postgres" {
			popts.SharedMarks = store // replicas share one database: a write through one is waited for on the others
		}
		popts.ObserveAnswerAge = m.ObserveAnswerAge
		m.WatchListCache(a.cache.Stats)
		m.WatchListCacheHealth(func() []metrics.Watch {
			health := a.cache.Health(cfg.CacheStaleness)
			out := make([]metrics.Watch, len(health))
			for i, h := range health {
				out[i] = metrics.Watch{Cluster: h.Cluster, Collection: h.Path, Healthy: h.Healthy, Heard: h.Heard}
			}
			return out
		}, func() []metrics.Refused {
			refusals := a.cache.Refusals()
			out := make([]metrics.Refused, len(refusals))
			for i, r := range refusals {
				out[i] = metrics.Refused{Cluster: r.Cluster, Collection: r.Path}
			}
			return out
		}, time.Now)
	}
	listCacheStatus := func(cluster string) kubegate.ListCacheStatus {
		if a.cache == nil {
			return kubegate.ListCacheStatus{}
		}
		return a.cache.Status(cluster, cfg.CacheStaleness)
	}
	proxy := kubeproxy.New(a.clusters, logger, popts)
	a.clusters.Engage(proxy)
	a.grants = grants.New(grants.Options{Store: store, Users: a.accounts, Roles: cfg.GrantableRoles, Logger: logger})
	a.reconciler = grants.NewReconciler(grants.ReconcilerOptions{Store: store, Users: a.accounts, Logger: logger})
	a.clusters.Engage(a.reconciler)
	access := grants.NewAccess(grants.AccessOptions{Members: a.clusters, Groups: a.accounts, Grants: a.reconciler.Grants})
	docs, err := apidocs.Handler()
	if err != nil {
		return nil, err
	}
	a.audit = audit.New(store, logger, 0)
	// Secure when clients reach the gateway over HTTPS, TLS terminated here or in front.
	secureCookies := cfg.TLSCertFile != "" || strings.HasPrefix(cfg.ExternalURL, "https://")
	ui, err := console.New(console.Options{
		Keys: a.accounts, Clusters: a.clusters, Users: a.accounts, Teams: a.accounts, Grants: a.grants, Access: access, Accounts: a.accounts, Search: proxy, Audit: store, ListCache: listCacheStatus, PersonalTokens: a.accounts, MaxTokensPerUser: cfg.MaxPersonalTokensPerUser, MaxKeysPerUser: cfg.MaxKeysPerUser, ExternalURL: cfg.ExternalURL, SecureCookies: secureCookies,
	})
	if err != nil {
		return nil, err
	}
	var metricsToken []byte
	if cfg.MetricsTokenFile != "" {
		if metricsToken, err = os.ReadFile(cfg.MetricsTokenFile); err != nil {
			return nil, fmt.Errorf("--metrics-token-file: %w", err)
		}
	}
	a.srv, err = server.New(ctx, server.Options{
		Audit:           a.audit,
		Metrics:         m,
		MetricsListen:   cfg.MetricsListen,
		MetricsToken:    strings.TrimSpace(string(metricsToken)),
		Limits:          filters.Limits{MaxURIBytes: 16 << 10, BodyTimeout: 5 * time.Minute, MaxLongRunningPerUser: cfg.MaxWatchesPerUser},
		KnownCluster:    a.clusters.Has,
		Listen:          cfg.Listen,
		TLSCertFile:     cfg.TLSCertFile,
		TLSKeyFile:      cfg.TLSKeyFile,
		H2C:             cfg.H2C,
		ShutdownTimeout: cfg.ShutdownTimeout,
		Logger:          logger,
		ReadyChecks:     []server.ReadyCheck{{Name: "store", Check: store.Ping}},
		Authenticator:   authenticator,
		SecureCookies:   secureCookies,
		TrustedProxies:  cfg.TrustedProxies,
		Routes: func(mux *http.ServeMux) {
			api.Register(mux, api.Options{
				Sessions: authenticator, Accounts: a.accounts, Teams: a.accounts, Grants: a.grants, Access: access, Tokens: a.tokens, Clusters: a.clusters, Audit: store, ListCache: listCacheStatus,
				ExternalURL: cfg.ExternalURL, ExternalCAData: externalCA,
				SecureCookies: secureCookies,
			})
			kubecube.Register(mux, kubecube.Options{Exchanger: authenticator, MaxTokenTTL: cfg.TokenMaxTTL, Clusters: a.clusters})
			dce.Register(mux, dce.Options{
				Exchanger: authenticator, MaxTokenTTL: cfg.TokenMaxTTL, Users: a.accounts, Tokens: a.accounts, Clusters: a.clusters,
				Lister: proxy, MaxPageSize: cfg.MaxPageSize,
			})
			mux.Handle(request.DocsPrefix, httpapi.Methods{http.MethodGet: docs})
			ui.Register(mux)
		},
		Prefixes: []server.Prefix{{Path: request.ProxyPrefix, Handler: proxy}},
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// GeneratedAdminPassword is the bootstrap admin's password if this start created
// the admin without KUBEGATE_BOOTSTRAP_ADMIN_PASSWORD; "" otherwise. It is shown
// once, never logged.
func (a *App) GeneratedAdminPassword() string { return a.adminPassword }

func openStore(ctx context.Context, cfg *config.Config, logger *slog.Logger) (kubegate.Store, error) { //nolint:ireturn // the backend is chosen at run time.
	keyFile := cfg.EncryptionKeyFile
	var key []byte
	var err error
	if keyFile != "" {
		key, err = seal.LoadKeyFile(keyFile)
	} else {
		keyFile = filepath.Join(cfg.DataDir, "encryption.key")
		var created bool
		key, created, err = seal.LoadOrCreateKeyFile(keyFile, nil)
		if created {
			logger.Warn("generated an encryption key for secrets at rest; back it up with the database, or set --encryption-key-file", "path", keyFile)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("encryption key: %w", err)
	}
	sealer, err := seal.New(key, nil)
	if err != nil {
		return nil, fmt.Errorf("encryption key %s: %w", keyFile, err)
	}
	opts := store.Options{Sealer: sealer, Logger: logger}
	switch cfg.Store {
	case "postgres":
		return postgres.Open(ctx, cfg.PostgresDSN, postgres.Options{Options: opts})
	case "sqlite":
		path := filepath.Join(cfg.DataDir, "kubegate.db")
		logger.Info("using the embedded SQLite store", "path", path)
		return sqlite.Open(ctx, path, opts)
	default:
		return nil, errors.New("unknown store " + cfg.Store)
	}
}

// registerStartupClusters registers the --cluster flags' clusters and, inside a
// pod, the cluster kubegate runs in as "local".
func (a *App) registerStartupClusters(ctx context.Context) error {
	for _, f := range a.cfg.Clusters {
		c, err := cluster.FromOperatorKubeconfig(f.Name, f.Kubeconfig, "")
		if err != nil {
			return fmt.Errorf("--cluster %s: %s", f.Name, kubegate.ErrorMessage(err))
		}
		if c, err = a.clusters.Upsert(ctx, c); err != nil {
			return fmt.Errorf("--cluster %s: %s", f.Name, kubegate.ErrorMessage(err))
		}
		a.logger.Info("registered cluster", "cluster", c.Name, "server", c.Server, "health", a.clusters.Health(c.Name).Status)
	}
	// Inside a pod, as client-go's in-cluster configuration: the service's address
	// from the environment, the service account's token (re-read as the kubelet
	// rotates it) and CA from its directory.
	tokenFile := filepath.Join(a.cfg.ServiceAccountDir, "token")
	if _, err := os.Stat(tokenFile); a.cfg.InClusterServer != "" && err == nil {
		ca, err := os.ReadFile(filepath.Join(a.cfg.ServiceAccountDir, "ca.crt"))
		if err != nil {
			return fmt.Errorf("in-cluster CA: %w", err)
		}
		c := kubegate.Cluster{
			Name: "local", Server: a.cfg.InClusterServer, CAData: ca, Description: "the cluster kubegate runs in",
			Credentials: kubegate.ClusterCredentials{BearerTokenFile: tokenFile},
		}
		if _, err := a.clusters.Upsert(ctx, c); err != nil {
			return fmt.Errorf("registering the in-cluster config as local: %s", kubegate.ErrorMessage(err))
		}
		a.logger.Info("registered the cluster kubegate runs in", "cluster", "local", "server", c.Server, "health", a.clusters.Health("local").Status)
	}
	return nil
}

// URL is the gateway's base URL.
func (a *App) URL() string { return a.srv.URL() }

// Run serves until ctx is done, shuts down gracefully, and closes the store once
// every goroutine it started has returned.
func (a *App) Run(ctx context.Context) error {
	// The account view, the token state and the cluster registry mirror the store
	// and follow its changes through one watch (one poller or LISTEN connection per
	// replica), opened before they load so that no change falls in between.
	bg, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBackground()
	changes, err := a.store.Watch(bg)
	if err != nil {
		return errors.Join(fmt.Errorf("watching the store: %w", err), a.store.Close())
	}
	// The reconciler comes after the accounts: it reads the users they mirror.
	mirrors := []kubegate.Mirror{a.accounts, a.tokens, a.clusters, a.reconciler}
	for _, m := range mirrors {
		if err := m.Load(bg); err != nil {
			stopBackground()
			for range changes { //nolint:revive // drain until the watch has stopped
			}
			return errors.Join(fmt.Errorf("loading from the store: %w", err), a.store.Close())
		}
	}
	var g errgroup.Group
	g.Go(func() error {
		for c := range changes { // closed when bg is done
			for _, m := range mirrors {
				m.Apply(bg, c)
			}
		}
		return nil
	})
	g.Go(func() error { a.clusters.RunHealthChecks(bg); return nil })
	g.Go(func() error { a.reconciler.Run(bg); return nil })
	g.Go(func() error { a.accounts.Run(bg, 5*time.Second); return nil })
	g.Go(func() error { a.audit.Run(bg, time.Second); return nil })
	g.Go(func() error { a.audit.RunRetention(bg, a.cfg.AuditRetention, time.Now); return nil })
	if a.cache != nil {
		g.Go(func() error { a.cache.Run(bg); return nil })
	}

	err = a.registerStartupClusters(ctx)
	if err == nil {
		err = a.srv.Run(ctx)
	}
	stopBackground()
	_ = g.Wait() // the last key uses and audit events are written before the store closes
	return errors.Join(err, a.store.Close())
}
