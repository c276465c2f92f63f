package sqlite_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/store/seal"
	"github.com/kubegate/kubegate/store/sqlite"
	"github.com/kubegate/kubegate/store/sqlite/sqlitetest"
	"github.com/kubegate/kubegate/store/storetest"
)

func open(t *testing.T, path string) *sqlite.Store { return sqlitetest.OpenAt(t, path) }

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) func(*testing.T) kubegate.Store {
		path := filepath.Join(t.TempDir(), "kubegate.db")
		return func(t *testing.T) kubegate.Store { return open(t, path) }
	})
}

func TestReopenKeepsDataAndMigratesOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kubegate.db")
	s := open(t, path)
	if err := s.CreateUser(context.Background(), storetest.NewUser("alice")); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	s = open(t, path)
	if _, err := s.GetUserByName(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	var n int
	// Each embedded migration recorded exactly once.
	files, _ := filepath.Glob("migrations/*.sql")
	if err := s.DB().QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil || n != len(files) || n < 3 {
		t.Fatalf("migrations recorded = %d of %d files, %v", n, len(files), err)
	}
}

// No plaintext of a cluster credential or a signing key is anywhere in the database
// files (main file and WAL).
func TestSecretsAreEncryptedAtRest(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kubegate.db")
	s := open(t, path)
	ctx := context.Background()
	const token = "cluster-bearer-token-c0ffee-5ecret"
	const certKey = "-----BEGIN EC PRIVATE KEY-----client-key-d00d"
	const signing = "signing-private-key-bytes-feedface"
	if err := s.CreateCluster(ctx, kubegate.Cluster{Name: "prod", Server: "https://prod", CreatedAt: storetest.Now(), UpdatedAt: storetest.Now(),
		Credentials: kubegate.ClusterCredentials{BearerToken: token, ClientKeyData: []byte(certKey), Password: "pw-8badf00d"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSigningKey(ctx, kubegate.SigningKey{KID: "k1", Algorithm: "ES256", PrivateKey: []byte(signing), CreatedAt: storetest.Now()}); err != nil {
		t.Fatal(err)
	}
	c, err := s.GetCluster(ctx, "prod")
	if err != nil || c.Credentials.BearerToken != token {
		t.Fatalf("credentials do not round-trip: %+v, %v", c.Credentials, err)
	}
	var raw []byte
	for _, suffix := range []string{"", "-wal", "-shm"} {
		b, err := os.ReadFile(path + suffix)
		if err == nil {
			raw = append(raw, b...)
		}
	}
	if len(raw) == 0 {
		t.Fatal("read nothing from the database files")
	}
	for _, secret := range []string{token, "client-key-d00d", signing, "pw-8badf00d"} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Fatalf("plaintext %q found in the database files", secret)
		}
	}
	// Opening with the wrong key fails loudly instead of returning garbage.
	other, _ := seal.New(bytes.Repeat([]byte{1}, 32), nil)
	s2, err := sqlite.Open(ctx, path, sqlite.Options{Sealer: other})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, err := s2.GetCluster(ctx, "prod"); err == nil || !strings.Contains(err.Error(), "encryption-key-file") {
		t.Fatalf("reading with the wrong key: %v", err)
	}
}

const crashHelper = "KUBEGATE_SQLITE_CRASH_HELPER"

// A process creating keys in a loop is killed with SIGKILL. Every key it reported
// as created is present and complete after reopening; nothing is half-written.
func TestCrashLeavesNoHalfWrittenKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kubegate.db")
	s := open(t, path)
	if err := s.CreateUser(context.Background(), storetest.NewUser("crash")); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestCrashHelper$")
	cmd.Env = append(os.Environ(), crashHelper+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	reported := map[string]bool{}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if ak, ok := strings.CutPrefix(sc.Text(), "CREATED "); ok {
			reported[ak] = true
			if len(reported) == 300 {
				break
			}
		}
	}
	// Killed mid-loop, without warning, like a power-cut of the process.
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	if len(reported) < 300 {
		t.Fatalf("helper reported only %d keys", len(reported))
	}

	s = open(t, path)
	var integrity string
	if err := s.DB().QueryRow(`PRAGMA integrity_check`).Scan(&integrity); err != nil || integrity != "ok" {
		t.Fatalf("integrity_check = %q, %v", integrity, err)
	}
	keys, err := s.ListAccessKeys(context.Background(), "id-crash")
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	for _, k := range keys {
		stored[k.AccessKey] = true
		want := storetest.NewKey("id-crash", k.AccessKey)
		if k.ID != want.ID || string(k.SecretHash) != string(want.SecretHash) || k.Description != want.Description || k.Status != kubegate.KeyActive {
			t.Fatalf("half-written key: %+v", k)
		}
	}
	for ak := range reported {
		if !stored[ak] {
			t.Fatalf("key %s was reported created but is missing", ak)
		}
	}
	// Each key was written in one transaction with its change record.
	var changes int
	if err := s.DB().QueryRow(`SELECT COUNT(*) FROM changes WHERE kind = 'accesskey'`).Scan(&changes); err != nil {
		t.Fatal(err)
	}
	if changes != len(keys) {
		t.Fatalf("%d keys but %d change records: a transaction was split", len(keys), changes)
	}
	t.Logf("%d keys reported, %d stored (the rest were in flight)", len(reported), len(keys))
}

// TestCrashHelper is the child process of TestCrashLeavesNoHalfWrittenKeys.
func TestCrashHelper(t *testing.T) {
	path := os.Getenv(crashHelper)
	if path == "" {
		t.Skip("helper process only")
	}
	s, err := sqlite.Open(context.Background(), path, sqlite.Options{Sealer: sqlitetest.Sealer(t)})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		ak := fmt.Sprintf("AKCRASH%06d", i)
		if err := s.CreateAccessKey(context.Background(), storetest.NewKey("id-crash", ak), 0); err != nil {
			t.Fatal(err)
		}
		fmt.Println("CREATED " + ak)
	}
}

// The database and its WAL files are readable by their owner alone, also when an
// older version left them wider.
func TestFilesAreOwnerOnly(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kubegate.db")
	s := open(t, path)
	if err := s.CreateUser(context.Background(), storetest.NewUser("perm")); err != nil {
		t.Fatal(err)
	}
	check := func() {
		t.Helper()
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			st, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Fatalf("%s has mode %v, want 0600", p, st.Mode().Perm())
			}
		}
	}
	check()
	_ = s.Close()
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	open(t, path)
	check()
}
