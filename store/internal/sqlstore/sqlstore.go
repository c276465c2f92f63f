// Package sqlstore implements kubegate.Store over database/sql, shared by the SQLite
// and PostgreSQL backends. What differs between them — placeholders, row locks,
// error codes, migrations, how watchers are woken — comes in a Dialect.
package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/store"
)

// Dialect is what a backend tells the shared implementation.
type Dialect struct {
	// Postgres selects $n placeholders and row locks; SQLite serialises writers with
	// BEGIN IMMEDIATE instead.
	Postgres bool
	// IsUnique recognises a uniqueness violation.
	IsUnique func(error) bool
	// AfterChange runs in the transaction that recorded a change (PostgreSQL:
	// pg_notify, delivered at commit).
	AfterChange func(ctx context.Context, tx *sql.Tx) error
	// Wake, when set, signals that another instance recorded changes; watchers then
	// poll at once instead of waiting for PollInterval. It closes the channel once
	// it has stopped, after ctx is done, so the watch can wait for it.
	Wake func(ctx context.Context) <-chan struct{}
	// Lead, when set, takes a leadership every replica sharing the database
	// sees (Store.Lead).
	Lead func(ctx context.Context, name string) (context.Context, func(), error)
}

// Options configures a Store.
type Options = store.Options

// Store is kubegate.Store over a *sql.DB.
type Store struct {
	db   *sql.DB
	d    Dialect
	opts Options
	// closeFns run on Close, after the pool.
	closeOnce sync.Once
	onClose   []func() error
}

var _ kubegate.Store = (*Store)(nil)

// New returns a Store on a migrated database.
func New(db *sql.DB, d Dialect, opts Options, onClose ...func() error) *Store {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = 200 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Store{db: db, d: d, opts: opts, onClose: onClose}
}

// DB exposes the pool to backend tests that inspect raw rows.
func (s *Store) DB() *sql.DB { return s.db }

// Ping implements kubegate.Store.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Close implements kubegate.Store.
func (s *Store) Close() error {
	var errs []error
	s.closeOnce.Do(func() {
		errs = append(errs, s.db.Close())
		for _, f := range s.onClose {
			errs = append(errs, f())
		}
	})
	return errors.Join(errs...)
}

// q rewrites ? placeholders to $n for PostgreSQL. Queries here never contain a
// literal question mark.
func (s *Store) q(query string) string {
	if !s.d.Postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// tx runs fn in a transaction, committing when it returns nil.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// changed records a change notification in the same transaction as the change, so
// a change is announced exactly when it commits.
func (s *Store) changed(ctx context.Context, tx *sql.Tx, kind kubegate.ChangeKind, key string) error {
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO changes (at, kind, key) VALUES (?, ?, ?)`), toDB(s.opts.Now()), string(kind), key); err != nil {
		return fmt.Errorf("recording change: %w", err)
	}
	if s.d.AfterChange != nil {
		return s.d.AfterChange(ctx, tx)
	}
	return nil
}

func (s *Store) classify(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return kubegate.Errorf(kubegate.ENotFound, "%s not found", what)
	case s.d.IsUnique(err):
		return kubegate.Errorf(kubegate.EConflict, "%s already exists", what)
	default:
		return err
	}
}

// Times are stored as Unix microseconds, UTC; 0 is the zero time.
func toDB(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromDB(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

type scanner interface{ Scan(dest ...any) error }

// limitClause renders a Page; Limit 0 means no limit.
func limitClause(p kubegate.Page) (string, error) {
	if p.Limit < 0 || p.Offset < 0 {
		return "", kubegate.Errorf(kubegate.EInvalid, "page limit and offset must not be negative")
	}
	if p.Limit == 0 && p.Offset == 0 {
		return "", nil
	}
	limit := int64(p.Limit)
	if limit == 0 {
		limit = 1 << 62
	}
	return fmt.Sprintf(" LIMIT %d OFFSET %d", limit, p.Offset), nil
}

// ---- users ----

const userColumns = `id, name, email, first_name, last_name, description, password_hash, enabled, admin, source, created_at, updated_at, last_login_at, token_epoch`

func scanUser(r scanner) (kubegate.User, error) {
	var u kubegate.User
	var created, updated, lastLogin int64
	err := r.Scan(&u.ID, &u.Name, &u.Email, &u.FirstName, &u.LastName, &u.Description, &u.PasswordHash,
		&u.Enabled, &u.Admin, &u.Source, &created, &updated, &lastLogin, &u.TokenEpoch)
	u.CreatedAt, u.UpdatedAt, u.LastLoginAt = fromDB(created), fromDB(updated), fromDB(lastLogin)
	return u, err
}

func userArgs(u kubegate.User) []any {
	return []any{u.ID, u.Name, u.Email, u.FirstName, u.LastName, u.Description, u.PasswordHash,
		u.Enabled, u.Admin, u.Source, toDB(u.CreatedAt), toDB(u.UpdatedAt), toDB(u.LastLoginAt), u.TokenEpoch}
}

func validUser(u kubegate.User) error {
	if u.ID == "" || u.Name == "" {
		return kubegate.Errorf(kubegate.EInvalid, "user id and name are required")
	}
	return nil
}

// CreateUser implements kubegate.Store.
func (s *Store) CreateUser(ctx context.Context, u kubegate.User) error {
	if err := validUser(u); err != nil {
		return err
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO users (`+userColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)`), userArgs(u)...)
		if err != nil {
			return s.classify(err, fmt.Sprintf("user %q", u.Name))
		}
		return s.changed(ctx, tx, kubegate.ChangeUser, u.ID)
	})
}

// GetUser implements kubegate.Store.
func (s *Store) GetUser(ctx context.Context, id string) (kubegate.User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, s.q(`SELECT `+userColumns+` FROM users WHERE id = ?`), id))
	return u, s.classify(err, fmt.Sprintf("user with id %q", id))
}

// GetUserByName implements kubegate.Store.
func (s *Store) GetUserByName(ctx context.Context, name string) (kubegate.User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, s.q(`SELECT `+userColumns+` FROM users WHERE name = ?`), name))
	return u, s.classify(err, fmt.Sprintf("user %q", name))
}

// ListUsers implements kubegate.Store.
func (s *Store) ListUsers(ctx context.Context, p kubegate.Page) ([]kubegate.User, int, error) {
	lim, err := limitClause(p)
	if err != nil {
		return nil, 0, err
	}
	var total int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY name`+lim) //nolint:gosec // lim is formatted from integers.
	if err != nil {
		return nil, 0, err
	}
	users, err := collect(rows, scanUser)
	return users, total, err
}

