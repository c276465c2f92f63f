package kubegate

import (
	"time"
)

// User is a person (or robot) who logs in to the console and owns access keys.
type User struct {
	ID           string
	Name         string // unique login name
	Email        string
	FirstName    string
	LastName     string
	Description  string
	PasswordHash string // a slow KDF's encoded output; never a password
	Enabled      bool
	Admin        bool
	Source       string // where the account comes from: "local", or an identity provider
	// TokenEpoch rises when the password changes or the user is disabled: tokens
	// carry the epoch they were issued in, and older ones are refused.
	TokenEpoch  int64
	CreatedAt   time.Time
	UpdatedAt   time.Time
	LastLoginAt time.Time // zero: never
}

// KeyStatus says whether an access key can be exchanged for tokens.
type KeyStatus string

// Access key statuses, spelled as in KubeCube and DCE.
const (
	KeyActive   KeyStatus = "Active"
	KeyInactive KeyStatus = "Inactive"
)

// KeyKind says what an access key is for.
type KeyKind string

// Key kinds.
const (
	// KindKey is an AK/SK pair, exchanged for tokens (KubeCube, DCE's ak/sk).
	KindKey KeyKind = "key"
	// KindPersonalToken is a personal access token (DCE 5.0): its secret, with
	// the access key, is itself the bearer token.
	KindPersonalToken KeyKind = "token"
)

// AccessKey is one AK/SK pair, or a personal access token. The secret is stored
// only as a hash.
type AccessKey struct {
	ID          string
	Kind        KeyKind // "" reads as KindKey
	Name        string  // a personal token's name
	AccessKey   string  // the public half, unique
	SecretHash  []byte
	UserID      string
	Description string
	Status      KeyStatus
	Scope       Scope
	CreatedAt   time.Time
	ExpiresAt   time.Time // zero: never

	LastUsedAt        time.Time // zero: never
	LastUsedIP        string
	LastUsedUserAgent string
}

// KeyUse records one successful exchange of an access key, applied in batches.
type KeyUse struct {
	AccessKey string
	At        time.Time
	IP        string
	UserAgent string
}
