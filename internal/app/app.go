// Package app wires kubegate together from a Config: storage, services, HTTP server.
// `kubegate serve` and `kubegate demo` both run an App; end-to-end tests too.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/account"
	"github.com/kubegate/kubegate/api"
	"github.com/kubegate/kubegate/internal/config"
	"github.com/kubegate/kubegate/internal/seal"
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
		Store: store, View: account.NewView(store, logger), MaxKeysPerUser: cfg.MaxKeysPerUser, Logger: logger,
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
	handlers := api.New(api.Options{
		Accounts: a.accounts, Tokens: a.tokens,
		TokenTTL: cfg.TokenTTL, MaxTokenTTL: cfg.TokenMaxTTL, SessionTTL: cfg.SessionTTL,
		FailuresPerIP: cfg.FailuresPerIP, FailuresPerKey: cfg.FailuresPerKey,
		SecureCookies: cfg.TLSCertFile != "", Logger: logger,
	})
	a.srv, err = server.New(ctx, server.Options{
		Listen:          cfg.Listen,
		TLSCertFile:     cfg.TLSCertFile,
		TLSKeyFile:      cfg.TLSKeyFile,
		ShutdownTimeout: cfg.ShutdownTimeout,
		Logger:          logger,
		ReadyChecks:     []server.ReadyCheck{{Name: "store", Check: store.Ping}},
		Authenticator:   handlers.Authenticator(),
		TrustedProxies:  cfg.TrustedProxies,
		Routes:          handlers.Register,
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

// URL is the gateway's base URL.
func (a *App) URL() string { return a.srv.URL() }

// Store is the app's store, for the demo and tests.
func (a *App) Store() kubegate.Store { return a.store }

// Run serves until ctx is done, shuts down gracefully, and closes the store.
func (a *App) Run(ctx context.Context) error {
	// The account view and the signing keys follow the store until the end; they
	// are loaded before the first request is served.
	watchCtx, stopWatching := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWatching()
	if err := a.accounts.View().Start(watchCtx); err != nil {
		return errors.Join(fmt.Errorf("loading accounts: %w", err), a.store.Close())
	}
	if err := a.tokens.Start(watchCtx); err != nil {
		return errors.Join(fmt.Errorf("watching signing keys: %w", err), a.store.Close())
	}
	flushed := make(chan struct{})
	go func() {
		a.accounts.RunUsageFlusher(watchCtx, 5*time.Second)
		close(flushed)
	}()

	err := a.srv.Run(ctx)
	stopWatching()
	<-flushed // the last key uses are written before the store closes
	return errors.Join(err, a.store.Close())
}