// UpdateUser implements kubegate.Store.
func (s *Store) UpdateUser(ctx context.Context, id string, update func(kubegate.User) (kubegate.User, error)) (kubegate.User, error) {
	var out kubegate.User
	err := s.tx(ctx, func(tx *sql.Tx) error {
		old, err := scanUser(tx.QueryRowContext(ctx, s.q(`SELECT `+userColumns+` FROM users WHERE id = ?`+s.forUpdate()), id))
		if err != nil {
			return s.classify(err, fmt.Sprintf("user with id %q", id))
		}
		u, err := update(old)
		if err != nil {
			return err
		}
		u.ID = old.ID
		if err := validUser(u); err != nil {
			return err
		}
		args := append(userArgs(u)[1:], id)
		_, err = tx.ExecContext(ctx, s.q(`UPDATE users SET name=?, email=?, first_name=?, last_name=?, description=?, password_hash=?, enabled=?, admin=?, source=?, created_at=?, updated_at=?, last_login_at=?, token_epoch=? WHERE id = ?`), args...)
		if err != nil {
			return s.classify(err, fmt.Sprintf("user %q", u.Name))
		}
		out = u
		return s.changed(ctx, tx, kubegate.ChangeUser, id)
	})
	return out, err
}

// DeleteUser implements kubegate.Store.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		// The keys go with the user (ON DELETE CASCADE); each is announced so that
		// token verifiers drop them too.
		rows, err := tx.QueryContext(ctx, s.q(`SELECT access_key FROM access_keys WHERE user_id = ?`), id)
		if err != nil {
			return err
		}
		keys, err := collect(rows, func(r scanner) (string, error) { var k string; return k, r.Scan(&k) })
		if err != nil {
			return err
		}
		if err := s.announceGrants(ctx, tx, "subject_user", id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM users WHERE id = ?`), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return kubegate.Errorf(kubegate.ENotFound, "user with id %q not found", id)
		}
		for _, k := range keys {
			if err := s.changed(ctx, tx, kubegate.ChangeAccessKey, k); err != nil {
				return err
			}
		}
		return s.changed(ctx, tx, kubegate.ChangeUser, id)
	})
}

func (s *Store) forUpdate() string {
	if s.d.Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// skipLocked leaves out rows another transaction holds (PostgreSQL): a prune
// then never waits for, or deadlocks with, a replica merging them.
func (s *Store) skipLocked() string {
	if s.d.Postgres {
		return " FOR UPDATE SKIP LOCKED"
	}
	return ""
}

// collect scans every row with scan and closes rows.
func collect[T any](rows *sql.Rows, scan func(scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// ---- access keys ----

const keyColumns = `id, access_key, secret_hash, user_id, description, status, created_at, expires_at, last_used_at, last_used_ip, last_used_user_agent, kind, name, scope`

func scanKey(r scanner) (kubegate.AccessKey, error) {
	var k kubegate.AccessKey
	var status, kind, scope string
	var created, expires, lastUsed int64
	err := r.Scan(&k.ID, &k.AccessKey, &k.SecretHash, &k.UserID, &k.Description, &status, &created, &expires, &lastUsed, &k.LastUsedIP, &k.LastUsedUserAgent, &kind, &k.Name, &scope)
	k.Status, k.Kind = kubegate.KeyStatus(status), kubegate.KeyKind(kind)
	if err == nil && scope != "" {
		if jerr := json.Unmarshal([]byte(scope), &k.Scope); jerr != nil {
			return k, fmt.Errorf("access key %s: scope: %w", k.AccessKey, jerr)
		}
	}
	k.CreatedAt, k.ExpiresAt, k.LastUsedAt = fromDB(created), fromDB(expires), fromDB(lastUsed)
	return k, err
}

// scopeColumn is a scope as stored: JSON, or "" for none.
func scopeColumn(s kubegate.Scope) (string, error) {
	if s.IsZero() {
		return "", nil
	}
	b, err := json.Marshal(s)
	return string(b), err
}

func validKey(k kubegate.AccessKey) error {
	switch {
	case k.ID == "" || k.AccessKey == "" || k.UserID == "":
		return kubegate.Errorf(kubegate.EInvalid, "access key id, access key and user are required")
	case len(k.SecretHash) == 0:
		return kubegate.Errorf(kubegate.EInvalid, "access key needs a secret hash")
	case k.Status != kubegate.KeyActive && k.Status != kubegate.KeyInactive:
		return kubegate.Errorf(kubegate.EInvalid, "access key status must be Active or Inactive, not %q", k.Status)
	}
	return nil
}

// CreateAccessKey implements kubegate.Store.
func (s *Store) CreateAccessKey(ctx context.Context, k kubegate.AccessKey, maxPerUser int) error {
	if k.Kind == "" {
		k.Kind = kubegate.KindKey
	}
	if err := validKey(k); err != nil {
		return err
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		// Lock the owner's row so concurrent creates for one user serialise on
		// PostgreSQL; SQLite transactions here are IMMEDIATE and serialise anyway.
		var id string
		if err := tx.QueryRowContext(ctx, s.q(`SELECT id FROM users WHERE id = ?`+s.forUpdate()), k.UserID).Scan(&id); err != nil {
			return s.classify(err, fmt.Sprintf("user with id %q", k.UserID))
		}
		if maxPerUser > 0 {
			var n int
			if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM access_keys WHERE user_id = ? AND kind = ?`), k.UserID, string(k.Kind)).Scan(&n); err != nil {
				return err
			}
			if n >= maxPerUser {
				what := "access keys"
				if k.Kind == kubegate.KindPersonalToken {
					what = "personal access tokens"
				}
				return kubegate.Errorf(kubegate.EConflict, "the limit of %d %s per user is reached; delete one first", maxPerUser, what)
			}
		}
		scope, err := scopeColumn(k.Scope)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.q(`INSERT INTO access_keys (`+keyColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)`),
			k.ID, k.AccessKey, k.SecretHash, k.UserID, k.Description, string(k.Status), toDB(k.CreatedAt), toDB(k.ExpiresAt),
			toDB(k.LastUsedAt), k.LastUsedIP, k.LastUsedUserAgent, string(k.Kind), k.Name, scope)
		if err != nil {
			return s.classify(err, "access key")
		}
		return s.changed(ctx, tx, kubegate.ChangeAccessKey, k.AccessKey)
	})
}

// GetAccessKey implements kubegate.Store.
func (s *Store) GetAccessKey(ctx context.Context, accessKey string) (kubegate.AccessKey, error) {
	k, err := scanKey(s.db.QueryRowContext(ctx, s.q(`SELECT `+keyColumns+` FROM access_keys WHERE access_key = ?`), accessKey))
	return k, s.classify(err, fmt.Sprintf("access key %q", accessKey))
}

// ListAccessKeys implements kubegate.Store.
func (s *Store) ListAccessKeys(ctx context.Context, userID string) ([]kubegate.AccessKey, error) {
	query, args := `SELECT `+keyColumns+` FROM access_keys`, []any{}
	if userID != "" {
		query += ` WHERE user_id = ?`
		args = append(args, userID)
	}
	rows, err := s.db.QueryContext(ctx, s.q(query+` ORDER BY created_at, access_key`), args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanKey)
}

// UpdateAccessKey implements kubegate.Store.
func (s *Store) UpdateAccessKey(ctx context.Context, accessKey string, update func(kubegate.AccessKey) (kubegate.AccessKey, error)) (kubegate.AccessKey, error) {
	var out kubegate.AccessKey
	err := s.tx(ctx, func(tx *sql.Tx) error {
		old, err := scanKey(tx.QueryRowContext(ctx, s.q(`SELECT `+keyColumns+` FROM access_keys WHERE access_key = ?`+s.forUpdate()), accessKey))
		if err != nil {
			return s.classify(err, fmt.Sprintf("access key %q", accessKey))
		}
		k, err := update(old)
		if err != nil {
			return err
		}
		// Identity and ownership never change.
		k.ID, k.AccessKey, k.UserID = old.ID, old.AccessKey, old.UserID
		if err := validKey(k); err != nil {
			return err
		}
		scope, err := scopeColumn(k.Scope)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.q(`UPDATE access_keys SET secret_hash=?, description=?, status=?, created_at=?, expires_at=?, last_used_at=?, last_used_ip=?, last_used_user_agent=?, name=?, scope=? WHERE access_key = ?`),
			k.SecretHash, k.Description, string(k.Status), toDB(k.CreatedAt), toDB(k.ExpiresAt), toDB(k.LastUsedAt), k.LastUsedIP, k.LastUsedUserAgent, k.Name, scope, accessKey)
		if err != nil {
			return err
		}
		out = k
		return s.changed(ctx, tx, kubegate.ChangeAccessKey, accessKey)
	})
	return out, err
}

// DeleteAccessKey implements kubegate.Store.
func (s *Store) DeleteAccessKey(ctx context.Context, accessKey string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM access_keys WHERE access_key = ?`), accessKey)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return kubegate.Errorf(kubegate.ENotFound, "access key %q not found", accessKey)
		}
		return s.changed(ctx, tx, kubegate.ChangeAccessKey, accessKey)
	})
}

