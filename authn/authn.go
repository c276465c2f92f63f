// Package authn turns credentials into identities: a bearer token or a console
// session into the identity a request acts as, and a password or an access key pair
// into a new token. It keeps authentication apart from the handlers, as the
// Kubernetes apiserver keeps its authenticators: a token must verify (signature,
// claims, revocation: package token), and the key and user it names must still be
// valid (package account), on every request. Failed logins and exchanges are
// limited per client address and per account by one guard.
package authn

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/account"
	"github.com/kubegate/kubegate/ratelimit"
	"github.com/kubegate/kubegate/request"
	"github.com/kubegate/kubegate/token"
)

// SessionCookie carries the console's token, HttpOnly.
const SessionCookie = request.SessionCookie

// Tokens is what authentication needs of the token service.
type Tokens interface {
	Verify(raw string) (*token.Claims, error)
	Issue(id kubegate.Identity, ttl time.Duration) (token.Issued, error)
	IssueSession(id kubegate.Identity, ref token.SessionRef, exp time.Time) (token.Issued, token.SessionRef, error)
	Lifetime(requested, fallback time.Duration) (time.Duration, bool)
	Revoke(ctx context.Context, tokenID, family string, issuedAt, expiresAt time.Time) error
}

// Accounts is what authentication needs of the account service.
type Accounts interface {
	Check(accessKey, userID string, epoch int64) (kubegate.Identity, error)
	Login(ctx context.Context, name, password string) (kubegate.User, error)
	ChangePassword(ctx context.Context, userID, oldPassword, newPassword string) error
	Exchange(ctx context.Context, accessKey, secret string, c account.Client) (kubegate.Identity, error)
	PersonalToken(raw string, c account.Client) (kubegate.Identity, error)
}

// Options configures a Service.
type Options struct {
	Tokens   Tokens
	Accounts Accounts
	// Guard limits failed logins and exchanges; nil: no limit.
	Guard *ratelimit.Guard
	// SessionTTL is the longest a console login lasts, however busy (absolute expiry).
	SessionTTL time.Duration
	// SessionIdle ends a console login unused for this long (idle expiry): its
	// token lives that long and is renewed while the login is used; 0 or more
	// than SessionTTL: SessionTTL.
	SessionIdle time.Duration
	Now         func() time.Time
}

// renewAfter is how old a session token gets before use renews it: idle expiry
// is exact to this, and a busy console costs one signature per this.
const renewAfter = time.Minute

// Service authenticates requests and issues tokens for credentials.
type Service struct {
	opts Options
}

// New returns a Service.
func New(opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SessionIdle <= 0 || opts.SessionIdle > opts.SessionTTL {
		opts.SessionIdle = opts.SessionTTL
	}
	if opts.Guard == nil {
		opts.Guard = ratelimit.NewGuard(0, 0, nil)
	}
	return &Service{opts: opts}
}

// Authenticate establishes the identity of a request from its Authorization:
// Bearer header or, failing that and when sessions allows it, its session cookie.
// It returns a nil identity for a request that carries neither, and an error for
// one whose credential is invalid, expired or revoked. viaCookie says the session
// cookie was used.
func (s *Service) Authenticate(r *http.Request, sessions bool) (id *kubegate.Identity, viaCookie bool, err error) {
	raw := ""
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, rest, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(rest) == "" {
			return nil, false, kubegate.Errorf(kubegate.EUnauthorized, "the Authorization header must be \"Bearer <token>\"")
		}
		raw = strings.TrimSpace(rest)
	} else if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" && sessions {
		raw, viaCookie = c.Value, true
	} else {
		return nil, false, nil
	}
	if strings.HasPrefix(raw, account.PersonalTokenPrefix) && !viaCookie {
		pat, err := s.opts.Accounts.PersonalToken(raw, account.Client{IP: request.ClientIP(r.Context()), UserAgent: r.UserAgent()})
		if err != nil {
			return nil, false, err
		}
		return &pat, false, nil
	}
	id, err = s.Verify(raw)
	return id, viaCookie, err
}

