// Package app wires kubegate together from a Config: storage, services, HTTP server.
// `kubegate serve` and `kubegate demo` both run an App; end-to-end tests too.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/kubegate/kubegate/internal/config"
	"github.com/kubegate/kubegate/server"
)

// App is a configured gateway, listening but not yet serving.
type App struct {
	cfg    *config.Config
	logger *slog.Logger
	srv    *server.Server
}

// New prepares the gateway: it creates the data directory and binds the listener,
// so URL is known before Run.
func New(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*App, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating --data-dir: %w", err)
	}
	srv, err := server.New(ctx, server.Options{
		Listen:          cfg.Listen,
		TLSCertFile:     cfg.TLSCertFile,
		TLSKeyFile:      cfg.TLSKeyFile,
		ShutdownTimeout: cfg.ShutdownTimeout,
		Logger:          logger,
	})
	if err != nil {
		return nil, err
	}
	return &App{cfg: cfg, logger: logger, srv: srv}, nil
}

// URL is the gateway's base URL.
func (a *App) URL() string { return a.srv.URL() }

// Run serves until ctx is done and then shuts down gracefully.
func (a *App) Run(ctx context.Context) error {
	return a.srv.Run(ctx)
}
