// Package postgres is kubegate's store for several replicas: PostgreSQL through a
// pgx/v5 pool. Changes reach the other replicas' watchers through LISTEN/NOTIFY,
// with polling as the fallback when a notification is lost.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/kubegate/kubegate/store"
	"github.com/kubegate/kubegate/store/internal/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options configures the store.
type Options struct {
	store.Options
	// Schema, when set, holds kubegate's tables (created if missing); tests use a
	// schema of their own so that runs cannot collide.
	Schema string
}

// Store is the PostgreSQL-backed kubegate.Store.
type Store = sqlstore.Store

// migrationLock is the advisory lock key that serialises migrating replicas.
const migrationLock = 0x6b756265676174 // "kubegat"

// Open connects to dsn, migrates the schema and returns the store.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	if opts.Sealer == nil {
		return nil, errors.New("postgres: a sealer for secrets at rest is required")
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: invalid DSN: %w", err)
	}
	if opts.Schema != "" {
		cfg.ConnConfig.RuntimeParams["search_path"] = opts.Schema
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		cfg.MaxConns += 2 // the LISTEN and a leadership hold one each, beside pgx's default for queries
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connecting: %w", err)
	}
	if opts.Schema != "" {
		if _, err := pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{opts.Schema}.Sanitize()); err != nil && !isUnique(err) {
			pool.Close()
			return nil, fmt.Errorf("postgres: creating schema: %w", err)
		}
	}
	db := stdlib.OpenDBFromPool(pool)
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		pool.Close()
		return nil, err
	}
	lock := func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock))
		return err
	}
	if err := sqlstore.Migrate(ctx, db, sub, true, lock); err != nil {
		_ = db.Close()
		pool.Close()
		return nil, fmt.Errorf("postgres: migrating: %w", err)
	}

	channel := "kubegate_changes"
	if opts.Schema != "" {
		channel += "_" + opts.Schema
	}
	if len(channel) > 63 {
		channel = channel[:63]
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = 2 * time.Second // notifications do the fast path
	}
	d := sqlstore.Dialect{
		Postgres: true,
		IsUnique: isUnique,
		AfterChange: func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `SELECT pg_notify($1, '')`, channel)
			return err
		},
		Wake: func(ctx context.Context) <-chan struct{} { return listen(ctx, pool, channel, opts.Options) },
		Lead: leader{pool: pool, schema: opts.Schema, retry: time.Second, check: 2 * time.Second}.lead,
	}
	return sqlstore.New(db, d, opts.Options, func() error { pool.Close(); return nil }), nil
}

// listen holds a connection in LISTEN and signals the returned channel on every
// notification, reconnecting after failures until ctx is done; it closes the
// channel when it has stopped.
func listen(ctx context.Context, pool *pgxpool.Pool, channel string, opts store.Options) <-chan struct{} {
	wake := make(chan struct{}, 1)
	signal := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	go func() {
		defer close(wake)
		for ctx.Err() == nil {
			err := func() error {
				conn, err := pool.Acquire(ctx)
				if err != nil {
					return err
				}
				defer conn.Release()
				if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
					return err
				}
				// Changes made while we were not listening are found by the poll
				// this signal triggers.
				signal()
				for {
					if _, err := conn.Conn().WaitForNotification(ctx); err != nil {
						// The connection may be mid-protocol: do not reuse it.
						_ = conn.Conn().Close(context.WithoutCancel(ctx))
						return err
					}
					signal()
				}
			}()
			if ctx.Err() != nil {
				return
			}
			if opts.Logger != nil {
				opts.Logger.Warn("listening for store changes failed; retrying", "err", err)
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}()
	return wake
}

func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func isUnique(err error) bool { return sqlState(err) == "23505" }