// Verify turns a raw token into the identity it stands for, if it is still valid:
// the token verifies and is not revoked, and its access key (if any) and user still
// exist and are enabled.
func (s *Service) Verify(raw string) (*kubegate.Identity, error) {
	claims, err := s.opts.Tokens.Verify(raw)
	if err != nil {
		return nil, err
	}
	id, err := s.opts.Accounts.Check(claims.AccessKey, claims.Subject, claims.Epoch)
	if err != nil {
		return nil, kubegate.Errorf(kubegate.EUnauthorized, "token revoked: %s", kubegate.ErrorMessage(err))
	}
	id.TokenID = claims.ID
	if claims.ExpiresAt != nil {
		id.TokenExpiresAt = claims.ExpiresAt.Time
	}
	if claims.IssuedAt != nil {
		id.TokenIssuedAt = claims.IssuedAt.Time
	}
	if claims.AuthTime != nil {
		id.SessionStart = claims.AuthTime.Time
	}
	return &id, nil
}

// sessionEnd is when a session token's login ends whatever it is used for.
func (s *Service) sessionEnd(id kubegate.Identity) time.Time {
	return id.SessionStart.Add(s.opts.SessionTTL)
}

// RenewSession slides a console login's idle expiry: for a session token older
// than renewAfter it issues the next one of the same session (same ID, same
// start, so logout still ends it), valid for SessionIdle more but never past the
// login's absolute end. It returns an empty token when no renewal is due.
func (s *Service) RenewSession(id *kubegate.Identity) (raw string, expires time.Time, err error) {
	if id == nil || id.SessionStart.IsZero() || id.AccessKey != "" {
		return "", time.Time{}, nil
	}
	now := s.opts.Now()
	if !id.TokenExpiresAt.After(now) {
		return "", time.Time{}, nil // accepted within the clock-skew leeway: not a reason to extend it
	}
	end := s.sessionEnd(*id)
	exp := now.Add(s.opts.SessionIdle)
	if exp.After(end) {
		exp = end
	}
	// Issued renewAfter ago or more, and the new token would outlive the old one.
	if id.TokenExpiresAt.After(now.Add(s.opts.SessionIdle-renewAfter)) || !exp.After(id.TokenExpiresAt.Add(time.Second)) {
		return "", time.Time{}, nil
	}
	issued, _, err := s.opts.Tokens.IssueSession(*id, token.SessionRef{ID: id.TokenID, Started: id.SessionStart}, exp)
	return issued.Token, issued.ExpiresAt, err
}

// Session is a console login.
type Session struct {
	User kubegate.User
	// Token is the login's first cookie token; it expires when the login has been
	// idle for SessionIdle, and RenewSession issues the next.
	Token token.Issued
	// Bearer is the token of the same login for the login response's body,
	// valid until Ends: a script has no cookie to renew.
	Bearer token.Issued
	// Ends is the login's absolute end.
	Ends time.Time
}

// Login checks a user name and password from the client address addr and issues
// a session token. Failures count against the address and the user name.
//
// Every attempt counts before the password is hashed, so a burst of attempts at
// once is limited like a sequence (and the hashing itself is bounded by account).
// Failures per user name can lock its owner out for a minute: passwords can be
// guessed, so the limit per account is kept.
func (s *Service) Login(ctx context.Context, name, password, addr string) (Session, error) {
	done, err := s.opts.Guard.Begin(addr, "user:"+name)
	if err != nil {
		return Session{}, err
	}
	u, err := s.opts.Accounts.Login(ctx, name, password)
	done(err == nil)
	if err != nil {
		return Session{}, err
	}
	id := kubegate.Identity{UserID: u.ID, Name: u.Name, Groups: kubegate.GroupsFor(u), Admin: u.Admin, TokenEpoch: u.TokenEpoch}
	now := s.opts.Now()
	issued, ref, err := s.opts.Tokens.IssueSession(id, token.SessionRef{}, now.Add(s.opts.SessionIdle))
	if err != nil {
		return Session{}, err
	}
	// The bearer form of the login, for scripts that log in (KubeCube's clients
	// do): the whole session long, since nothing renews it; logout ends it too.
	bearer, _, err := s.opts.Tokens.IssueSession(id, ref, now.Add(s.opts.SessionTTL))
	if err != nil {
		return Session{}, err
	}
	return Session{User: u, Token: issued, Bearer: bearer, Ends: now.Add(s.opts.SessionTTL)}, nil
}

