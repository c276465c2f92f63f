package token_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/store/sqlite/sqlitetest"
	"github.com/kubegate/kubegate/token"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newStore(t testing.TB) kubegate.Store { return sqlitetest.Open(t) }

func newService(t testing.TB, store kubegate.Store, c *clock, alg string) *token.Service {
	opts := token.Options{Store: store, Algorithm: alg, Issuer: "kubegate-test", Audience: "kubegate", MaxTTL: 7 * 24 * time.Hour, Now: c.now}
	if alg == token.HS256 {
		opts.HMACSecret = bytes.Repeat([]byte("s"), 32)
	}
	s, err := token.New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var alice = kubegate.Identity{UserID: "u-1", Name: "alice", Groups: []string{kubegate.GroupUsers}, AccessKey: "AK1"}

func segments(t *testing.T, raw string) (header, payload map[string]any) {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %s", raw)
	}
	for i, dst := range []*map[string]any{&header, &payload} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatal(err)
		}
	}
	return header, payload
}

func TestIssueAndVerifyInEveryAlgorithm(t *testing.T) {
	for _, alg := range []string{token.ES256, token.RS256, token.HS256} {
		t.Run(alg, func(t *testing.T) {
			c := &clock{time.Now()}
			s := newService(t, newStore(t), c, alg)
			issued, err := s.Issue(alice, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			h, p := segments(t, issued.Token)
			if h["alg"] != alg || h["kid"] == "" || h["kid"] == nil {
				t.Fatalf("header = %v", h)
			}
			if p["exp"].(float64)-p["iat"].(float64) != 3600 || p["sub"] != "u-1" || p["preferred_username"] != "alice" ||
				p["iss"] != "kubegate-test" || p["ak"] != "AK1" || p["jti"] == "" {
				t.Fatalf("payload = %v", p)
			}
			if ui, _ := p["UserInfo"].(map[string]any); ui["username"] != "alice" {
				t.Fatalf("KubeCube's UserInfo claim = %v", p["UserInfo"])
			}
			claims, err := s.Verify(issued.Token)
			if err != nil || claims.Subject != "u-1" || claims.AccessKey != "AK1" {
				t.Fatalf("verify = %+v, %v", claims, err)
			}
		})
	}
}

func TestForgedTokensAreRejected(t *testing.T) {
	c := &clock{time.Now()}
	store := newStore(t)
	s := newService(t, store, c, token.ES256)
	good, err := s.Issue(alice, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	header, _ := segments(t, good.Token)
	kid := header["kid"].(string)
	keys, _ := store.ListSigningKeys(context.Background())
	priv, _ := x509.ParsePKCS8PrivateKey(keys[0].PrivateKey)
	pub := priv.(*ecdsa.PrivateKey).Public()
	pubDER, _ := x509.MarshalPKIXPublicKey(pub)

	claims := func(mod func(*token.Claims)) *token.Claims {
		cl := &token.Claims{
			RegisteredClaims: jwt.RegisteredClaims{
				Issuer: "kubegate-test", Subject: "u-1",
				ExpiresAt: jwt.NewNumericDate(c.t.Add(time.Hour)), IssuedAt: jwt.NewNumericDate(c.t),
			},
			Aud:               token.Audience{"kubegate"},
			PreferredUsername: "alice",
		}
		if mod != nil {
			mod(cl)
		}
		return cl
	}
	sign := func(method jwt.SigningMethod, key any, kid string, cl *token.Claims) string {
		tok := jwt.NewWithClaims(method, cl)
		if kid != "" {
			tok.Header["kid"] = kid
		}
		raw, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	otherKey, _ := ecdsa.GenerateKey(pub.(*ecdsa.PublicKey).Curve, nil)

	parts := strings.Split(good.Token, ".")
	tamperedPayload := base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(mustDecode(t, parts[1]), `"alice"`, `"admin"`, 1)))

	cases := map[string]string{
		"alg none":                        sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, kid, claims(nil)),
		"HS256 keyed with the public key": sign(jwt.SigningMethodHS256, pubDER, kid, claims(nil)),
		"unknown kid":                     sign(jwt.SigningMethodES256, priv, "no-such-kid", claims(nil)),
		"no kid":                          sign(jwt.SigningMethodES256, priv, "", claims(nil)),
		"signed by another key":           sign(jwt.SigningMethodES256, otherKey, kid, claims(nil)),
		"expired":                         sign(jwt.SigningMethodES256, priv, kid, claims(func(c2 *token.Claims) { c2.ExpiresAt = jwt.NewNumericDate(c.t.Add(-time.Hour)) })),
		"no expiry":                       sign(jwt.SigningMethodES256, priv, kid, claims(func(c2 *token.Claims) { c2.ExpiresAt = nil })),
		"not yet valid":                   sign(jwt.SigningMethodES256, priv, kid, claims(func(c2 *token.Claims) { c2.NotBefore = jwt.NewNumericDate(c.t.Add(time.Hour)) })),
		"wrong issuer":                    sign(jwt.SigningMethodES256, priv, kid, claims(func(c2 *token.Claims) { c2.Issuer = "ghippo.io" })),
		"wrong audience":                  sign(jwt.SigningMethodES256, priv, kid, claims(func(c2 *token.Claims) { c2.Aud = token.Audience{"other"} })),
		"tampered payload":                parts[0] + "." + tamperedPayload + "." + parts[2],
		"garbage":                         "not.a.token",
	}
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := s.Verify(raw); kubegate.ErrorCode(err) != kubegate.EUnauthorized {
				t.Fatalf("forged token accepted or wrong error: %v", err)
			}
		})
	}
	// The control: the same machinery with the real key and claims verifies.
	if _, err := s.Verify(sign(jwt.SigningMethodES256, priv, kid, claims(nil))); err != nil {
		t.Fatalf("a correctly signed token was refused: %v", err)
	}
	// A cached token stops verifying once it expires.
	c.t = c.t.Add(2 * time.Hour)
	if _, err := s.Verify(good.Token); err == nil {
		t.Fatal("an expired token was served from the cache")
	}
}

