// Package token issues and verifies kubegate's bearer tokens: JWTs signed with keys
// kept (encrypted) in the store, shared by every replica, rotatable, and published
// as a JWKS. It owns token policy (default and maximum lifetimes) and revocation
// (a token refused before it expires, on every replica). It checks signatures,
// claims and revocation; whether the access key and user are still valid is
// authn's second check.
package token

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/kubegate/kubegate"
)

// Algorithms supported for --token-signing-alg.
const (
	ES256 = "ES256"
	RS256 = "RS256"
	HS256 = "HS256"
)

// Options configures a Service.
type Options struct {
	Store     kubegate.Store
	Algorithm string
	// HMACSecret is the shared secret for HS256 (KubeCube-compatible deployments).
	HMACSecret []byte
	Issuer     string
	Audience   string
	// Leeway is the clock skew tolerated on exp, nbf and iat.
	Leeway time.Duration
	// DefaultTTL is the lifetime of a token when the caller asks for none.
	DefaultTTL time.Duration
	// MaxTTL bounds token lifetimes; retired signing keys are deleted once every
	// token they signed has expired.
	MaxTTL time.Duration
	Now    func() time.Time
	Rand   io.Reader
	Logger *slog.Logger
	// CacheSize bounds the verified-token cache (entries).
	CacheSize int
	// MaxRevokedPerFamily is how many tokens of one family (an access key, or a
	// user's console sessions) are revoked one by one; the next logout revokes
	// every token of the family issued so far, as one row.
	MaxRevokedPerFamily int
}

// UserInfo is the claim KubeCube's own tokens carry; clients that decode KubeCube
// tokens read the user from it.
type UserInfo struct {
	Username string   `json:"username"`
	Groups   []string `json:"groups"`
}

// Audience is the aud claim. One audience is written as a plain string, as the
// JWT libraries of older verifiers (KubeCube's golang-jwt v3 StandardClaims) read
// it; an array is read too.
type Audience jwt.ClaimStrings

