package postgres_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/store"
	"github.com/kubegate/kubegate/store/postgres"
	"github.com/kubegate/kubegate/store/seal"
	"github.com/kubegate/kubegate/store/storetest"
)

func dsn() string {
	if d := os.Getenv("KUBEGATE_TEST_POSTGRES_DSN"); d != "" {
		return d
	}
	return "postgres://postgres@127.0.0.1:5432/test"
}

// requirePostgres fails under CI when PostgreSQL is unreachable, and elsewhere
// skips saying why.
func requirePostgres(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn())
	if err == nil {
		_ = conn.Close(ctx)
		return
	}
	msg := "PostgreSQL at " + dsn() + " (KUBEGATE_TEST_POSTGRES_DSN) is unreachable: " + err.Error()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg + "; skipping the PostgreSQL suite")
}

// newSchema returns a schema name of this test's own, dropped after the test.
func newSchema(t *testing.T) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "kgtest_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, dsn())
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		_, _ = conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
	})
	return schema
}

func sealer(t testing.TB) *seal.Sealer {
	s, err := seal.New(bytes.Repeat([]byte{42}, 32), nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func open(t *testing.T, schema string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), dsn(), postgres.Options{Schema: schema, Options: store.Options{Sealer: sealer(t)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	requirePostgres(t)
	storetest.Run(t, func(t *testing.T) func(*testing.T) kubegate.Store {
		schema := newSchema(t)
		return func(t *testing.T) kubegate.Store { return open(t, schema) }
	})
}

// Replicas starting at once on an empty database migrate it exactly once.
func TestConcurrentStartMigratesOnce(t *testing.T) {
	requirePostgres(t)
	schema := newSchema(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := postgres.Open(context.Background(), dsn(), postgres.Options{Schema: schema, Options: store.Options{Sealer: sealer(t)}})
			if err != nil {
				errs <- err
				return
			}
			_ = s.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent start: %v", err)
	}
	s := open(t, schema)
	var n int
	// Each embedded migration recorded exactly once.
	files, _ := filepath.Glob("migrations/*.sql")
	if err := s.DB().QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil || n != len(files) || n < 3 {
		t.Fatalf("migrations recorded = %d of %d files, %v", n, len(files), err)
	}
}

// The rows of clusters and signing keys hold no plaintext secret.
func TestSecretsAreEncryptedAtRest(t *testing.T) {
	requirePostgres(t)
	s := open(t, newSchema(t))
	ctx := context.Background()
	const token = "pg-cluster-token-c0ffee-5ecret"
	const signing = "pg-signing-private-key-feedface"
	if err := s.CreateCluster(ctx, kubegate.Cluster{Name: "prod", Server: "https://prod", CreatedAt: storetest.Now(), UpdatedAt: storetest.Now(),
		Credentials: kubegate.ClusterCredentials{BearerToken: token, Password: "pw-8badf00d"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSigningKey(ctx, kubegate.SigningKey{KID: "k1", Algorithm: "ES256", PrivateKey: []byte(signing), CreatedAt: storetest.Now()}); err != nil {
		t.Fatal(err)
	}
	var dump strings.Builder
	for _, table := range []string{"clusters", "signing_keys", "changes"} {
		rows, err := s.DB().QueryContext(ctx, `SELECT t::text FROM `+table+` t`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var row string
			if err := rows.Scan(&row); err != nil {
				t.Fatal(err)
			}
			dump.WriteString(row + "\n")
		}
		rows.Close()
	}
	if !strings.Contains(dump.String(), "prod") {
		t.Fatalf("dump lacks the cluster row:\n%s", dump.String())
	}
	// BYTEA renders as hex in text form; look for both spellings.
	for _, secret := range []string{token, signing, "pw-8badf00d"} {
		if strings.Contains(dump.String(), secret) || strings.Contains(dump.String(), hex.EncodeToString([]byte(secret))) {
			t.Fatalf("plaintext %q found in the rows", secret)
		}
	}
}