// RecordKeyUses implements kubegate.Store. Only a newer use overwrites an older
// one, so batches from several replicas may arrive in any order.
func (s *Store) RecordKeyUses(ctx context.Context, uses []kubegate.KeyUse) error {
	if len(uses) == 0 {
		return nil
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, s.q(`UPDATE access_keys SET last_used_at=?, last_used_ip=?, last_used_user_agent=? WHERE access_key = ? AND last_used_at < ?`))
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, u := range uses {
			at := toDB(u.At)
			if _, err := stmt.ExecContext(ctx, at, u.IP, u.UserAgent, u.AccessKey, at); err != nil {
				return err
			}
		}
		return nil
	})
}

// ---- clusters ----

const clusterColumns = `name, server, ca_data, tls_server_name, insecure_skip_tls_verify, credentials, description, labels, created_at, updated_at`

func (s *Store) scanCluster(r scanner) (kubegate.Cluster, error) {
	var c kubegate.Cluster
	var sealed []byte
	var labels string
	var created, updated int64
	if err := r.Scan(&c.Name, &c.Server, &c.CAData, &c.TLSServerName, &c.InsecureSkipTLSVerify, &sealed, &c.Description, &labels,
		&created, &updated); err != nil {
		return c, err
	}
	c.CreatedAt, c.UpdatedAt = fromDB(created), fromDB(updated)
	if labels != "" {
		if err := json.Unmarshal([]byte(labels), &c.Labels); err != nil {
			return c, fmt.Errorf("cluster %s: labels: %w", c.Name, err)
		}
	}
	plain, err := s.opts.Sealer.Open(sealed, "cluster/"+c.Name)
	if err != nil {
		return c, fmt.Errorf("cluster %s: credentials: %w", c.Name, err)
	}
	if len(plain) > 0 {
		if err := json.Unmarshal(plain, &c.Credentials); err != nil {
			return c, fmt.Errorf("cluster %s: credentials: %w", c.Name, err)
		}
	}
	return c, nil
}