// MarshalJSON writes one audience as a string.
func (a Audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

// UnmarshalJSON reads a string or an array.
func (a *Audience) UnmarshalJSON(b []byte) error {
	var cs jwt.ClaimStrings
	err := cs.UnmarshalJSON(b)
	*a = Audience(cs)
	return err
}

// Claims are the claims of a kubegate token.
type Claims struct {
	jwt.RegisteredClaims
	// Aud shadows RegisteredClaims.Audience, to write it as Audience does.
	Aud               Audience `json:"aud,omitempty"`
	PreferredUsername string   `json:"preferred_username"`
	Groups            []string `json:"groups"`
	// AccessKey is the key the token was minted from ("" for console sessions);
	// deleting or disabling that key revokes the token.
	AccessKey string   `json:"ak,omitempty"`
	UserInfo  UserInfo `json:"UserInfo"`
	// Epoch is the user's token epoch at issue: a password change, reset or
	// disable raises it, refusing the token.
	Epoch int64 `json:"kep,omitempty"`
	// Scope is the key's scope at issue, for those who read the token; the
	// gateway enforces the key's current scope.
	Scope *kubegate.Scope `json:"scope,omitempty"`
	// AuthTime is when the console login a session token renews began (OIDC's
	// auth_time); absent from every other token.
	AuthTime *jwt.NumericDate `json:"auth_time,omitempty"`
}

// GetAudience implements jwt.Claims with the shadowing aud.
func (c *Claims) GetAudience() (jwt.ClaimStrings, error) { return jwt.ClaimStrings(c.Aud), nil }

func scopeClaim(s kubegate.Scope) *kubegate.Scope {
	if s.IsZero() {
		return nil
	}
	return &s
}

// Issued is a freshly signed token.
type Issued struct {
	Token string
	// ID is the token's jti (a session's ID for session tokens).
	ID        string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

type verifyKey struct {
	alg string
	key any // *ecdsa.PublicKey, *rsa.PublicKey or []byte
}

type cacheEntry struct {
	claims *Claims
	exp    time.Time
}

// Service issues and verifies tokens.
type Service struct {
	opts   Options
	parser *jwt.Parser

	mu      sync.RWMutex
	signKID string
	signKey crypto.Signer // nil for HS256
	keys    map[string]verifyKey
	jwks    []byte

	cacheMu sync.RWMutex
	cache   map[[32]byte]cacheEntry

	revokedMu sync.RWMutex
	revoked   map[string]time.Time // token ID → when it expires anyway
	// families are the whole-family revocations: family → tokens issued before
	// it are refused; singles counts each family's single revocations.
	families map[string]time.Time
	singles  map[string]int
}

// New loads the signing keys from the store, generating one on first start.
func New(ctx context.Context, opts Options) (*Service, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Leeway == 0 {
		opts.Leeway = 30 * time.Second
	}
	if opts.CacheSize == 0 {
		opts.CacheSize = 100_000
	}
	if opts.MaxRevokedPerFamily == 0 {
		opts.MaxRevokedPerFamily = 100
	}
	if opts.MaxTTL == 0 {
		opts.MaxTTL = 7 * 24 * time.Hour
	}
	if opts.DefaultTTL == 0 {
		opts.DefaultTTL = min(time.Hour, opts.MaxTTL)
	}
	switch opts.Algorithm {
	case ES256, RS256:
	case HS256:
		if len(opts.HMACSecret) < 32 {
			return nil, errors.New("HS256 needs a secret of at least 32 bytes")
		}
	default:
		return nil, fmt.Errorf("unsupported signing algorithm %q", opts.Algorithm)
	}
	s := &Service{
		opts:    opts,
		cache:   map[[32]byte]cacheEntry{},
		revoked: map[string]time.Time{}, families: map[string]time.Time{}, singles: map[string]int{},
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{opts.Algorithm}), // no "none", no HS/RS confusion
			jwt.WithIssuer(opts.Issuer),
			jwt.WithAudience(opts.Audience),
			jwt.WithLeeway(opts.Leeway),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithTimeFunc(opts.Now),
		),
	}
	if err := s.loadKeys(ctx); err != nil {
		return nil, err
	}
	if s.signKID == "" {
		if err := s.generate(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Load reads the signing keys and the revoked tokens; it implements
// kubegate.Mirror with Apply.
func (s *Service) Load(ctx context.Context) error {
	if err := s.loadKeys(ctx); err != nil {
		return err
	}
	return s.loadRevoked(ctx)
}

// Apply follows signing key and revocation changes made by any replica.
func (s *Service) Apply(ctx context.Context, c kubegate.Change) {
	var err error
	switch c.Kind {
	case kubegate.ChangeResync:
		err = s.Load(ctx)
	case kubegate.ChangeSigningKey:
		err = s.loadKeys(ctx)
	case kubegate.ChangeToken:
		err = s.loadRevoked(ctx)
	default:
		return
	}
	if err != nil && ctx.Err() == nil {
		s.opts.Logger.Warn("reloading token state failed", "change", c.Kind, "err", err)
	}
}

// loadKeys reads the signing keys from the store: the newest unretired key of the
// configured algorithm signs; every key of that algorithm verifies.
func (s *Service) loadKeys(ctx context.Context) error {
	if s.opts.Algorithm == HS256 {
		sum := sha256.Sum256(s.opts.HMACSecret)
		kid := "hs-" + hex.EncodeToString(sum[:6])
		s.mu.Lock()
		s.signKID, s.keys, s.jwks = kid, map[string]verifyKey{kid: {HS256, s.opts.HMACSecret}}, []byte(`{"keys":[]}`)
		s.mu.Unlock()
		return nil
	}
	stored, err := s.opts.Store.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("loading signing keys: %w", err)
	}
	keys := map[string]verifyKey{}
	var jwks []jwk
	signKID, signKey := "", crypto.Signer(nil)
	for _, k := range stored { // newest first
		if k.Algorithm != s.opts.Algorithm {
			continue
		}
		priv, err := x509.ParsePKCS8PrivateKey(k.PrivateKey)
		if err != nil {
			return fmt.Errorf("signing key %s: %w", k.KID, err)
		}
		signer, ok := priv.(crypto.Signer)
		if !ok {
			return fmt.Errorf("signing key %s: not a signing key", k.KID)
		}
		keys[k.KID] = verifyKey{k.Algorithm, signer.Public()}
		jwks = append(jwks, toJWK(k.KID, k.Algorithm, signer.Public()))
		if signKID == "" && k.RetiredAt.IsZero() {
			signKID, signKey = k.KID, signer
		}
	}
	doc, err := json.Marshal(map[string][]jwk{"keys": jwks})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.signKID, s.signKey, s.keys, s.jwks = signKID, signKey, keys, doc
	s.mu.Unlock()
	return nil
}

func (s *Service) generate(ctx context.Context) error {
	var priv crypto.Signer
	var err error
	switch s.opts.Algorithm {
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), s.opts.Rand)
	case RS256:
		priv, err = rsa.GenerateKey(s.opts.Rand, 2048)
	}
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return err
	}
	kidBytes := make([]byte, 12)
	if _, err := io.ReadFull(s.opts.Rand, kidBytes); err != nil {
		return err
	}
	k := kubegate.SigningKey{
		KID: base64.RawURLEncoding.EncodeToString(kidBytes), Algorithm: s.opts.Algorithm, PrivateKey: der,
		CreatedAt: s.opts.Now().UTC().Truncate(time.Microsecond),
	}
	if err := s.opts.Store.CreateSigningKey(ctx, k); err != nil {
		return err
	}
	s.opts.Logger.Info("generated a token signing key", "kid", k.KID, "alg", k.Algorithm)
	return s.loadKeys(ctx)
}

