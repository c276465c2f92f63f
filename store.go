package kubegate

import (
	"context"
	"time"
)

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
	ChangeTeam       ChangeKind = "team"
	ChangeGrant      ChangeKind = "grant"
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
	// DeleteUser deletes the user, their access keys and their team memberships.
	DeleteUser(ctx context.Context, id string) error

	// CreateTeam stores a team and its members (user IDs; one that is not a user
	// is EInvalid).
	CreateTeam(ctx context.Context, t Team) error
	GetTeam(ctx context.Context, name string) (Team, error)
	// ListTeams returns every team with its members, ordered by name.
	ListTeams(ctx context.Context) ([]Team, error)
	// UpdateTeam replaces a team's description and members.
	UpdateTeam(ctx context.Context, name string, update func(Team) (Team, error)) (Team, error)
	DeleteTeam(ctx context.Context, name string) error

	// CreateGrant stores a grant whose subject (a user or a team) exists,
	// EInvalid otherwise. A grant goes with its subject, announced as a change
	// of the grant.
	CreateGrant(ctx context.Context, g Grant) error
	// GetGrant and ListGrants (by creation) return grants with their status.
	GetGrant(ctx context.Context, id string) (Grant, error)
	ListGrants(ctx context.Context) ([]Grant, error)
	DeleteGrant(ctx context.Context, id string) error
	// PutGrantStatus records the state of the grant id in one cluster; a grant
	// deleted meanwhile gets none. It sends no change notification.
	PutGrantStatus(ctx context.Context, id string, s GrantStatus) error

	// Lead blocks until this process holds the leadership called name among
	// every replica sharing the store, or ctx ends. The context it returns ends
	// when the leadership is lost (the database connection holding it broke) or
	// release is called.
	Lead(ctx context.Context, name string) (lead context.Context, release func(), err error)

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