func mustDecode(t *testing.T, s string) string {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Rotation: new tokens carry the new kid, old tokens keep verifying, another
// replica sharing the store verifies both, and the JWKS lists both keys.
func TestRotationKeepsOldTokensValidAcrossReplicas(t *testing.T) {
	c := &clock{time.Now()}
	store := newStore(t)
	a := newService(t, store, c, token.ES256)
	b := newService(t, store, c, token.ES256) // a replica: must reuse, not create, keys
	before, _ := a.Issue(alice, time.Hour)
	if err := a.Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	after, _ := a.Issue(alice, time.Hour)
	h1, _ := segments(t, before.Token)
	h2, _ := segments(t, after.Token)
	if h1["kid"] == h2["kid"] {
		t.Fatal("rotation did not change the kid")
	}
	if err := b.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{before.Token, after.Token} {
		if _, err := b.Verify(tok); err != nil {
			t.Fatalf("replica refused a token: %v", err)
		}
	}
	var jwks struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(b.JWKS(), &jwks); err != nil || len(jwks.Keys) != 2 {
		t.Fatalf("jwks = %s, %v", b.JWKS(), err)
	}
	for _, k := range jwks.Keys {
		if k["kty"] != "EC" || k["crv"] != "P-256" || k["x"] == "" || k["y"] == "" || k["alg"] != "ES256" || k["d"] != "" {
			t.Fatalf("jwk = %v", k)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	c := &clock{time.Now()}
	s := newService(b, newStore(b), c, token.ES256)
	issued, _ := s.Issue(alice, time.Hour)
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Verify(issued.Token); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifications/s")
	})
	b.Run("unseen", func(b *testing.B) {
		toks := make([]string, b.N)
		for i := range toks {
			t, _ := s.Issue(alice, time.Hour)
			toks[i] = t.Token
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			if _, err := s.Verify(toks[i]); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifications/s")
	})
	b.Run("issue", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Issue(alice, time.Hour); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// A revoked token is refused at once by the replica that revoked it, and by
// another replica once the change reaches it, even when it had verified (and
// cached) the token before.
func TestRevocationReachesEveryReplica(t *testing.T) {
	ctx := context.Background()
	c := &clock{time.Now()}
	st := newStore(t)
	a, b := newService(t, st, c, token.ES256), newService(t, st, c, token.ES256)
	if err := b.Load(ctx); err != nil {
		t.Fatal(err)
	}
	issued, err := a.Issue(alice, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := b.Verify(issued.Token)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Revoke(ctx, claims.ID, token.Family(claims.AccessKey, claims.Subject), claims.IssuedAt.Time, claims.ExpiresAt.Time); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Verify(issued.Token); kubegate.ErrorCode(err) != kubegate.EUnauthorized || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("the revoking replica: %v", err)
	}
	b.Apply(ctx, kubegate.Change{Kind: kubegate.ChangeToken, Key: claims.ID})
	if _, err := b.Verify(issued.Token); kubegate.ErrorCode(err) != kubegate.EUnauthorized {
		t.Fatalf("the other replica still accepts a revoked token: %v", err)
	}
	other, _ := a.Issue(alice, time.Hour)
	if _, err := b.Verify(other.Token); err != nil {
		t.Fatalf("an unrelated token is refused: %v", err)
	}
}

// Exchanging and logging out in a loop costs the revocation table at most
// MaxRevokedPerFamily rows and one: past them a logout revokes every token of its
// access key issued so far, as one row, on every replica; tokens of other keys,
// and of this key issued afterwards, still work.
func TestALogoutLoopIsBoundedPerFamily(t *testing.T) {
	ctx := context.Background()
	c := &clock{time.Now()}
	st := newStore(t)
	a, b := newService(t, st, c, token.ES256), newService(t, st, c, token.ES256)
	logout := func(s *token.Service, raw string) {
		t.Helper()
		claims, err := s.Verify(raw)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Revoke(ctx, claims.ID, token.Family(claims.AccessKey, claims.Subject), claims.IssuedAt.Time, claims.ExpiresAt.Time); err != nil {
			t.Fatal(err)
		}
	}
	bob := kubegate.Identity{UserID: "u-2", Name: "bob", AccessKey: "AK2"}
	bobs, _ := a.Issue(bob, time.Hour)
	alive, _ := a.Issue(alice, time.Hour) // alice's other script, mid-run
	for range 250 {
		issued, err := a.Issue(alice, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		logout(a, issued.Token)
		c.t = c.t.Add(time.Second)
	}
	rows, err := st.ListRevokedTokens(ctx, c.t)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) > 101 {
		t.Fatalf("250 logouts of one key left %d revocations, want at most 101", len(rows))
	}
	if err := b.Load(ctx); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*token.Service{"the revoking replica": a, "another replica": b} {
		if _, err := s.Verify(alive.Token); kubegate.ErrorCode(err) != kubegate.EUnauthorized {
			t.Errorf("%s accepts a token of the family issued before its revocation: %v", name, err)
		}
		if _, err := s.Verify(bobs.Token); err != nil {
			t.Errorf("%s refuses another key's token: %v", name, err)
		}
	}
	c.t = c.t.Add(time.Second)
	fresh, _ := a.Issue(alice, time.Hour)
	if _, err := b.Verify(fresh.Token); err != nil {
		t.Fatalf("a token of the key issued after the family revocation: %v", err)
	}
}

func TestLifetimePolicy(t *testing.T) {
	s, err := token.New(context.Background(), token.Options{Store: newStore(t), Algorithm: token.ES256, DefaultTTL: time.Hour, MaxTTL: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		requested, fallback, want time.Duration
		clamped                   bool
	}{
		{0, 0, time.Hour, false},
		{0, 3 * time.Hour, 3 * time.Hour, false},
		{30 * time.Minute, 3 * time.Hour, 30 * time.Minute, false},
		{48 * time.Hour, 0, 24 * time.Hour, true},
		{0, 72 * time.Hour, 24 * time.Hour, true},
	} {
		if got, clamped := s.Lifetime(tc.requested, tc.fallback); got != tc.want || clamped != tc.clamped {
			t.Errorf("Lifetime(%s, %s) = %s, %v; want %s, %v", tc.requested, tc.fallback, got, clamped, tc.want, tc.clamped)
		}
	}
}

// An array audience (older kubegate tokens, other issuers) still verifies; one
// audience is written as a plain string.
func TestAudienceReadsBothForms(t *testing.T) {
	c := &clock{time.Now()}
	s := newService(t, newStore(t), c, token.HS256)
	issued, err := s.Issue(alice, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, p := segments(t, issued.Token); p["aud"] != "kubegate" {
		t.Fatalf("aud = %#v, want the string kubegate", p["aud"])
	}
	var a token.Audience
	if err := a.UnmarshalJSON([]byte(`["kubegate","other"]`)); err != nil || len(a) != 2 {
		t.Fatalf("array audience = %v, %v", a, err)
	}
}
