// Package sqlite is kubegate's embedded store: one SQLite file (pure Go, no cgo) in
// WAL mode with a busy timeout and foreign keys. Other processes opening the same
// file see each other's changes through Watch.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/kubegate/kubegate/store"
	"github.com/kubegate/kubegate/store/internal/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options configures the store.
type Options = store.Options

// Store is the SQLite-backed kubegate.Store.
type Store = sqlstore.Store

// Open opens (creating if needed) the database file at path and migrates it.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if opts.Sealer == nil {
		return nil, errors.New("sqlite: a sealer for secrets at rest is required")
	}
	if err := ownerOnly(path); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "foreign_keys(1)", "synchronous(NORMAL)"} {
		q.Add("_pragma", p)
	}
	// IMMEDIATE: a transaction takes the write lock when it begins, so read-then-
	// write transactions (the per-user key limit) serialise instead of failing.
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqlite: opening %s: %w", path, err)
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	// BEGIN IMMEDIATE already serialises migrators.
	noLock := func(context.Context, *sql.Tx) error { return nil }
	if err := sqlstore.Migrate(ctx, db, sub, false, noLock); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqlite: migrating %s: %w", path, err)
	}
	return sqlstore.New(db, sqlstore.Dialect{IsUnique: isUnique, Lead: leader{path: path, retry: 200 * time.Millisecond}.lead}, opts), nil
}

// ownerOnly creates the database file readable by its owner alone, or narrows an
// existing one (and its WAL files) to that: it holds password hashes and sealed
// credentials. SQLite gives the WAL and shared-memory files the database's mode.
func ownerOnly(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600) //nolint:gosec // the operator's --data-dir.
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

func code(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}

func isUnique(err error) bool {
	c := code(err)
	return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}