func (s *Store) clusterArgs(c kubegate.Cluster) ([]any, error) {
	if c.Name == "" || c.Server == "" {
		return nil, kubegate.Errorf(kubegate.EInvalid, "cluster name and server are required")
	}
	plain, err := json.Marshal(c.Credentials) //nolint:gosec // marshalled only to be sealed on the next line.
	if err != nil {
		return nil, err
	}
	sealed, err := s.opts.Sealer.Seal(plain, "cluster/"+c.Name)
	if err != nil {
		return nil, err
	}
	labels := ""
	if len(c.Labels) > 0 {
		b, err := json.Marshal(c.Labels)
		if err != nil {
			return nil, err
		}
		labels = string(b)
	}
	return []any{c.Name, c.Server, c.CAData, c.TLSServerName, c.InsecureSkipTLSVerify, sealed, c.Description, labels,
		toDB(c.CreatedAt), toDB(c.UpdatedAt)}, nil
}

// CreateCluster implements kubegate.Store.
func (s *Store) CreateCluster(ctx context.Context, c kubegate.Cluster) error {
	args, err := s.clusterArgs(c)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO clusters (`+clusterColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?)`), args...); err != nil {
			return s.classify(err, fmt.Sprintf("cluster %q", c.Name))
		}
		return s.changed(ctx, tx, kubegate.ChangeCluster, c.Name)
	})
}

