// Package account manages users, their passwords and their access keys: it checks
// an access key pair or a password, and answers whether a user or key is still
// valid, from an in-memory mirror of the store so that no request needs a database
// query. It knows nothing of HTTP or tokens.
package account

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/batch"
)

// Options configures a Service.
type Options struct {
	Store          kubegate.Store
	Now            func() time.Time
	Rand           io.Reader
	MaxKeysPerUser int
	// MaxPersonalTokensPerUser bounds personal access tokens per user, and
	// PersonalTokenMaxTTL their lifetime (also the lifetime of one asked for
	// without an expiry).
	MaxPersonalTokensPerUser int
	PersonalTokenMaxTTL      time.Duration
	// MaxKeyLifetime bounds access keys' lifetime (0: none; then an expiry is
	// required); RequireKeyExpiry refuses keys that never expire.
	MaxKeyLifetime   time.Duration
	RequireKeyExpiry bool
	Password         PasswordParams
	// PasswordSlots bounds password hashes running at once (default: the number of
	// CPUs, at least 2); as many again may wait, the rest get a 429.
	PasswordSlots int
	Logger        *slog.Logger
}

// Service is the account logic.
type Service struct {
	opts  Options
	view  *view
	usage *usageRecorder
	kdf   *kdfLimiter
	// dummyHash is checked against when a login names no user, so that an unknown
	// name takes as long as a wrong password. Run makes it off the start-up path.
	dummyOnce sync.Once
	dummyHash string

	// startPolicy is the credential policy of the flags, in force until an
	// administrator stores one; policy is the one in force.
	startPolicy kubegate.CredentialPolicy
	policyMu    sync.RWMutex
	policy      kubegate.CredentialPolicy
}

// New returns a Service.
func New(opts Options) (*Service, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	if opts.Password == (PasswordParams{}) {
		opts.Password = DefaultPasswordParams()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.PersonalTokenMaxTTL <= 0 {
		opts.PersonalTokenMaxTTL = 365 * 24 * time.Hour
	}
	if opts.PasswordSlots <= 0 {
		opts.PasswordSlots = max(2, runtime.GOMAXPROCS(0))
	}
	start := kubegate.CredentialPolicy{KeyMaxLifetime: opts.MaxKeyLifetime, KeyExpiryRequired: opts.RequireKeyExpiry, TokenMaxLifetime: opts.PersonalTokenMaxTTL}
	if err := start.Validate(); err != nil {
		return nil, err
	}
	s := &Service{
		opts: opts, view: newView(opts.Store, opts.Logger), usage: newUsageRecorder(opts.Store, opts.Logger),
		kdf: newKDFLimiter(opts.PasswordSlots, opts.PasswordSlots), startPolicy: start, policy: start,
	}
	return s, nil
}

// Load reads every user and access key and the credential policy; with Apply it
// implements kubegate.Mirror.
func (s *Service) Load(ctx context.Context) error {
	s.loadPolicy(ctx)
	return s.view.load(ctx)
}

// Apply follows a store change made by any replica.
func (s *Service) Apply(ctx context.Context, c kubegate.Change) {
	if c.Kind == kubegate.ChangeSetting && c.Key == PolicySetting || c.Kind == kubegate.ChangeResync {
		s.loadPolicy(ctx)
	}
	s.view.apply(ctx, c)
}

// Run prepares the unknown-user password hash, then writes batched key uses every
// interval until ctx is done, and once more.
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	s.dummy() // ready before the first failed login in practice
	batch.FlushEvery(ctx, interval, s.usage.flush, s.opts.Logger, "recording access key use")
}

// dummy returns the hash an unknown user name is checked against.
func (s *Service) dummy() string {
	s.dummyOnce.Do(func() { s.dummyHash, _ = hashPassword("kubegate-dummy-password", s.opts.Password, s.opts.Rand) })
	return s.dummyHash
}

// userName: lower-case letters, digits, '.', '_' and '-', starting and ending with a
// letter or digit. No ':' — names become Kubernetes usernames under impersonation,
// and "system:" names are the cluster's own.
var userName = regexp.MustCompile(`^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$`)

// ValidateUserName says what is wrong with a user name.
func ValidateUserName(name string) error {
	if !userName.MatchString(name) {
		return kubegate.Errorf(kubegate.EInvalid, "user name %q is invalid: use 1-63 lower-case letters, digits, '.', '_' or '-', starting and ending with a letter or digit", name)
	}
	return nil
}