// Rotate retires the current signing key and starts signing with a new one. The
// retired key keeps verifying until the longest-lived token it could have signed
// has expired; older retired keys are deleted.
func (s *Service) Rotate(ctx context.Context) error {
	if s.opts.Algorithm == HS256 {
		return kubegate.Errorf(kubegate.EInvalid, "HS256 keys come from --token-hmac-secret-file: rotate that file instead")
	}
	now := s.opts.Now().UTC().Truncate(time.Microsecond)
	stored, err := s.opts.Store.ListSigningKeys(ctx)
	if err != nil {
		return err
	}
	for _, k := range stored {
		switch {
		case k.RetiredAt.IsZero():
			if _, err := s.opts.Store.UpdateSigningKey(ctx, k.KID, func(x kubegate.SigningKey) (kubegate.SigningKey, error) {
				x.RetiredAt = now
				return x, nil
			}); err != nil {
				return err
			}
		case now.Sub(k.RetiredAt) > s.opts.MaxTTL+s.opts.Leeway:
			if err := s.opts.Store.DeleteSigningKey(ctx, k.KID); err != nil && kubegate.ErrorCode(err) != kubegate.ENotFound {
				return err
			}
		}
	}
	return s.generate(ctx)
}

// Lifetime applies the token policy to a requested lifetime: 0 asks for fallback
// (a dialect's own default), or DefaultTTL when fallback is 0 too; anything above
// MaxTTL is clamped to it, and clamped says so.
func (s *Service) Lifetime(requested, fallback time.Duration) (ttl time.Duration, clamped bool) {
	ttl = requested
	if ttl <= 0 {
		ttl = fallback
	}
	if ttl <= 0 {
		ttl = s.opts.DefaultTTL
	}
	if ttl > s.opts.MaxTTL {
		return s.opts.MaxTTL, true
	}
	return ttl, false
}

// MaxTTL is the longest lifetime a token may have.
func (s *Service) MaxTTL() time.Duration { return s.opts.MaxTTL }

// Issue signs a token for id, valid for ttl (which callers take from Lifetime).
func (s *Service) Issue(id kubegate.Identity, ttl time.Duration) (Issued, error) {
	now := s.opts.Now().UTC().Truncate(time.Second)
	return s.issue(id, now, now.Add(ttl), "", nil)
}

// SessionRef ties together the tokens of one console login, which is renewed
// while it is used: they share its ID (their jti, so that revoking it ends the
// login whichever of its tokens the browser holds) and its start (auth_time).
type SessionRef struct {
	ID      string
	Started time.Time
}

// IssueSession signs a session token for id valid until exp; a zero ref starts a
// new session now. It returns the session the token belongs to.
func (s *Service) IssueSession(id kubegate.Identity, ref SessionRef, exp time.Time) (Issued, SessionRef, error) {
	now := s.opts.Now().UTC().Truncate(time.Second)
	if ref.ID == "" {
		ref.Started = now
	}
	if !exp.After(now) {
		return Issued{}, ref, kubegate.Errorf(kubegate.EUnauthorized, "the session has ended: log in again")
	}
	issued, err := s.issue(id, now, exp.UTC().Truncate(time.Second), ref.ID, jwt.NewNumericDate(ref.Started))
	if err != nil {
		return Issued{}, ref, err
	}
	ref.ID = issued.ID
	return issued, ref, nil
}