// GetCluster implements kubegate.Store.
func (s *Store) GetCluster(ctx context.Context, name string) (kubegate.Cluster, error) {
	c, err := s.scanCluster(s.db.QueryRowContext(ctx, s.q(`SELECT `+clusterColumns+` FROM clusters WHERE name = ?`), name))
	return c, s.classify(err, fmt.Sprintf("cluster %q", name))
}

// ListClusters implements kubegate.Store.
func (s *Store) ListClusters(ctx context.Context) ([]kubegate.Cluster, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+clusterColumns+` FROM clusters ORDER BY name`)
	if err != nil {
		return nil, err
	}
	return collect(rows, s.scanCluster)
}

// UpdateCluster implements kubegate.Store.
func (s *Store) UpdateCluster(ctx context.Context, name string, update func(kubegate.Cluster) (kubegate.Cluster, error)) (kubegate.Cluster, error) {
	var out kubegate.Cluster
	err := s.tx(ctx, func(tx *sql.Tx) error {
		old, err := s.scanCluster(tx.QueryRowContext(ctx, s.q(`SELECT `+clusterColumns+` FROM clusters WHERE name = ?`+s.forUpdate()), name))
		if err != nil {
			return s.classify(err, fmt.Sprintf("cluster %q", name))
		}
		c, err := update(old)
		if err != nil {
			return err
		}
		c.Name = old.Name
		args, err := s.clusterArgs(c)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.q(`UPDATE clusters SET server=?, ca_data=?, tls_server_name=?, insecure_skip_tls_verify=?, credentials=?, description=?, labels=?, created_at=?, updated_at=? WHERE name = ?`),
			append(args[1:], name)...)
		if err != nil {
			return err
		}
		out = c
		return s.changed(ctx, tx, kubegate.ChangeCluster, name)
	})
	return out, err
}

// DeleteCluster implements kubegate.Store.
func (s *Store) DeleteCluster(ctx context.Context, name string) error {
	return s.deleteOne(ctx, `DELETE FROM clusters WHERE name = ?`, name, kubegate.ChangeCluster, fmt.Sprintf("cluster %q", name))
}

// deleteOne deletes the row key names and announces the change; before runs
// first in the same transaction (announcing what the delete takes with it).
func (s *Store) deleteOne(ctx context.Context, query, key string, kind kubegate.ChangeKind, what string, before ...func(*sql.Tx) error) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		for _, b := range before {
			if err := b(tx); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, s.q(query), key)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return kubegate.Errorf(kubegate.ENotFound, "%s not found", what)
		}
		return s.changed(ctx, tx, kind, key)
	})
}

// ---- signing keys ----

const signingColumns = `kid, algorithm, private_key, created_at, retired_at`

func (s *Store) scanSigningKey(r scanner) (kubegate.SigningKey, error) {
	var k kubegate.SigningKey
	var sealed []byte
	var created, retired int64
	if err := r.Scan(&k.KID, &k.Algorithm, &sealed, &created, &retired); err != nil {
		return k, err
	}
	k.CreatedAt, k.RetiredAt = fromDB(created), fromDB(retired)
	var err error
	k.PrivateKey, err = s.opts.Sealer.Open(sealed, "signingkey/"+k.KID)
	if err != nil {
		return k, fmt.Errorf("signing key %s: %w", k.KID, err)
	}
	return k, nil
}

