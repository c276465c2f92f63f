package kubegate

import (
	"context"
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

// ClusterCredentials is how the gateway authenticates to a cluster. It is stored
// encrypted and never returned by the API.
type ClusterCredentials struct {
	BearerToken string `json:"bearerToken,omitempty"`
	// BearerTokenFile is re-read as it rotates (the in-cluster service account).
	BearerTokenFile string `json:"bearerTokenFile,omitempty"`
	ClientCertData  []byte `json:"clientCertData,omitempty"`
	ClientKeyData   []byte `json:"clientKeyData,omitempty"`
	Username        string `json:"username,omitempty"`
	Password        string `json:"password,omitempty"`
}

// ClusterHealth is the outcome of the last health check of a cluster. It is the
// runtime state of each replica, kept in its memory and never stored: it is not
// configuration, and writing it would notify every replica of every flap.
type ClusterHealth struct {
	Status    string // Ready, Unreachable, Unauthorized, Unknown
	Version   string // the cluster's Kubernetes version, when reachable
	Message   string
	CheckedAt time.Time
}

// ListCacheStatus is what the list cache does for one cluster: the collections
// it holds, and those the gateway may not cache (their lists are answered by
// the cluster), with why.
type ListCacheStatus struct {
	Enabled     bool // the gateway runs a list cache (--list-cache)
	Collections []CachedCollection
	Refused     []RefusedCollection
}

// CachedCollection is one collection the list cache holds.
type CachedCollection struct {
	Path    string // cluster-wide, e.g. /apis/apps/v1/deployments
	Objects int
	Healthy bool // its watch is healthy: the cache answers
}

// RefusedCollection is a collection the gateway's identity may not list and
// watch.
type RefusedCollection struct {
	Path     string
	Resource string // e.g. deployments.apps
	Reason   string
}

// Cluster is a Kubernetes cluster registered with the gateway.
type Cluster struct {
	Name                  string // unique
	Server                string // the apiserver URL
	CAData                []byte // PEM; empty: system roots
	TLSServerName         string
	InsecureSkipTLSVerify bool
	Credentials           ClusterCredentials
	Description           string
	Labels                map[string]string
	CreatedAt             time.Time
	UpdatedAt             time.Time
}

// SigningKey is a token signing key. Retired keys still verify tokens until those
// expire, then are deleted.
type SigningKey struct {
	KID        string
	Algorithm  string // ES256, RS256, HS256
	PrivateKey []byte // PKCS#8 DER (or the HMAC secret); stored encrypted
	CreatedAt  time.Time
	RetiredAt  time.Time // zero: current
}

// AuditEvent is one API call through the gateway.
type AuditEvent struct {
	ID         int64
	Time       time.Time
	RequestID  string
	User       string
	UserID     string
	AccessKey  string
	Cluster    string
	Verb       string
	Path       string
	StatusCode int
	Latency    time.Duration
	SourceIP   string
	// Scope is the credential's scope decision: "" (no scope), "allowed", or
	// "refused: <part>".
	Scope string
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

// WriteMark is what the answers of one cluster's collection must reflect after
// the writes any replica carried to it lately: read-your-writes across replicas
// (the cached list path waits for it, see kubeproxy).
type WriteMark struct {
	Cluster, Group, Resource string
	// ResourceVersion: the answers hold at least this version.
	ResourceVersion uint64
	// Gone are objects deleted at once, which the answers must not hold.
	Gone []DeletedObject
	// Strict counts the writes whose effect the gateway could not read (a
	// deletecollection, an answer that is not JSON): after each, the next answer
	// is strict. It only rises, so a reader remembers the count it has settled.
	Strict int64
	At     time.Time // the last write
}

// MaxWriteMarkGone bounds a mark's Gone; past it, the mark counts one more
// strict write instead.
const MaxWriteMarkGone = 64

// DeletedObject is an object deleted as it was at ResourceVersion (0: whatever
// its version): a cache reflects the delete once it holds no object of the name
// at that version or older.
type DeletedObject struct {
	Namespace, Name string
	ResourceVersion uint64
}

// Merge folds later into m: the higher version, the gone objects joined (past
// MaxWriteMarkGone, one strict write instead), the strict writes added. A mark
// last written before since starts afresh but keeps its strict count, which
// only rises.
func (m WriteMark) Merge(later WriteMark, since time.Time) WriteMark {
	if m.At.Before(since) {
		m = WriteMark{Cluster: m.Cluster, Group: m.Group, Resource: m.Resource, Strict: m.Strict}
	}
	m.ResourceVersion = max(m.ResourceVersion, later.ResourceVersion)
	m.Strict += later.Strict
	m.Gone = append(m.Gone[:len(m.Gone):len(m.Gone)], later.Gone...) // a copy: readers may hold the old slice
	if len(m.Gone) > MaxWriteMarkGone {
		m.Gone, m.Strict = nil, m.Strict+1
	}
	if later.At.After(m.At) {
		m.At = later.At
	}
	return m
}

// FamilyRevocation is the ID of the revocation of a whole family.
func FamilyRevocation(family string) string { return "family:" + family }

// WholeFamily says whether t revokes every token of its family issued before
// t.IssuedAt.
func (t RevokedToken) WholeFamily() bool { return t.Family != "" && t.ID == FamilyRevocation(t.Family) }

// AuditFilter selects audit events; zero fields do not filter.
type AuditFilter struct {
	User      string
	UserID    string
	AccessKey string
	Cluster   string
	// StatusMin and StatusMax bound the response status code, inclusive.
	StatusMin, StatusMax int
	Since                time.Time
	Until                time.Time
}

// Page selects a window of a list: Limit items (0: all) after skipping Offset.
type Page struct {
	Limit  int
	Offset int
}

// ChangeKind names the entity a change notification is about.
type ChangeKind string

// Change kinds.
const (
	ChangeUser       ChangeKind = "user"
	ChangeAccessKey  ChangeKind = "accesskey"
	ChangeCluster    ChangeKind = "cluster"
	ChangeSigningKey ChangeKind = "signingkey"
	ChangeToken      ChangeKind = "token"
	ChangeSetting    ChangeKind = "setting"
	// ChangeResync means changes may have been missed (a lost database connection):
	// a consumer must reload everything it caches.
	ChangeResync ChangeKind = "resync"
)

// Change says that the entity Kind/Key was created, updated or deleted, by this or
// another replica. Consumers reload the entity rather than trusting the event.
type Change struct {
	Kind ChangeKind
	Key  string // user ID, access key, cluster name or kid
}

// Mirror is an in-memory copy of part of the store, kept fresh by its changes. The
// owner opens the store's Watch, then calls Load, then hands every change to Apply,
// so that no change falls in between; ChangeResync means "Load again".
type Mirror interface {
	Load(ctx context.Context) error
	Apply(ctx context.Context, c Change)
}

// Store keeps kubegate's state. Implementations: store/sqlite (embedded, default) and
// store/postgres (shared by replicas). Both pass store/storetest.
//
// Not-found and uniqueness failures are *Error with ENotFound and EConflict. Updates
// take a closure that maps the current value to the new one inside one transaction;
// when it returns an error nothing changes.
type Store interface {
	CreateUser(ctx context.Context, u User) error
	GetUser(ctx context.Context, id string) (User, error)
	GetUserByName(ctx context.Context, name string) (User, error)
	// ListUsers returns users ordered by name, and the total before paging.
	ListUsers(ctx context.Context, p Page) ([]User, int, error)
	UpdateUser(ctx context.Context, id string, update func(User) (User, error)) (User, error)
	// DeleteUser deletes the user and their access keys.
	DeleteUser(ctx context.Context, id string) error

	// CreateAccessKey stores k unless its user already has maxPerUser keys of its
	// kind (EConflict naming the limit); the check and the insert are atomic under
	// concurrency.
	CreateAccessKey(ctx context.Context, k AccessKey, maxPerUser int) error
	GetAccessKey(ctx context.Context, accessKey string) (AccessKey, error)
	// ListAccessKeys returns the keys of userID ("" for all) by creation time.
	ListAccessKeys(ctx context.Context, userID string) ([]AccessKey, error)
	UpdateAccessKey(ctx context.Context, accessKey string, update func(AccessKey) (AccessKey, error)) (AccessKey, error)
	DeleteAccessKey(ctx context.Context, accessKey string) error
	// RecordKeyUses applies a batch of last-use records; a key deleted meanwhile is
	// skipped. It sends no change notification.
	RecordKeyUses(ctx context.Context, uses []KeyUse) error

	CreateCluster(ctx context.Context, c Cluster) error
	GetCluster(ctx context.Context, name string) (Cluster, error)
	// ListClusters returns clusters ordered by name.
	ListClusters(ctx context.Context) ([]Cluster, error)
	UpdateCluster(ctx context.Context, name string, update func(Cluster) (Cluster, error)) (Cluster, error)
	DeleteCluster(ctx context.Context, name string) error

	CreateSigningKey(ctx context.Context, k SigningKey) error
	// ListSigningKeys returns every signing key, newest first.
	ListSigningKeys(ctx context.Context) ([]SigningKey, error)
	UpdateSigningKey(ctx context.Context, kid string, update func(SigningKey) (SigningKey, error)) (SigningKey, error)
	DeleteSigningKey(ctx context.Context, kid string) error

	// RevokeToken records that the token with this ID (jti) is refused until it
	// would have expired anyway; a family revocation (WholeFamily) replaces the
	// family's single revocations it covers and only ever moves later.
	// ListRevokedTokens returns the unexpired ones.
	RevokeToken(ctx context.Context, t RevokedToken) error
	ListRevokedTokens(ctx context.Context, now time.Time) ([]RevokedToken, error)

	// Setting returns the value of the setting name, ENotFound when it was never
	// put; PutSetting replaces it.
	Setting(ctx context.Context, name string) (string, error)
	PutSetting(ctx context.Context, name, value string) error

	AppendAudit(ctx context.Context, events []AuditEvent) error
	// ListAudit returns matching events newest first, and the total before paging.
	ListAudit(ctx context.Context, f AuditFilter, p Page) ([]AuditEvent, int, error)
	// PruneAudit deletes events older than before and says how many went.
	PruneAudit(ctx context.Context, before time.Time) (int64, error)

	// MergeWriteMarks merges each mark into the stored mark of its collection
	// (WriteMark.Merge), atomically under concurrency; WriteMarks returns the
	// stored marks of the collections keys name that were written since.
	// Neither sends a change notification: a reader asks for the marks it needs.
	MergeWriteMarks(ctx context.Context, marks []WriteMark, since time.Time) error
	WriteMarks(ctx context.Context, keys []WriteMark, since time.Time) ([]WriteMark, error)

	// Watch streams changes made from now on, by any store instance on the same
	// database, until ctx is done; the channel is then closed.
	Watch(ctx context.Context) (<-chan Change, error)

	Ping(ctx context.Context) error
	Close() error
}

// Scope narrows what a credential (an access key and the tokens exchanged from
// it, or a personal access token) may do, below what its owner may do: the
// clusters' RBAC still decides inside it. A zero Scope narrows nothing.
type Scope struct {
	// Clusters the credential reaches; empty: every cluster.
	Clusters []string `json:"clusters,omitempty"`
	// Namespaces it reaches: "ns" in any cluster, or "cluster/ns"; empty: every
	// namespace. With namespaces, cluster-wide requests are refused.
	Namespaces []string `json:"namespaces,omitempty"`
	// ReadOnly allows only get, list and watch (and safe methods elsewhere).
	ReadOnly bool `json:"readOnly,omitempty"`
	// Sources are the client addresses or CIDRs it may be used from; empty:
	// anywhere.
	Sources []string `json:"sources,omitempty"`
	// MintCredentials lets a scoped credential make credentials in a cluster
	// (ServiceAccount tokens, certificate signing requests, token Secrets). Off,
	// it may not: such a credential would escape the scope, the gateway's
	// revocation and its audit. It widens nothing by itself.
	MintCredentials bool `json:"mintCredentials,omitempty"`
}

// IsZero says the scope narrows nothing.
func (s Scope) IsZero() bool {
	return len(s.Clusters) == 0 && len(s.Namespaces) == 0 && !s.ReadOnly && len(s.Sources) == 0
}
