package authn_test

import (
	"context"
	"testing"
	"time"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/account"
	"github.com/kubegate/kubegate/authn"
	"github.com/kubegate/kubegate/ratelimit"
	"github.com/kubegate/kubegate/token"
)

// accounts answers from fixed credentials: password "right", secret "secret".
type accounts struct{ checked int }

func (a *accounts) Check(accessKey, userID string, epoch int64) (kubegate.Identity, error) {
	return kubegate.Identity{UserID: userID, Name: "alice", AccessKey: accessKey}, nil
}

func (a *accounts) Login(_ context.Context, name, password string) (kubegate.User, error) {
	a.checked++
	if password != "right" {
		return kubegate.User{}, kubegate.Errorf(kubegate.EUnauthorized, "invalid user name or password")
	}
	return kubegate.User{ID: "u1", Name: name}, nil
}

func (a *accounts) ChangePassword(_ context.Context, _, oldPassword, _ string) error {
	a.checked++
	if oldPassword != "right" {
		return kubegate.Errorf(kubegate.EForbidden, "the current password is wrong")
	}
	return nil
}

func (a *accounts) Exchange(_ context.Context, accessKey, secret string, _ account.Client) (kubegate.Identity, error) {
	a.checked++
	if secret != "secret" {
		return kubegate.Identity{}, kubegate.Errorf(kubegate.EUnauthorized, "invalid access key or secret key")
	}
	return kubegate.Identity{UserID: "u1", Name: "alice", AccessKey: accessKey}, nil
}

func (a *accounts) PersonalToken(string, account.Client) (kubegate.Identity, error) {
	return kubegate.Identity{}, kubegate.Errorf(kubegate.EUnauthorized, "invalid personal access token")
}

type tokens struct{}

func (tokens) Verify(string) (*token.Claims, error) { return &token.Claims{}, nil }
func (tokens) Issue(kubegate.Identity, time.Duration) (token.Issued, error) {
	return token.Issued{Token: "t"}, nil
}
func (tokens) Lifetime(r, f time.Duration) (time.Duration, bool) { return max(r, f, time.Hour), false }
func (tokens) Revoke(context.Context, string, time.Time) error   { return nil }

func newService(a *accounts) *authn.Service {
	return authn.New(authn.Options{Tokens: tokens{}, Accounts: a, Guard: ratelimit.NewGuard(100, 10, nil), SessionTTL: time.Hour})
}

// Password changes are limited like logins: a stolen session cannot guess the
// current password (which then takes over the account) at leisure.
func TestPasswordChangesAreRateLimited(t *testing.T) {
	a := &accounts{}
	s := newService(a)
	id := kubegate.Identity{UserID: "u1", Name: "alice"}
	for range 10 {
		if err := s.ChangePassword(context.Background(), id, "guess", "new-password", "10.0.0.1"); kubegate.ErrorCode(err) != kubegate.EForbidden {
			t.Fatalf("wrong old password: %v", err)
		}
	}
	err := s.ChangePassword(context.Background(), id, "right", "new-password", "10.0.0.2")
	if kubegate.ErrorCode(err) != kubegate.ETooManyRequests || a.checked != 10 {
		t.Fatalf("eleventh attempt: %v after %d checks; want a 429 before any check", err, a.checked)
	}
}

func TestMalformedAccessKeysCostNothing(t *testing.T) {
	a := &accounts{}
	s := newService(a)
	for _, ak := range []string{"", "short", "has space in it", "ünïcode-key-ünïcode", string(make([]byte, 200))} {
		_, err := s.Exchange(context.Background(), authn.ExchangeRequest{AccessKey: ak, SecretKey: "secret", Client: account.Client{IP: "10.0.0.1"}})
		if kubegate.ErrorCode(err) != kubegate.EInvalid {
			t.Errorf("%q: %v, want a 400", ak, err)
		}
	}
	if a.checked != 0 {
		t.Fatalf("%d malformed keys were checked", a.checked)
	}
	// Well-formed ones are checked, and the right secret from the owner's address
	// works whatever others did.
	for range 11 {
		_, _ = s.Exchange(context.Background(), authn.ExchangeRequest{AccessKey: "0123456789abcdef", SecretKey: "guess", Client: account.Client{IP: "203.0.113.9"}})
	}
	if _, err := s.Exchange(context.Background(), authn.ExchangeRequest{AccessKey: "0123456789abcdef", SecretKey: "secret", Client: account.Client{IP: "198.51.100.1"}}); err != nil {
		t.Fatalf("the owner's right secret: %v", err)
	}
}