func (s *Service) issue(id kubegate.Identity, now, exp time.Time, jti string, authTime *jwt.NumericDate) (Issued, error) {
	if jti == "" {
		b := make([]byte, 16)
		if _, err := io.ReadFull(s.opts.Rand, b); err != nil {
			return Issued{}, err
		}
		jti = hex.EncodeToString(b)
	}
	groups := append([]string{}, id.Groups...)
	claims := &Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.opts.Issuer,
			Subject:   id.UserID,
			ExpiresAt: jwt.NewNumericDate(exp),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        jti,
		},
		Aud:               Audience{s.opts.Audience},
		PreferredUsername: id.Name,
		Groups:            groups,
		AccessKey:         id.AccessKey,
		UserInfo:          UserInfo{Username: id.Name, Groups: groups},
		Epoch:             id.TokenEpoch,
		Scope:             scopeClaim(id.Scope),
		AuthTime:          authTime,
	}
	s.mu.RLock()
	kid, signer := s.signKID, s.signKey
	s.mu.RUnlock()
	t := jwt.NewWithClaims(jwt.GetSigningMethod(s.opts.Algorithm), claims)
	t.Header["kid"] = kid
	var key any = signer
	if s.opts.Algorithm == HS256 {
		key = s.opts.HMACSecret
	}
	signed, err := t.SignedString(key)
	if err != nil {
		return Issued{}, fmt.Errorf("signing token: %w", err)
	}
	return Issued{Token: signed, ID: jti, IssuedAt: now, ExpiresAt: exp}, nil
}

// Verify checks a token's signature (configured algorithm, known kid), claims
// (iss, aud, exp, nbf, iat) and that it was not revoked. Verified tokens are cached
// until they expire, keyed by their hash, so a token seen before costs two map
// lookups; revocation is checked on every call.
func (s *Service) Verify(raw string) (*Claims, error) {
	claims, err := s.verify(raw)
	if err != nil {
		return nil, err
	}
	if s.isRevoked(claims) {
		return nil, kubegate.Errorf(kubegate.EUnauthorized, "token revoked: logged out")
	}
	return claims, nil
}

func (s *Service) verify(raw string) (*Claims, error) {
	sum := sha256.Sum256([]byte(raw))
	now := s.opts.Now()
	s.cacheMu.RLock()
	e, ok := s.cache[sum]
	s.cacheMu.RUnlock()
	if ok {
		if now.Before(e.exp.Add(s.opts.Leeway)) {
			return e.claims, nil
		}
	}
	claims := &Claims{}
	_, err := s.parser.ParseWithClaims(raw, claims, s.keyFor)
	if err != nil {
		return nil, kubegate.Errorf(kubegate.EUnauthorized, "invalid bearer token: %s", reason(err))
	}
	s.cacheMu.Lock()
	if len(s.cache) >= s.opts.CacheSize {
		for k, v := range s.cache {
			if !now.Before(v.exp) {
				delete(s.cache, k)
			}
		}
		if len(s.cache) >= s.opts.CacheSize {
			s.cache = map[[32]byte]cacheEntry{}
		}
	}
	s.cache[sum] = cacheEntry{claims: claims, exp: claims.ExpiresAt.Time}
	s.cacheMu.Unlock()
	return claims, nil
}

func (s *Service) keyFor(t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	s.mu.RLock()
	k, ok := s.keys[kid]
	s.mu.RUnlock()
	if !ok {
		return nil, errUnknownKID
	}
	if k.alg != t.Method.Alg() {
		return nil, jwt.ErrTokenSignatureInvalid
	}
	return k.key, nil
}

var errUnknownKID = errors.New("unknown signing key (kid)")

// reason turns a jwt error into a short, caller-safe phrase.
func reason(err error) string {
	switch {
	case errors.Is(err, errUnknownKID):
		return "unknown signing key (kid)"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "not valid yet"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "wrong issuer"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "wrong audience"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrSignatureInvalid):
		return "bad signature"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return "unsupported signing algorithm"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "a required claim is missing"
	default:
		return "malformed"
	}
}

// JWKS returns the public keys as a JSON Web Key Set.
func (s *Service) JWKS() []byte {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.jwks
}

// Algorithm is the signing algorithm.
func (s *Service) Algorithm() string { return s.opts.Algorithm }

type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
}

