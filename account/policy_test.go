package account_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/account"
	"github.com/kubegate/kubegate/store/sqlite/sqlitetest"
)

// The flags' policy holds until an administrator sets one; the one set binds new
// keys and tokens at once, on this replica and, through the change it announces,
// on every other; a replica starting later reads it instead of its flags.
func TestCredentialPolicyFromFlagsThenAdministrators(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)
	path := t.TempDir() + "/kubegate.db"
	open := func() *account.Service {
		s, err := account.New(account.Options{
			Store: sqlitetest.OpenAt(t, path), Now: func() time.Time { return now }, MaxKeysPerUser: 10, MaxPersonalTokensPerUser: 10,
			Password: account.PasswordParams{MemoryKiB: 64, Time: 1, Threads: 1}, PersonalTokenMaxTTL: 365 * 24 * time.Hour,
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Load(ctx); err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b := open(), open()
	u, err := a.CreateUser(ctx, account.NewUser{Name: "dev", Password: "dev-password"})
	if err != nil {
		t.Fatal(err)
	}
	b.Apply(ctx, kubegate.Change{Kind: kubegate.ChangeUser, Key: u.ID})
	if _, _, err := a.CreateKey(ctx, u.ID, account.NewKey{}); err != nil {
		t.Fatalf("no policy: a key that never expires: %v", err)
	}

	p := kubegate.CredentialPolicy{KeyMaxLifetime: 30 * 24 * time.Hour, TokenMaxLifetime: 90 * 24 * time.Hour}
	if err := a.SetPolicy(ctx, kubegate.CredentialPolicy{KeyMaxLifetime: time.Minute, TokenMaxLifetime: time.Hour}); kubegate.ErrorCode(err) != kubegate.EInvalid {
		t.Fatalf("a one-minute key lifetime: %v, want 400", err)
	}
	if err := a.SetPolicy(ctx, p); err != nil {
		t.Fatal(err)
	}
	b.Apply(ctx, kubegate.Change{Kind: kubegate.ChangeSetting, Key: account.PolicySetting}) // as the store's watch delivers it
	for name, s := range map[string]*account.Service{"the replica that set it": a, "another replica": b, "a replica started later": open()} {
		if got := s.Policy(); got != p {
			t.Errorf("%s: policy %+v, want %+v", name, got, p)
		}
		_, _, err := s.CreateKey(ctx, u.ID, account.NewKey{})
		if kubegate.ErrorCode(err) != kubegate.EInvalid || !strings.Contains(err.Error(), "720h") {
			t.Errorf("%s: a key that never expires: %v, want a 400 naming the limit", name, err)
		}
		_, _, err = s.CreateKey(ctx, u.ID, account.NewKey{ExpiresAt: now.Add(31 * 24 * time.Hour)})
		if kubegate.ErrorCode(err) != kubegate.EInvalid || !strings.Contains(err.Error(), "longest lifetime") {
			t.Errorf("%s: a 31-day key: %v, want a 400 naming the limit", name, err)
		}
		_, _, err = s.CreatePersonalToken(ctx, u.ID, "bot", now.Add(91*24*time.Hour), kubegate.Scope{})
		if kubegate.ErrorCode(err) != kubegate.EInvalid {
			t.Errorf("%s: a 91-day token: %v, want 400", name, err)
		}
	}
	if _, _, err := b.CreateKey(ctx, u.ID, account.NewKey{ExpiresAt: now.Add(29 * 24 * time.Hour)}); err != nil {
		t.Fatalf("a 29-day key: %v", err)
	}
	tok, _, err := b.CreatePersonalToken(ctx, u.ID, "bot", time.Time{}, kubegate.Scope{})
	if err != nil || !tok.ExpiresAt.Equal(now.Add(90*24*time.Hour)) {
		t.Fatalf("a token asked for without expiry lives until %v (%v), want the policy's longest", tok.ExpiresAt, err)
	}
}
