package kubegate

import (
	"time"
)

// SigningKey is a token signing key. Retired keys still verify tokens until those
// expire, then are deleted.
type SigningKey struct {
	KID        string
	Algorithm  string // ES256, RS256, HS256
	PrivateKey []byte // PKCS#8 DER (or the HMAC secret); stored encrypted
	CreatedAt  time.Time
	RetiredAt  time.Time // zero: current
}

// RevokedToken is a token refused before its expiry (a logout) or, when its ID
// is FamilyRevocation(Family), every token of Family issued before IssuedAt: what
// a family gets once it has logged out too many tokens, so that exchanging and
// logging out in a loop cannot grow the table without bound.
type RevokedToken struct {
	ID string // the jti claim
	// Family is what the token came from: its access key, or the user's console
	// sessions (see token.Family).
	Family string
	// IssuedAt is when the token was issued; of a family revocation, the time
	// before which the family's tokens are refused.
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// FamilyRevocation is the ID of the revocation of a whole family.
func FamilyRevocation(family string) string { return "family:" + family }

// WholeFamily says whether t revokes every token of its family issued before
// t.IssuedAt.
func (t RevokedToken) WholeFamily() bool { return t.Family != "" && t.ID == FamilyRevocation(t.Family) }
