package authn_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/account"
	"github.com/kubegate/kubegate/authn"
	"github.com/kubegate/kubegate/ratelimit"
	"github.com/kubegate/kubegate/store/sqlite/sqlitetest"
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
func (tokens) IssueSession(_ kubegate.Identity, ref token.SessionRef, exp time.Time) (token.Issued, token.SessionRef, error) {
	return token.Issued{Token: "t", ExpiresAt: exp}, ref, nil
}
func (tokens) Lifetime(r, f time.Duration) (time.Duration, bool)                  { return max(r, f, time.Hour), false }
func (tokens) Revoke(context.Context, string, string, time.Time, time.Time) error { return nil }

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

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// A console login ends when unused for the idle timeout, however long it could
// still last; used, it is renewed up to its absolute end and no further; logging
// out ends every token of the login, not only the one the browser holds last.
func TestSessionsExpireWhenIdleAndAtTheirAbsoluteEnd(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)}
	tokens, err := token.New(context.Background(), token.Options{
		Store: sqlitetest.Open(t), Algorithm: token.ES256, Issuer: "kubegate", Audience: "kubegate", Leeway: time.Second, MaxTTL: 24 * time.Hour, Now: c.now,
	})
	if err != nil {
		t.Fatal(err)
	}
	s := authn.New(authn.Options{Tokens: tokens, Accounts: &accounts{}, SessionTTL: 2 * time.Hour, SessionIdle: 30 * time.Minute, Now: c.now})
	var bearer string // the last login's bearer form
	login := func() string {
		sess, err := s.Login(context.Background(), "alice", "right", "10.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		if got := sess.Token.ExpiresAt.Sub(c.now()); got != 30*time.Minute {
			t.Fatalf("a new login's token lives %s, want the idle timeout", got)
		}
		if got := sess.Ends.Sub(c.now()); got != 2*time.Hour {
			t.Fatalf("a new login ends in %s, want the session TTL", got)
		}
		if !sess.Bearer.ExpiresAt.Equal(sess.Ends) || sess.Bearer.ID != sess.Token.ID {
			t.Fatalf("the login's bearer token: until %v, session %q; want the login's end and its session", sess.Bearer.ExpiresAt, sess.Bearer.ID)
		}
		bearer = sess.Bearer.Token
		return sess.Token.Token
	}
	// use presents the cookie and returns the token the browser holds afterwards.
	use := func(raw string) (string, error) {
		r := httptest.NewRequest("GET", "/keys", nil)
		r.AddCookie(&http.Cookie{Name: authn.SessionCookie, Value: raw})
		id, viaCookie, err := s.Authenticate(r, true)
		if err != nil {
			return "", err
		}
		if !viaCookie || id.SessionStart.IsZero() {
			t.Fatalf("a login's cookie: viaCookie %v, session start %v", viaCookie, id.SessionStart)
		}
		next, _, err := s.RenewSession(id)
		if err != nil {
			t.Fatal(err)
		}
		if next == "" {
			return raw, nil
		}
		return next, nil
	}

	raw := login()
	if next, err := use(raw); err != nil || next != raw {
		t.Fatalf("a token used at once is not renewed: %v, renewed %v", err, next != raw)
	}
	c.add(29 * time.Minute)
	next, err := use(raw)
	if err != nil || next == raw {
		t.Fatalf("used after 29 idle minutes: %v, renewed %v; want a renewal", err, next != raw)
	}
	raw = next
	// Used every 20 minutes, it lasts until its absolute end and not a second more.
	end := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	for c.now().Add(20 * time.Minute).Before(end) {
		c.add(20 * time.Minute)
		if raw, err = use(raw); err != nil {
			t.Fatalf("a login in use at %s: %v", c.now().Format(time.TimeOnly), err)
		}
	}
	c.add(end.Sub(c.now()) + 2*time.Second) // past the 2 h end (with the second of leeway)
	if _, err := use(raw); kubegate.ErrorCode(err) != kubegate.EUnauthorized {
		t.Fatalf("a login past its absolute end: %v, want 401", err)
	}

	// Idle for longer than the timeout: over.
	raw = login()
	c.add(31 * time.Minute)
	if _, err := use(raw); kubegate.ErrorCode(err) != kubegate.EUnauthorized {
		t.Fatalf("a login idle for 31 minutes: %v, want 401", err)
	}

	// Logout with the renewed token ends the first token of the login too.
	raw = login()
	c.add(5 * time.Minute)
	renewed, err := use(raw)
	if err != nil || renewed == raw {
		t.Fatalf("renewal: %v", err)
	}
	claims, err := tokens.Verify(renewed)
	if err != nil {
		t.Fatal(err)
	}
	id, err := s.Verify(renewed)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Logout(context.Background(), *id); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Verify(bearer); kubegate.ErrorCode(err) != kubegate.EUnauthorized {
		t.Errorf("the bearer form of a logged-out login: %v, want 401", err)
	}
	for name, tok := range map[string]string{"first": raw, "renewed": renewed} {
		if _, err := use(tok); kubegate.ErrorCode(err) != kubegate.EUnauthorized {
			t.Errorf("the %s token of a logged-out login: %v, want 401", name, err)
		}
	}
	if claims.AuthTime == nil {
		t.Error("a session token carries no auth_time")
	}
}