// ExchangeRequest is an access key pair presented for a token.
type ExchangeRequest struct {
	AccessKey string
	SecretKey string
	// TTL is the lifetime asked for; 0 asks for DefaultTTL.
	TTL time.Duration
	// DefaultTTL is the dialect's default lifetime; 0 is the token policy's.
	DefaultTTL time.Duration
	Client     account.Client
}

// Exchanged is the outcome of a successful exchange.
type Exchanged struct {
	Token token.Issued
	// Clamped says the lifetime asked for exceeded the maximum and was cut to it.
	Clamped bool
}

// Exchange checks an access key pair and issues a token of the lifetime the token
// policy allows. Failures count against the client address, and against the
// access key from that address: access keys are not secret (every token names
// its key), so failures from elsewhere must never block the owner's right secret,
// and secret keys carry 160 random bits, so guessing one is hopeless anyway.
func (s *Service) Exchange(ctx context.Context, req ExchangeRequest) (Exchanged, error) {
	if err := ValidateAccessKey(req.AccessKey); err != nil {
		return Exchanged{}, err // before the limiter: garbage costs no one's budget
	}
	done, err := s.opts.Guard.Begin(req.Client.IP, "ak:"+req.AccessKey+"@"+req.Client.IP)
	if err != nil {
		return Exchanged{}, err
	}
	id, err := s.opts.Accounts.Exchange(ctx, req.AccessKey, req.SecretKey, req.Client)
	done(err == nil)
	if err != nil {
		return Exchanged{}, err
	}
	ttl, clamped := s.opts.Tokens.Lifetime(req.TTL, req.DefaultTTL)
	issued, err := s.opts.Tokens.Issue(id, ttl)
	if err != nil {
		return Exchanged{}, err
	}
	return Exchanged{Token: issued, Clamped: clamped}, nil
}

// ValidateAccessKey refuses what cannot be an access key: 8 to 128 letters,
// digits, '.', '_' or '-' (kubegate's are 32 hex digits; imported ones vary).
func ValidateAccessKey(ak string) error {
	ok := len(ak) >= 8 && len(ak) <= 128
	for i := 0; ok && i < len(ak); i++ {
		c := ak[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
	}
	if !ok {
		return kubegate.Errorf(kubegate.EInvalid, "malformed access key: use the 8 to 128 letters, digits, '.', '_' or '-' shown when the key was created")
	}
	return nil
}

// ChangePassword changes the caller's password after checking the old one;
// attempts are limited as logins are.
func (s *Service) ChangePassword(ctx context.Context, id kubegate.Identity, oldPassword, newPassword, addr string) error {
	done, err := s.opts.Guard.Begin(addr, "password:"+id.UserID)
	if err != nil {
		return err
	}
	err = s.opts.Accounts.ChangePassword(ctx, id.UserID, oldPassword, newPassword)
	done(kubegate.ErrorCode(err) != kubegate.EForbidden) // only a wrong old password counts
	return err
}

// Logout revokes the token the identity came with, on every replica; for a
// console login, every token of the login until its absolute end.
func (s *Service) Logout(ctx context.Context, id kubegate.Identity) error {
	until, issued := id.TokenExpiresAt, id.TokenIssuedAt
	if !id.SessionStart.IsZero() {
		until, issued = s.sessionEnd(id), id.SessionStart
	}
	return s.opts.Tokens.Revoke(ctx, id.TokenID, token.Family(id.AccessKey, id.UserID), issued, until)
}