func validatePassword(p string) error {
	n := utf8.RuneCountInString(p)
	if n < 8 || len(p) > 256 {
		return kubegate.Errorf(kubegate.EInvalid, "password must be 8 to 256 characters long")
	}
	return nil
}

func validateDescription(d string) error {
	if utf8.RuneCountInString(d) > 256 || !utf8.ValidString(d) {
		return kubegate.Errorf(kubegate.EInvalid, "description must be valid UTF-8 of at most 256 characters")
	}
	return nil
}

func (s *Service) randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(s.opts.Rand, b); err != nil {
		return "", fmt.Errorf("reading randomness: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// newUUID returns a random (version 4) UUID, the ID format DCE's API shows.
func (s *Service) newUUID() (string, error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(s.opts.Rand, b); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}

// ---- users ----

// NewUser is what an admin gives to create a user.
type NewUser struct {
	Name        string
	Password    string
	Email       string
	FirstName   string
	LastName    string
	Description string
	Admin       bool
}

// Bootstrap creates the admin user "admin" on first start. password may be empty:
// one is then generated and returned, to be shown once. When admin exists, it does
// nothing and returns "".
func (s *Service) Bootstrap(ctx context.Context, password string) (generated string, err error) {
	if _, err := s.opts.Store.GetUserByName(ctx, "admin"); err == nil {
		return "", nil
	} else if kubegate.ErrorCode(err) != kubegate.ENotFound {
		return "", err
	}
	if password == "" {
		if generated, err = s.randomHex(12); err != nil {
			return "", err
		}
		password = generated
	}
	_, err = s.CreateUser(ctx, NewUser{Name: "admin", Password: password, Admin: true, Description: "bootstrap administrator"})
	if kubegate.ErrorCode(err) == kubegate.EConflict {
		return "", nil // another replica bootstrapped at the same moment
	}
	return generated, err
}

// CreateUser creates an enabled local user.
func (s *Service) CreateUser(ctx context.Context, nu NewUser) (kubegate.User, error) {
	if err := ValidateUserName(nu.Name); err != nil {
		return kubegate.User{}, err
	}
	if err := validatePassword(nu.Password); err != nil {
		return kubegate.User{}, err
	}
	if err := validateDescription(nu.Description); err != nil {
		return kubegate.User{}, err
	}
	hash, err := s.hash(ctx, nu.Password)
	if err != nil {
		return kubegate.User{}, err
	}
	id, err := s.newUUID()
	if err != nil {
		return kubegate.User{}, err
	}
	now := s.opts.Now().UTC().Truncate(time.Microsecond)
	u := kubegate.User{
		ID: id, Name: nu.Name, Email: nu.Email, FirstName: nu.FirstName, LastName: nu.LastName, Description: nu.Description,
		PasswordHash: hash, Enabled: true, Admin: nu.Admin, Source: "local", CreatedAt: now, UpdatedAt: now,
	}
	if err := s.opts.Store.CreateUser(ctx, u); err != nil {
		return kubegate.User{}, err
	}
	s.view.apply(ctx, kubegate.Change{Kind: kubegate.ChangeUser, Key: u.ID})
	return u, nil
}

// Login checks a name and password and records the login. Every failure is the
// same error, taking the same time.
func (s *Service) Login(ctx context.Context, name, password string) (kubegate.User, error) {
	fail := kubegate.Errorf(kubegate.EUnauthorized, "invalid user name or password")
	u, err := s.opts.Store.GetUserByName(ctx, name)
	if err != nil {
		if kubegate.ErrorCode(err) != kubegate.ENotFound {
			return kubegate.User{}, err
		}
		if _, err := s.check(ctx, s.dummy(), password); kubegate.ErrorCode(err) == kubegate.ETooManyRequests {
			return kubegate.User{}, err
		}
		return kubegate.User{}, fail
	}
	if u.PasswordHash == "" {
		// Imported without a password (KubeCube's are unsalted MD5, not carried
		// over): an administrator sets one; nothing guessable stands in for it.
		// The answer is the same as for any failure: saying so would tell anyone
		// which imported accounts exist.
		_, _ = s.check(ctx, s.dummy(), password)
		return kubegate.User{}, fail
	}
	ok, err := s.check(ctx, u.PasswordHash, password)
	if kubegate.ErrorCode(err) == kubegate.ETooManyRequests || kubegate.ErrorCode(err) == kubegate.EUnavailable {
		return kubegate.User{}, err
	}
	if err != nil || !ok {
		return kubegate.User{}, fail
	}
	if !u.Enabled {
		return kubegate.User{}, kubegate.Errorf(kubegate.EUnauthorized, "user %s is disabled", u.Name)
	}
	now := s.opts.Now().UTC().Truncate(time.Microsecond)
	u, err = s.opts.Store.UpdateUser(ctx, u.ID, func(x kubegate.User) (kubegate.User, error) { x.LastLoginAt = now; return x, nil })
	if err != nil {
		return kubegate.User{}, err
	}
	s.view.apply(ctx, kubegate.Change{Kind: kubegate.ChangeUser, Key: u.ID})
	return u, nil
}

// ChangePassword changes a user's own password after checking the old one.
func (s *Service) ChangePassword(ctx context.Context, userID, oldPassword, newPassword string) error {
	if err := validatePassword(newPassword); err != nil {
		return err
	}
	u, err := s.opts.Store.GetUser(ctx, userID)
	if err != nil {
		return err
	}
	ok, err := s.check(ctx, u.PasswordHash, oldPassword)
	if kubegate.ErrorCode(err) == kubegate.ETooManyRequests || kubegate.ErrorCode(err) == kubegate.EUnavailable {
		return err
	}
	if err != nil || !ok {
		return kubegate.Errorf(kubegate.EForbidden, "the current password is wrong")
	}
	return s.setPassword(ctx, userID, newPassword)
}

func (s *Service) setPassword(ctx context.Context, userID, password string) error {
	hash, err := s.hash(ctx, password)
	if err != nil {
		return err
	}
	_, err = s.opts.Store.UpdateUser(ctx, userID, func(u kubegate.User) (kubegate.User, error) {
		u.PasswordHash = hash
		u.TokenEpoch++ // every session and token of the old password ends
		u.UpdatedAt = s.opts.Now().UTC().Truncate(time.Microsecond)
		return u, nil
	})
	if err != nil {
		return err
	}
	s.view.apply(ctx, kubegate.Change{Kind: kubegate.ChangeUser, Key: userID})
	return nil
}

// ListUsers lists users by name.
func (s *Service) ListUsers(ctx context.Context, p kubegate.Page) ([]kubegate.User, int, error) {
	return s.opts.Store.ListUsers(ctx, p)
}

// SearchUsers pages through the users, by name, whose name, e-mail, first or last
// name contains search (case-insensitively; "" for all), from memory.
func (s *Service) SearchUsers(search string, p kubegate.Page) ([]kubegate.User, int) {
	return s.view.search(strings.ToLower(search), p)
}

// User returns the user with id, from memory.
func (s *Service) User(id string) (kubegate.User, bool) { return s.view.user(id) }

// GetUser returns the user called name.
func (s *Service) GetUser(ctx context.Context, name string) (kubegate.User, error) {
	return s.opts.Store.GetUserByName(ctx, name)
}

// UserPatch changes some fields of a user; nil fields stay.
type UserPatch struct {
	Enabled     *bool
	Admin       *bool
	Email       *string
	FirstName   *string
	LastName    *string
	Description *string
	Password    *string // an admin's reset
}

// UpdateUser applies an admin's patch to the user called name. An admin cannot
// disable or demote themself, so that the gateway cannot lose its last admin by
// accident.
func (s *Service) UpdateUser(ctx context.Context, actor kubegate.Identity, name string, p UserPatch) (kubegate.User, error) {
	u, err := s.opts.Store.GetUserByName(ctx, name)
	if err != nil {
		return kubegate.User{}, err
	}
	if u.ID == actor.UserID && ((p.Enabled != nil && !*p.Enabled) || (p.Admin != nil && !*p.Admin)) {
		return kubegate.User{}, kubegate.Errorf(kubegate.EForbidden, "you cannot disable or demote yourself")
	}
	if p.Description != nil {
		if err := validateDescription(*p.Description); err != nil {
			return kubegate.User{}, err
		}
	}
	if p.Password != nil {
		if err := validatePassword(*p.Password); err != nil {
			return kubegate.User{}, err
		}
		if err := s.setPassword(ctx, u.ID, *p.Password); err != nil {
			return kubegate.User{}, err
		}
	}
	u, err = s.opts.Store.UpdateUser(ctx, u.ID, func(x kubegate.User) (kubegate.User, error) {
		if x.Enabled && p.Enabled != nil && !*p.Enabled {
			x.TokenEpoch++ // re-enabling must not bring the old tokens back
		}
		set(&x.Enabled, p.Enabled)
		set(&x.Admin, p.Admin)
		set(&x.Email, p.Email)
		set(&x.FirstName, p.FirstName)
		set(&x.LastName, p.LastName)
		set(&x.Description, p.Description)
		x.UpdatedAt = s.opts.Now().UTC().Truncate(time.Microsecond)
		return x, nil
	})
	if err != nil {
		return kubegate.User{}, err
	}
	s.view.apply(ctx, kubegate.Change{Kind: kubegate.ChangeUser, Key: u.ID})
	return u, nil
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// DeleteUser deletes the user called name and their keys.
func (s *Service) DeleteUser(ctx context.Context, actor kubegate.Identity, name string) error {
	u, err := s.opts.Store.GetUserByName(ctx, name)
	if err != nil {
		return err
	}
	if u.ID == actor.UserID {
		return kubegate.Errorf(kubegate.EForbidden, "you cannot delete yourself")
	}
	keys, err := s.opts.Store.ListAccessKeys(ctx, u.ID)
	if err != nil {
		return err
	}
	if err := s.opts.Store.DeleteUser(ctx, u.ID); err != nil {
		return err
	}
	s.view.apply(ctx, kubegate.Change{Kind: kubegate.ChangeUser, Key: u.ID})
	for _, k := range keys {
		s.view.apply(ctx, kubegate.Change{Kind: kubegate.ChangeAccessKey, Key: k.AccessKey})
	}
	return nil
}

// ---- access keys ----

// hashSecret hashes a secret key for storage. Secrets carry 160 random bits, so a
// fast hash is as strong as a slow one and keeps exchanges cheap.
func hashSecret(secret string) []byte {
	sum := sha256.Sum256([]byte("kubegate/secret-key/v1:" + secret))
	return sum[:]
}

// CreateKey creates an access key pair for userID and returns the secret, which
// is never stored or shown again.
func (s *Service) CreateKey(ctx context.Context, userID string, nk NewKey) (kubegate.AccessKey, string, error) {
	description, expiresAt := nk.Description, nk.ExpiresAt
	if err := validateDescription(description); err != nil {
		return kubegate.AccessKey{}, "", err
	}
	if err := nk.Scope.Validate(); err != nil {
		return kubegate.AccessKey{}, "", err
	}
	now := s.opts.Now().UTC().Truncate(time.Microsecond)
	if !expiresAt.IsZero() && !expiresAt.After(now) {
		return kubegate.AccessKey{}, "", kubegate.Errorf(kubegate.EInvalid, "expiresAt must be in the future")
	}
	if err := s.lifetimePolicy(now, expiresAt); err != nil {
		return kubegate.AccessKey{}, "", err
	}
	return s.mintKey(ctx, kubegate.AccessKey{
		Kind: kubegate.KindKey, UserID: userID, Description: description,
		Scope: nk.Scope, CreatedAt: now, ExpiresAt: expiresAt,
	}, s.opts.MaxKeysPerUser)
}

// mintKey gives k fresh key material, stores it within the per-user limit and
// makes it known to the view; it returns the secret, which is never stored.
func (s *Service) mintKey(ctx context.Context, k kubegate.AccessKey, limit int) (kubegate.AccessKey, string, error) {
	ak, err := s.randomHex(16) // 32 hex characters, as KubeCube's
	if err != nil {
		return kubegate.AccessKey{}, "", err
	}
	secret, err := s.randomHex(20) // 160 bits
	if err != nil {
		return kubegate.AccessKey{}, "", err
	}
	id, err := s.newUUID()
	if err != nil {
		return kubegate.AccessKey{}, "", err
	}
	k.ID, k.AccessKey, k.SecretHash, k.Status = id, ak, hashSecret(secret), kubegate.KeyActive
	k.ExpiresAt = k.ExpiresAt.UTC().Truncate(time.Microsecond)
	if err := s.opts.Store.CreateAccessKey(ctx, k, limit); err != nil {
		return kubegate.AccessKey{}, "", err
	}
	s.view.apply(ctx, kubegate.Change{Kind: kubegate.ChangeAccessKey, Key: ak})
	return k, secret, nil
}

// ListKeys lists the access keys of userID.
func (s *Service) ListKeys(ctx context.Context, userID string) ([]kubegate.AccessKey, error) {
	return s.listKind(ctx, userID, kubegate.KindKey)
}

func (s *Service) listKind(ctx context.Context, userID string, kind kubegate.KeyKind) ([]kubegate.AccessKey, error) {
	all, err := s.opts.Store.ListAccessKeys(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, k := range all {
		if kindOf(k) == kind {
			out = append(out, k)
		}
	}
	return out, nil
}

func kindOf(k kubegate.AccessKey) kubegate.KeyKind {
	if k.Kind == "" {
		return kubegate.KindKey
	}
	return k.Kind
}

// NewKey is what a user gives to create an access key pair.
type NewKey struct {
	Description string
	ExpiresAt   time.Time // zero: never (unless the lifetime policy requires one)
	Scope       kubegate.Scope
}

// lifetimePolicy checks a new key's expiry against the administrators' policy.
func (s *Service) lifetimePolicy(now, expiresAt time.Time) error {
	p := s.Policy()
	switch {
	case expiresAt.IsZero() && p.KeyMaxLifetime > 0:
		return kubegate.Errorf(kubegate.EInvalid, "expiresAt is required: access keys live at most %s (the lifetime policy)", p.KeyMaxLifetime)
	case expiresAt.IsZero() && p.KeyExpiryRequired:
		return kubegate.Errorf(kubegate.EInvalid, "expiresAt is required: access keys must expire (the lifetime policy)")
	case p.KeyMaxLifetime > 0 && expiresAt.After(now.Add(p.KeyMaxLifetime)):
		return kubegate.Errorf(kubegate.EInvalid, "expiresAt is beyond the longest lifetime of an access key, %s: %s at the latest",
			p.KeyMaxLifetime, now.Add(p.KeyMaxLifetime).Format(time.RFC3339))
	}
	return nil
}

// KeyPatch changes a key's status, description or scope; nil fields stay.
type KeyPatch struct {
	Status      *kubegate.KeyStatus
	Description *string
	Scope       *kubegate.Scope
}

// UpdateKey changes a key of userID. A key of another user is reported as not
// found, so key names cannot be probed.
func (s *Service) UpdateKey(ctx context.Context, userID, accessKey string, p KeyPatch) (kubegate.AccessKey, error) {
	if p.Status != nil && *p.Status != kubegate.KeyActive && *p.Status != kubegate.KeyInactive {
		return kubegate.AccessKey{}, kubegate.Errorf(kubegate.EInvalid, "status must be Active or Inactive, not %q", *p.Status)
	}
	if p.Description != nil {
		if err := validateDescription(*p.Description); err != nil {
			return kubegate.AccessKey{}, err
		}
	}
	if p.Scope != nil {
		if err := p.Scope.Validate(); err != nil {
			return kubegate.AccessKey{}, err
		}
	}
	k, err := s.opts.Store.UpdateAccessKey(ctx, accessKey, func(k kubegate.AccessKey) (kubegate.AccessKey, error) {
		if k.UserID != userID || kindOf(k) != kubegate.KindKey {
			return k, notFoundKey(accessKey)
		}
		set(&k.Status, p.Status)
		set(&k.Description, p.Description)
		set(&k.Scope, p.Scope)
		return k, nil
	})
	if err != nil {
		return kubegate.AccessKey{}, err
	}
	s.view.apply(ctx, kubegate.Change{Kind: kubegate.ChangeAccessKey, Key: accessKey})
	return k, nil
}

// DeleteKey deletes a key of userID.
func (s *Service) DeleteKey(ctx context.Context, userID, accessKey string) error {
	return s.deleteKind(ctx, userID, accessKey, kubegate.KindKey)
}

func (s *Service) deleteKind(ctx context.Context, userID, accessKey string, kind kubegate.KeyKind) error {
	k, err := s.opts.Store.GetAccessKey(ctx, accessKey)
	if err != nil {
		return err
	}
	if k.UserID != userID || kindOf(k) != kind {
		return notFoundKey(accessKey)
	}
	if err := s.opts.Store.DeleteAccessKey(ctx, accessKey); err != nil {
		return err
	}
	s.view.apply(ctx, kubegate.Change{Kind: kubegate.ChangeAccessKey, Key: accessKey})
	return nil
}

func notFoundKey(ak string) error {
	return kubegate.Errorf(kubegate.ENotFound, "access key %q not found", ak)
}

// Client describes who is exchanging a key, for the key's last-use record.
type Client struct {
	IP        string
	UserAgent string
}

// Exchange checks an access key pair and returns the identity it stands for. An
// unknown key and a wrong secret give the same error after the same work.
func (s *Service) Exchange(_ context.Context, accessKey, secret string, c Client) (kubegate.Identity, error) {
	return s.verifySecret(kubegate.KindKey, accessKey, secret, c, kubegate.Errorf(kubegate.EUnauthorized, "invalid access key or secret key"))
}

// verifySecret checks a secret of an access key of the given kind, from memory, and
// records the use; fail is the one error for an unknown key and a wrong secret,
// after the same work.
func (s *Service) verifySecret(kind kubegate.KeyKind, accessKey, secret string, c Client, fail error) (kubegate.Identity, error) {
	k, found := s.view.key(accessKey)
	if !found {
		k, found = s.view.fetchKey(accessKey)
	}
	found = found && kindOf(k) == kind
	want := k.SecretHash
	if !found {
		want = make([]byte, sha256.Size)
	}
	match := subtle.ConstantTimeCompare(hashSecret(secret), want) == 1
	if !found || !match {
		return kubegate.Identity{}, fail
	}
	u, ok := s.view.user(k.UserID)
	if !ok {
		return kubegate.Identity{}, fail
	}
	id, err := s.Check(accessKey, k.UserID, u.TokenEpoch)
	if err != nil {
		return kubegate.Identity{}, err
	}
	s.usage.record(kubegate.KeyUse{AccessKey: accessKey, At: s.opts.Now(), IP: c.IP, UserAgent: truncate(c.UserAgent, 256)})
	return id, nil
}

// Check says whether an identity minted from accessKey (or, for a console
// session, with accessKey "") for userID in the user's token epoch `epoch` is
// still valid: the key exists, is Active and unexpired, and the user exists, is
// enabled, and has not changed their password or been disabled since (their
// epoch is not newer). It reads only memory.
func (s *Service) Check(accessKey, userID string, epoch int64) (kubegate.Identity, error) {
	if accessKey != "" {
		k, ok := s.view.key(accessKey)
		if !ok || k.UserID != userID {
			return kubegate.Identity{}, kubegate.Errorf(kubegate.EUnauthorized, "access key %s no longer exists", accessKey)
		}
		if k.Status != kubegate.KeyActive {
			return kubegate.Identity{}, kubegate.Errorf(kubegate.EUnauthorized, "access key %s is inactive", accessKey)
		}
		if !k.ExpiresAt.IsZero() && !s.opts.Now().Before(k.ExpiresAt) {
			return kubegate.Identity{}, kubegate.Errorf(kubegate.EUnauthorized, "access key %s expired at %s", accessKey, k.ExpiresAt.Format(time.RFC3339))
		}
	}
	u, ok := s.view.user(userID)
	if !ok {
		return kubegate.Identity{}, kubegate.Errorf(kubegate.EUnauthorized, "the user no longer exists")
	}
	if !u.Enabled {
		return kubegate.Identity{}, kubegate.Errorf(kubegate.EUnauthorized, "user %s is disabled", u.Name)
	}
	if epoch < u.TokenEpoch {
		return kubegate.Identity{}, kubegate.Errorf(kubegate.EUnauthorized,
			"issued before %s's password changed or the user was disabled: log in or exchange the key again", u.Name)
	}
	id := kubegate.Identity{UserID: u.ID, Name: u.Name, Groups: s.view.groupsOf(u), Admin: u.Admin, AccessKey: accessKey, TokenEpoch: u.TokenEpoch}
	if accessKey != "" {
		k, _ := s.view.key(accessKey)
		id.Scope = k.Scope // the key's scope now, not when the token was issued
	}
	return id, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