// CreateSigningKey implements kubegate.Store.
func (s *Store) CreateSigningKey(ctx context.Context, k kubegate.SigningKey) error {
	if k.KID == "" || k.Algorithm == "" || len(k.PrivateKey) == 0 {
		return kubegate.Errorf(kubegate.EInvalid, "signing key kid, algorithm and key are required")
	}
	sealed, err := s.opts.Sealer.Seal(k.PrivateKey, "signingkey/"+k.KID)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO signing_keys (`+signingColumns+`) VALUES (?,?,?,?,?)`),
			k.KID, k.Algorithm, sealed, toDB(k.CreatedAt), toDB(k.RetiredAt)); err != nil {
			return s.classify(err, fmt.Sprintf("signing key %q", k.KID))
		}
		return s.changed(ctx, tx, kubegate.ChangeSigningKey, k.KID)
	})
}

// ListSigningKeys implements kubegate.Store.
func (s *Store) ListSigningKeys(ctx context.Context) ([]kubegate.SigningKey, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+signingColumns+` FROM signing_keys ORDER BY created_at DESC, kid`)
	if err != nil {
		return nil, err
	}
	return collect(rows, s.scanSigningKey)
}

// UpdateSigningKey implements kubegate.Store. Only the retirement time changes.
func (s *Store) UpdateSigningKey(ctx context.Context, kid string, update func(kubegate.SigningKey) (kubegate.SigningKey, error)) (kubegate.SigningKey, error) {
	var out kubegate.SigningKey
	err := s.tx(ctx, func(tx *sql.Tx) error {
		old, err := s.scanSigningKey(tx.QueryRowContext(ctx, s.q(`SELECT `+signingColumns+` FROM signing_keys WHERE kid = ?`+s.forUpdate()), kid))
		if err != nil {
			return s.classify(err, fmt.Sprintf("signing key %q", kid))
		}
		k, err := update(old)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE signing_keys SET retired_at = ? WHERE kid = ?`), toDB(k.RetiredAt), kid); err != nil {
			return err
		}
		old.RetiredAt = k.RetiredAt
		out = old
		return s.changed(ctx, tx, kubegate.ChangeSigningKey, kid)
	})
	return out, err
}

// DeleteSigningKey implements kubegate.Store.
func (s *Store) DeleteSigningKey(ctx context.Context, kid string) error {
	return s.deleteOne(ctx, `DELETE FROM signing_keys WHERE kid = ?`, kid, kubegate.ChangeSigningKey, fmt.Sprintf("signing key %q", kid))
}

// ---- revoked tokens ----

// RevokeToken implements kubegate.Store. Revoking twice is not an error; expired
// entries are pruned on the way.
func (s *Store) RevokeToken(ctx context.Context, t kubegate.RevokedToken) error {
	if t.ID == "" || t.ExpiresAt.IsZero() {
		return kubegate.Errorf(kubegate.EInvalid, "a revoked token needs its ID and expiry")
	}
	if t.WholeFamily() && t.IssuedAt.IsZero() {
		return kubegate.Errorf(kubegate.EInvalid, "a family revocation needs the time before which it refuses tokens")
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM revoked_tokens WHERE expires_at < ?`), toDB(s.opts.Now())); err != nil {
			return err
		}
		if t.WholeFamily() {
			return s.revokeFamily(ctx, tx, t)
		}
		res, err := tx.ExecContext(ctx, s.q(`INSERT INTO revoked_tokens (id, family, issued_at, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`),
			t.ID, t.Family, toDB(t.IssuedAt), toDB(t.ExpiresAt))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // already revoked
		}
		return s.changed(ctx, tx, kubegate.ChangeToken, t.ID)
	})
}

// revokeFamily merges t into the family's revocation (the later time, the later
// expiry) and deletes the single revocations it now covers.
func (s *Store) revokeFamily(ctx context.Context, tx *sql.Tx, t kubegate.RevokedToken) error {
	var before, exp int64
	err := tx.QueryRowContext(ctx, s.q(`SELECT issued_at, expires_at FROM revoked_tokens WHERE id = ?`), t.ID).Scan(&before, &exp)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return err
	default:
		t.IssuedAt = later(t.IssuedAt, fromDB(before))
		t.ExpiresAt = later(t.ExpiresAt, fromDB(exp))
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO revoked_tokens (id, family, issued_at, expires_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET
			issued_at = CASE WHEN excluded.issued_at > revoked_tokens.issued_at THEN excluded.issued_at ELSE revoked_tokens.issued_at END,
			expires_at = CASE WHEN excluded.expires_at > revoked_tokens.expires_at THEN excluded.expires_at ELSE revoked_tokens.expires_at END`),
		t.ID, t.Family, toDB(t.IssuedAt), toDB(t.ExpiresAt)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM revoked_tokens WHERE family = ? AND id <> ? AND issued_at < ?`),
		t.Family, t.ID, toDB(t.IssuedAt)); err != nil {
		return err
	}
	return s.changed(ctx, tx, kubegate.ChangeToken, t.ID)
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Setting implements kubegate.Store.
func (s *Store) Setting(ctx context.Context, name string) (string, error) {
	var v string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT value FROM settings WHERE name = ?`), name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", kubegate.Errorf(kubegate.ENotFound, "setting %q not found", name)
	}
	return v, err
}

