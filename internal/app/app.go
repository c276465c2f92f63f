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
	"sync"
	"time"

	"github.com/kubegate/kubegate"
	"k8s.io/client-go/rest"

	"github.com/kubegate/kubegate/account"
	"github.com/kubegate/kubegate/api"
	"github.com/kubegate/kubegate/apidocs"
	"github.com/kubegate/kubegate/audit"
	"github.com/kubegate/kubegate/cluster"
	"github.com/kubegate/kubegate/internal/config"
	"github.com/kubegate/kubegate/internal/seal"
	"github.com/kubegate/kubegate/kubeproxy"
	"github.com/kubegate/kubegate/metrics"
	"github.com/kubegate/kubegate/server"
	"github.com/kubegate/kubegate/store"
	"github.com/kubegate/kubegate/store/postgres"
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
	srv      *server.Server
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
		Store: store, View: account.NewView(store, logger, nil), MaxKeysPerUser: cfg.MaxKeysPerUser, Logger: logger,
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
		MaxTTL: cfg.TokenMaxTTL, Logger: logger,
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
	m := metrics.New()
	proxy := kubeproxy.New(a.clusters, logger, kubeproxy.Options{MaxPageSize: cfg.MaxPageSize, Observe: m.ObserveProxied})
	handlers := api.New(api.Options{
		Store:          store,
		ExternalCAData: externalCA,
		Kpanda:         http.HandlerFunc(proxy.ServeKpanda),
		Accounts:       a.accounts, Tokens: a.tokens, Clusters: a.clusters, ExternalURL: cfg.ExternalURL,
		TokenTTL: cfg.TokenTTL, MaxTokenTTL: cfg.TokenMaxTTL, SessionTTL: cfg.SessionTTL,
		FailuresPerIP: cfg.FailuresPerIP, FailuresPerKey: cfg.FailuresPerKey,
		SecureCookies: cfg.TLSCertFile != "", Logger: logger,
	})
	docs, err := apidocs.Handler()
	if err != nil {
		return nil, err
	}
	a.audit = audit.New(store, logger)
	a.srv, err = server.New(ctx, server.Options{
		Audit:           a.audit,
		Metrics:         m,
		Listen:          cfg.Listen,
		TLSCertFile:     cfg.TLSCertFile,
		TLSKeyFile:      cfg.TLSKeyFile,
		ShutdownTimeout: cfg.ShutdownTimeout,
		Logger:          logger,
		ReadyChecks:     []server.ReadyCheck{{Name: "store", Check: store.Ping}},
		Authenticator:   handlers.Authenticator(),
		TrustedProxies:  cfg.TrustedProxies,
		Routes: func(mux *http.ServeMux) {
			handlers.Register(mux)
			mux.Handle("/swagger/", server.Methods{http.MethodGet: docs})
		},
		Prefixes: []server.Prefix{{Path: kubeproxy.Prefix, Handler: proxy}},
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// mirror is an in-memory copy of part of the store, kept fresh by its changes.
type mirror interface {
	Load(ctx context.Context) error
	Handle(ctx context.Context, c kubegate.Change)
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
		data, err := os.ReadFile(f.Kubeconfig)
		if err != nil {
			return fmt.Errorf("--cluster %s: %w", f.Name, err)
		}
		c, err := cluster.FromKubeconfig(f.Name, data, "")
		if err != nil {
			return fmt.Errorf("--cluster %s: %s", f.Name, kubegate.ErrorMessage(err))
		}
		if c, err = a.clusters.Upsert(ctx, c); err != nil {
			return fmt.Errorf("--cluster %s: %w", f.Name, err)
		}
		a.logger.Info("registered cluster", "cluster", c.Name, "server", c.Server, "health", c.Health.Status)
	}
	if in, err := rest.InClusterConfig(); err == nil {
		c := kubegate.Cluster{
			Name: "local", Server: in.Host, CAData: in.CAData, Description: "the cluster kubegate runs in",
			Credentials: kubegate.ClusterCredentials{BearerTokenFile: in.BearerTokenFile},
		}
		if len(c.CAData) == 0 && in.CAFile != "" {
			if c.CAData, err = os.ReadFile(in.CAFile); err != nil {
				return fmt.Errorf("in-cluster CA: %w", err)
			}
		}
		if _, err := a.clusters.Upsert(ctx, c); err != nil {
			return fmt.Errorf("registering the in-cluster config as local: %w", err)
		}
		a.logger.Info("registered the cluster kubegate runs in", "cluster", "local", "server", in.Host)
	}
	return nil
}

// Clusters is the cluster registry, for the demo.
func (a *App) Clusters() *cluster.Registry { return a.clusters }

// URL is the gateway's base URL.
func (a *App) URL() string { return a.srv.URL() }

// Store is the app's store, for the demo and tests.
func (a *App) Store() kubegate.Store { return a.store }

// Run serves until ctx is done, shuts down gracefully, and closes the store.
func (a *App) Run(ctx context.Context) error {
	// The account view, the signing keys and the cluster registry mirror the store
	// and follow its changes through one watch (one poller or LISTEN connection per
	// replica), opened before they load so that no change falls in between.
	watchCtx, stopWatching := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWatching()
	changes, err := a.store.Watch(watchCtx)
	if err != nil {
		return errors.Join(fmt.Errorf("watching the store: %w", err), a.store.Close())
	}
	mirrors := []mirror{a.accounts.View(), a.tokens, a.clusters}
	for _, m := range mirrors {
		if err := m.Load(watchCtx); err != nil {
			return errors.Join(fmt.Errorf("loading from the store: %w", err), a.store.Close())
		}
	}
	go func() {
		for c := range changes {
			for _, m := range mirrors {
				m.Handle(watchCtx, c)
			}
		}
	}()
	go a.clusters.RunHealthChecks(watchCtx)
	if err := a.registerStartupClusters(ctx); err != nil {
		return errors.Join(err, a.store.Close())
	}
	var flushers sync.WaitGroup
	flushers.Add(2)
	go func() {
		defer flushers.Done()
		a.accounts.RunUsageFlusher(watchCtx, 5*time.Second)
	}()
	go func() {
		defer flushers.Done()
		a.audit.Run(watchCtx, time.Second)
	}()

	err = a.srv.Run(ctx)
	stopWatching()
	flushers.Wait() // the last key uses and audit events are written before the store closes
	return errors.Join(err, a.store.Close())
}