func toJWK(kid, alg string, pub crypto.PublicKey) jwk {
	b64 := base64.RawURLEncoding
	j := jwk{Kid: kid, Alg: alg, Use: "sig"}
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		ecdh, err := p.ECDH()
		if err == nil {
			raw := ecdh.Bytes() // 0x04 || X || Y, fixed width
			size := (len(raw) - 1) / 2
			j.Kty, j.Crv, j.X, j.Y = "EC", "P-256", b64.EncodeToString(raw[1:1+size]), b64.EncodeToString(raw[1+size:])
		}
	case *rsa.PublicKey:
		j.Kty, j.N, j.E = "RSA", b64.EncodeToString(p.N.Bytes()), b64.EncodeToString(big.NewInt(int64(p.E)).Bytes())
	}
	return j
}

// Issuer is the iss claim of issued tokens.
func (s *Service) Issuer() string { return s.opts.Issuer }

// Family is what a token came from, the unit a logout loop is bounded by: its
// access key, else its user's console sessions.
func Family(accessKey, userID string) string {
	if accessKey != "" {
		return accessKey
	}
	return "session:" + userID
}

// familyOf is a verified token's family and when it joined it: a renewed session
// token counts from its login.
func familyOf(c *Claims) (string, time.Time) {
	issued := time.Time{}
	if c.IssuedAt != nil {
		issued = c.IssuedAt.Time
	}
	if c.AuthTime != nil {
		issued = c.AuthTime.Time
	}
	return Family(c.AccessKey, c.Subject), issued
}

// Revoke refuses the token with this ID from now on, on every replica, until it
// would have expired anyway. issuedAt is when it (a session: its login) was
// issued. Once its family has MaxRevokedPerFamily single revocations, every token
// of the family issued until now is revoked instead, as one row: a script that
// exchanges and logs out in a loop costs the table one row per family, and ends
// its own other tokens of the moment.
func (s *Service) Revoke(ctx context.Context, tokenID, family string, issuedAt, expiresAt time.Time) error {
	if tokenID == "" {
		return nil
	}
	// Kept past the expiry by the leeway Verify grants it, or the token would
	// work again in those seconds once the revocation is pruned.
	expiresAt = expiresAt.Add(s.opts.Leeway)
	s.revokedMu.RLock()
	full := s.singles[family] >= s.opts.MaxRevokedPerFamily
	s.revokedMu.RUnlock()
	t := kubegate.RevokedToken{ID: tokenID, Family: family, IssuedAt: issuedAt, ExpiresAt: expiresAt}
	if full {
		// iat has whole seconds: refuse the current second too, or a token issued
		// in it after now would be refused and one before it not.
		before := s.opts.Now().Truncate(time.Second).Add(time.Second)
		t = kubegate.RevokedToken{ID: kubegate.FamilyRevocation(family), Family: family, IssuedAt: before,
			ExpiresAt: later(expiresAt, before.Add(s.opts.MaxTTL+s.opts.Leeway))}
	}
	if err := s.opts.Store.RevokeToken(ctx, t); err != nil {
		return err
	}
	// This replica refuses it at once, without waiting for its own notification.
	s.revokedMu.Lock()
	if full {
		s.families[family] = later(s.families[family], t.IssuedAt)
	} else {
		s.revoked[tokenID] = expiresAt
		s.singles[family]++
	}
	s.revokedMu.Unlock()
	return nil
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func (s *Service) isRevoked(c *Claims) bool {
	family, issued := familyOf(c)
	s.revokedMu.RLock()
	defer s.revokedMu.RUnlock()
	if _, ok := s.revoked[c.ID]; ok {
		return true
	}
	before, ok := s.families[family]
	return ok && issued.Before(before)
}

func (s *Service) loadRevoked(ctx context.Context) error {
	tokens, err := s.opts.Store.ListRevokedTokens(ctx, s.opts.Now())
	if err != nil {
		return fmt.Errorf("loading revoked tokens: %w", err)
	}
	m := make(map[string]time.Time, len(tokens))
	families, singles := map[string]time.Time{}, map[string]int{}
	for _, t := range tokens {
		if t.WholeFamily() {
			families[t.Family] = t.IssuedAt
			continue
		}
		m[t.ID] = t.ExpiresAt
		singles[t.Family]++
	}
	s.revokedMu.Lock()
	s.revoked, s.families, s.singles = m, families, singles
	s.revokedMu.Unlock()
	return nil
}