// PutSetting implements kubegate.Store.
func (s *Store) PutSetting(ctx context.Context, name, value string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO settings (name, value, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`), name, value, toDB(s.opts.Now())); err != nil {
			return err
		}
		return s.changed(ctx, tx, kubegate.ChangeSetting, name)
	})
}

// ListRevokedTokens implements kubegate.Store.
func (s *Store) ListRevokedTokens(ctx context.Context, now time.Time) ([]kubegate.RevokedToken, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, family, issued_at, expires_at FROM revoked_tokens WHERE expires_at >= ? ORDER BY id`), toDB(now))
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r scanner) (kubegate.RevokedToken, error) {
		var t kubegate.RevokedToken
		var issued, exp int64
		err := r.Scan(&t.ID, &t.Family, &issued, &exp)
		t.IssuedAt, t.ExpiresAt = fromDB(issued), fromDB(exp)
		return t, err
	})
}

// ---- audit ----

// AppendAudit implements kubegate.Store.
func (s *Store) AppendAudit(ctx context.Context, events []kubegate.AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, s.q(`INSERT INTO audit_events (time, request_id, user_name, user_id, access_key, cluster, verb, path, status_code, latency_us, source_ip, scope) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`))
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, e := range events {
			if _, err := stmt.ExecContext(ctx, toDB(e.Time), e.RequestID, e.User, e.UserID, e.AccessKey, e.Cluster, e.Verb, e.Path, e.StatusCode, e.Latency.Microseconds(), e.SourceIP, e.Scope); err != nil {
				return err
			}
		}
		return nil
	})
}

