package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Migrate applies the versioned migrations in fsys (files named NNNN_name.sql) that
// the database lacks, each in its own transaction with its version recorded.
// lock runs first in every transaction and must serialise migrators, so replicas
// starting at once apply each migration exactly once.
func Migrate(ctx context.Context, db *sql.DB, fsys fs.FS, postgres bool, lock func(context.Context, *sql.Tx) error) error {
	q := (&Store{d: Dialect{Postgres: postgres}}).q
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return err
	}
	type migration struct {
		version int
		name    string
	}
	var ms []migration
	for _, n := range names {
		v, _, ok := strings.Cut(path.Base(n), "_")
		num, err := strconv.Atoi(v)
		if !ok || err != nil {
			return fmt.Errorf("migration %s: name must start with a number and _", n)
		}
		ms = append(ms, migration{num, n})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })

	for _, m := range ms {
		body, err := fs.ReadFile(fsys, m.name)
		if err != nil {
			return err
		}
		err = func() error {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer func() { _ = tx.Rollback() }()
			if err := lock(ctx, tx); err != nil {
				return fmt.Errorf("locking for migrations: %w", err)
			}
			if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)`); err != nil {
				return err
			}
			var n int
			if err := tx.QueryRowContext(ctx, q(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), m.version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return fmt.Errorf("migration %s: %w", m.name, err)
			}
			if _, err := tx.ExecContext(ctx, q(`INSERT INTO schema_migrations (version, name) VALUES (?, ?)`), m.version, m.name); err != nil {
				return err
			}
			return tx.Commit()
		}()
		if err != nil {
			return err
		}
	}
	return nil
}
