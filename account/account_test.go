package account_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/account"
	"github.com/kubegate/kubegate/store/sqlite/sqlitetest"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newService(t *testing.T, c *clock) *account.Service {
	t.Helper()
	st := sqlitetest.Open(t)
	logger := slog.New(slog.DiscardHandler)
	s, err := account.New(account.Options{
		Store: st, Now: c.now, MaxKeysPerUser: 3,
		Password: account.PasswordParams{MemoryKiB: 64, Time: 1, Threads: 1}, // cheap for tests
		Logger:   logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestUserNames(t *testing.T) {
	for _, ok := range []string{"admin", "a", "dev-1", "first.last", "x_y", strings.Repeat("a", 63)} {
		if err := account.ValidateUserName(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "system:admin", "Admin", "-dev", "dev-", "a b", strings.Repeat("a", 64), "ünï", "kubegate:admins"} {
		if err := account.ValidateUserName(bad); kubegate.ErrorCode(err) != kubegate.EInvalid {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestBootstrapAndLogin(t *testing.T) {
	ctx := context.Background()
	s := newService(t, &clock{time.Now()})
	pw, err := s.Bootstrap(ctx, "")
	if err != nil || len(pw) < 16 {
		t.Fatalf("generated password %q, %v", pw, err)
	}
	if again, err := s.Bootstrap(ctx, "other-password"); err != nil || again != "" {
		t.Fatalf("second bootstrap = %q, %v; want nothing to happen", again, err)
	}
	u, err := s.Login(ctx, "admin", pw)
	if err != nil || !u.Admin || u.LastLoginAt.IsZero() {
		t.Fatalf("login = %+v, %v", u, err)
	}
	if strings.Contains(u.PasswordHash, pw) || !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
		t.Fatalf("stored hash %q", u.PasswordHash)
	}
	_, wrongPw := s.Login(ctx, "admin", "nope-nope")
	_, noUser := s.Login(ctx, "ghost", pw)
	if kubegate.ErrorCode(wrongPw) != kubegate.EUnauthorized || wrongPw.Error() != noUser.Error() {
		t.Fatalf("wrong password %v and unknown user %v must be the same 401", wrongPw, noUser)
	}
	// An imported user with no password yet looks like any other failure: the
	// answer must not tell which imported accounts exist.
	if _, err := s.ImportUser(ctx, account.ImportedUser{Name: "imported", Enabled: true, Source: "kubecube"}); err != nil {
		t.Fatal(err)
	}
	if _, noPassword := s.Login(ctx, "imported", "anything-at-all"); noPassword == nil || noPassword.Error() != noUser.Error() {
		t.Fatalf("an imported user without a password: %v, want %v", noPassword, noUser)
	}
}

// userWithKey creates the user name (password name-password) with one key, and
// returns the key and its secret.
func userWithKey(t *testing.T, s *account.Service, name string) (kubegate.AccessKey, string) {
	t.Helper()
	u, err := s.CreateUser(context.Background(), account.NewUser{Name: name, Password: name + "-password"})
	if err != nil {
		t.Fatal(err)
	}
	k, secret, err := s.CreateKey(context.Background(), u.ID, account.NewKey{})
	if err != nil {
		t.Fatal(err)
	}
	return k, secret
}

func TestExchangeAndCheck(t *testing.T) {
	ctx := context.Background()
	c := &clock{time.Now()}
	s := newService(t, c)
	u, err := s.CreateUser(ctx, account.NewUser{Name: "dev", Password: "dev-password"})
	if err != nil {
		t.Fatal(err)
	}
	k, secret, err := s.CreateKey(ctx, u.ID, account.NewKey{Description: "ci", ExpiresAt: c.t.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(k.AccessKey) != 32 || len(secret) != 40 || bytes.Contains(k.SecretHash, []byte(secret)) {
		t.Fatalf("key %q secret %q", k.AccessKey, secret)
	}
	id, err := s.Exchange(ctx, k.AccessKey, secret, account.Client{IP: "10.0.0.1"})
	if err != nil || id.Name != "dev" || id.AccessKey != k.AccessKey || strings.Join(id.Groups, ",") != kubegate.GroupUsers {
		t.Fatalf("exchange = %+v, %v", id, err)
	}
	_, unknown := s.Exchange(ctx, "nope", secret, account.Client{})
	_, wrong := s.Exchange(ctx, k.AccessKey, secret+"x", account.Client{})
	if unknown.Error() != wrong.Error() {
		t.Fatalf("unknown key %v vs wrong secret %v", unknown, wrong)
	}

	// Expiry is enforced by the clock, on exchange and on every check.
	c.t = c.t.Add(2 * time.Hour)
	if _, err := s.Exchange(ctx, k.AccessKey, secret, account.Client{}); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired key exchanged: %v", err)
	}
	if _, err := s.Check(k.AccessKey, u.ID, 0); err == nil {
		t.Fatal("expired key still checks")
	}

	// Inactive, deleted, user disabled: refused at once on this replica.
	k2, secret2, _ := s.CreateKey(ctx, u.ID, account.NewKey{})
	inactive := kubegate.KeyInactive
	if _, err := s.UpdateKey(ctx, u.ID, k2.AccessKey, account.KeyPatch{Status: &inactive}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Check(k2.AccessKey, u.ID, 0); err == nil || !strings.Contains(err.Error(), "inactive") {
		t.Fatalf("inactive key checks: %v", err)
	}
	if _, err := s.UpdateKey(ctx, "someone-else", k2.AccessKey, account.KeyPatch{Status: &inactive}); kubegate.ErrorCode(err) != kubegate.ENotFound {
		t.Fatalf("another user's key: %v, want not found", err)
	}
	if err := s.DeleteKey(ctx, u.ID, k2.AccessKey); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Exchange(ctx, k2.AccessKey, secret2, account.Client{}); kubegate.ErrorCode(err) != kubegate.EUnauthorized {
		t.Fatalf("deleted key exchanged: %v", err)
	}
	k3, _, _ := s.CreateKey(ctx, u.ID, account.NewKey{})
	disabled := false
	if _, err := s.UpdateUser(ctx, kubegate.Identity{UserID: "the-admin"}, "dev", account.UserPatch{Enabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Check(k3.AccessKey, u.ID, 0); err == nil || !strings.Contains(err.Error(), "disabled") {
		t.Fatalf("disabled user's key checks: %v", err)
	}
}

// failingUses fails the next key-use writes.
type failingUses struct {
	kubegate.Store
	failures atomic.Int32
}

func (f *failingUses) RecordKeyUses(ctx context.Context, uses []kubegate.KeyUse) error {
	if f.failures.Add(-1) >= 0 {
		return errors.New("database is down")
	}
	return f.Store.RecordKeyUses(ctx, uses)
}

// A failed write of key uses is retried on the next flush, not dropped.
func TestKeyUsesSurviveAFailedWrite(t *testing.T) {
	ctx := context.Background()
	st := &failingUses{Store: sqlitetest.Open(t)}
	s, err := account.New(account.Options{Store: st, Password: account.PasswordParams{MemoryKiB: 64, Time: 1, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	k, secret := userWithKey(t, s, "dev")
	if _, err := s.Exchange(ctx, k.AccessKey, secret, account.Client{IP: "10.0.0.7", UserAgent: "ci"}); err != nil {
		t.Fatal(err)
	}
	done, cancel := context.WithCancel(ctx)
	cancel() // Run flushes once and returns
	st.failures.Store(1)
	s.Run(done, time.Hour)
	if got, _ := st.GetAccessKey(ctx, k.AccessKey); !got.LastUsedAt.IsZero() {
		t.Fatalf("a failed write recorded the use: %+v", got)
	}
	s.Run(done, time.Hour)
	got, err := st.GetAccessKey(ctx, k.AccessKey)
	if err != nil || got.LastUsedAt.IsZero() || got.LastUsedIP != "10.0.0.7" || got.LastUsedUserAgent != "ci" {
		t.Fatalf("after the retry: %+v, %v", got, err)
	}
}

// A key made on one replica exchanges on another at once, before the change
// notification reaches it: a script run right after the key is made in the
// console may land on any replica.
func TestAKeyMadeOnAnotherReplicaExchangesAtOnce(t *testing.T) {
	ctx := context.Background()
	st := sqlitetest.Open(t)
	replica := func() *account.Service {
		s, err := account.New(account.Options{Store: st, Password: account.PasswordParams{MemoryKiB: 64, Time: 1, Threads: 1}})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b := replica(), replica() // b loaded before the user and key exist, and hears of neither
	k, secret := userWithKey(t, a, "fresh")
	if id, err := b.Exchange(ctx, k.AccessKey, secret, account.Client{}); err != nil || id.Name != "fresh" {
		t.Fatalf("exchange on the other replica: %+v, %v", id, err)
	}
	if _, err := b.Exchange(ctx, k.AccessKey, "wrong-secret", account.Client{}); kubegate.ErrorCode(err) != kubegate.EUnauthorized {
		t.Fatalf("a wrong secret on the other replica: %v", err)
	}
	if _, err := b.Exchange(ctx, "AKNOBODYMADE", secret, account.Client{}); kubegate.ErrorCode(err) != kubegate.EUnauthorized {
		t.Fatalf("an unknown key: %v", err)
	}
}

// noticeMidRead is a store on which the key's own change notice reaches the
// replica while it reads the key: the race between the first use of a key on
// another replica and the notice of its creation.
type noticeMidRead struct {
	kubegate.Store
	replica *account.Service
	once    atomic.Bool
}

func (s *noticeMidRead) GetAccessKey(ctx context.Context, accessKey string) (kubegate.AccessKey, error) {
	k, err := s.Store.GetAccessKey(ctx, accessKey)
	if s.once.CompareAndSwap(false, true) {
		s.replica.Apply(ctx, kubegate.Change{Kind: kubegate.ChangeAccessKey, Key: accessKey})
	}
	return k, err
}

func TestAKeyWhoseNoticeArrivesDuringItsFirstUseExchanges(t *testing.T) {
	ctx := context.Background()
	st := sqlitetest.Open(t)
	a, err := account.New(account.Options{Store: st, Password: account.PasswordParams{MemoryKiB: 64, Time: 1, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	racing := &noticeMidRead{Store: st}
	b, err := account.New(account.Options{Store: racing, Password: account.PasswordParams{MemoryKiB: 64, Time: 1, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	racing.replica = b
	k, secret := userWithKey(t, a, "racer")
	if id, err := b.Exchange(ctx, k.AccessKey, secret, account.Client{}); err != nil || id.Name != "racer" {
		t.Fatalf("exchange while the key's notice lands: %+v, %v", id, err)
	}
}