// PruneAudit implements kubegate.Store.
func (s *Store) PruneAudit(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM audit_events WHERE time < ?`), toDB(before))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// ListAudit implements kubegate.Store.
func (s *Store) ListAudit(ctx context.Context, f kubegate.AuditFilter, p kubegate.Page) ([]kubegate.AuditEvent, int, error) {
	lim, err := limitClause(p)
	if err != nil {
		return nil, 0, err
	}
	var where []string
	var args []any
	if f.User != "" {
		where, args = append(where, "user_name = ?"), append(args, f.User)
	}
	if f.UserID != "" {
		where, args = append(where, "user_id = ?"), append(args, f.UserID)
	}
	if f.AccessKey != "" {
		where, args = append(where, "access_key = ?"), append(args, f.AccessKey)
	}
	if f.Cluster != "" {
		where, args = append(where, "cluster = ?"), append(args, f.Cluster)
	}
	if f.StatusMin != 0 {
		where, args = append(where, "status_code >= ?"), append(args, f.StatusMin)
	}
	if f.StatusMax != 0 {
		where, args = append(where, "status_code <= ?"), append(args, f.StatusMax)
	}
	if !f.Since.IsZero() {
		where, args = append(where, "time >= ?"), append(args, toDB(f.Since))
	}
	if !f.Until.IsZero() {
		where, args = append(where, "time < ?"), append(args, toDB(f.Until))
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	var total int
	if err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM audit_events`+cond), args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, time, request_id, user_name, user_id, access_key, cluster, verb, path, status_code, latency_us, source_ip, scope FROM audit_events`+cond+` ORDER BY time DESC, id DESC`+lim), args...)
	if err != nil {
		return nil, 0, err
	}
	events, err := collect(rows, func(r scanner) (kubegate.AuditEvent, error) {
		var e kubegate.AuditEvent
		var at, latency int64
		err := r.Scan(&e.ID, &at, &e.RequestID, &e.User, &e.UserID, &e.AccessKey, &e.Cluster, &e.Verb, &e.Path, &e.StatusCode, &latency, &e.SourceIP, &e.Scope)
		e.Time, e.Latency = fromDB(at), time.Duration(latency)*time.Microsecond
		return e, err
	})
	return events, total, err
}

// ---- write marks ----

// MergeWriteMarks implements kubegate.Store. Rows are locked in key order, so
// replicas merging the same collections at once wait for each other rather
// than deadlock; the insert that may race another replica's first write to a
// collection does nothing when it loses, and the merge then finds that row.
func (s *Store) MergeWriteMarks(ctx context.Context, marks []kubegate.WriteMark, since time.Time) error {
	if len(marks) == 0 {
		return nil
	}
	marks = slices.Clone(marks)
	slices.SortFunc(marks, func(a, b kubegate.WriteMark) int {
		return cmp.Or(cmp.Compare(a.Cluster, b.Cluster), cmp.Compare(a.Group, b.Group), cmp.Compare(a.Resource, b.Resource))
	})
	return s.tx(ctx, func(tx *sql.Tx) error {
		if s.d.Postgres {
			// Marks live a minute and are rebuilt by the next write: a commit
			// need not wait for the disk to be visible to the other replicas.
			if _, err := tx.ExecContext(ctx, `SET LOCAL synchronous_commit TO OFF`); err != nil {
				return err
			}
		}
		for _, m := range marks {
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO write_marks (cluster, grp, resource, resource_version, gone, strict, at)
				VALUES (?, ?, ?, 0, '[]', 0, 0) ON CONFLICT (cluster, grp, resource) DO NOTHING`), m.Cluster, m.Group, m.Resource); err != nil {
				return fmt.Errorf("write mark: %w", err)
			}
			old, err := scanWriteMark(tx.QueryRowContext(ctx, s.q(`SELECT `+writeMarkColumns+` FROM write_marks
				WHERE cluster = ? AND grp = ? AND resource = ?`+s.forUpdate()), m.Cluster, m.Group, m.Resource))
			if err != nil {
				return fmt.Errorf("write mark: %w", err)
			}
			merged := old.Merge(m, since)
			gone, err := json.Marshal(merged.Gone)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE write_marks SET resource_version = ?, gone = ?, strict = ?, at = ?
				WHERE cluster = ? AND grp = ? AND resource = ?`), dbVersion(merged.ResourceVersion), string(gone), merged.Strict, toDB(merged.At),
				m.Cluster, m.Group, m.Resource); err != nil {
				return fmt.Errorf("write mark: %w", err)
			}
		}
		return nil
	})
}

// dbVersion fits a resource version in a BIGINT: etcd's revisions are int64, so
// a larger one is no version a cluster gave, and waiting for the largest a
// cache can reach just ends in the cluster answering.
func dbVersion(rv uint64) int64 {
	return int64(min(rv, math.MaxInt64))
}

const writeMarkColumns = `cluster, grp, resource, resource_version, gone, strict, at`

func scanWriteMark(r scanner) (kubegate.WriteMark, error) {
	var m kubegate.WriteMark
	var rv, at int64
	var gone string
	if err := r.Scan(&m.Cluster, &m.Group, &m.Resource, &rv, &gone, &m.Strict, &at); err != nil {
		return m, err
	}
	m.ResourceVersion, m.At = uint64(max(rv, 0)), fromDB(at)
	if err := json.Unmarshal([]byte(gone), &m.Gone); err != nil {
		return m, fmt.Errorf("write mark %s/%s/%s: gone: %w", m.Cluster, m.Group, m.Resource, err)
	}
	return m, nil
}

// WriteMarks implements kubegate.Store, in one query for every key.
func (s *Store) WriteMarks(ctx context.Context, keys []kubegate.WriteMark, since time.Time) ([]kubegate.WriteMark, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	var where strings.Builder
	args := []any{toDB(since)}
	for i, k := range keys {
		if i > 0 {
			where.WriteString(" OR ")
		}
		where.WriteString("(cluster = ? AND grp = ? AND resource = ?)")
		args = append(args, k.Cluster, k.Group, k.Resource)
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+writeMarkColumns+` FROM write_marks WHERE at >= ? AND (`+where.String()+`)`), args...)
	if err != nil {
		return nil, fmt.Errorf("write marks: %w", err)
	}
	return collect(rows, scanWriteMark)
}
