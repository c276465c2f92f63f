package account

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/kubegate/kubegate"
)

// View is an in-memory copy of every user and access key, kept fresh by the
// store's change notifications. Token exchange and verification read it, so no
// request needs a database query, and a key deleted or disabled on any replica is
// refused everywhere as soon as its change arrives (milliseconds with PostgreSQL's
// notifications, a poll interval with SQLite).
type View struct {
	store  kubegate.Store
	logger *slog.Logger
	now    func() time.Time

	mu      sync.RWMutex
	keys    map[string]kubegate.AccessKey // by access key
	users   map[string]kubegate.User      // by ID
	revoked map[string]time.Time          // token ID → when it expires anyway
}

// NewView returns an empty view; Start fills it. now is the clock (time.Now when nil).
func NewView(store kubegate.Store, logger *slog.Logger, now func() time.Time) *View {
	if now == nil {
		now = time.Now
	}
	return &View{store: store, logger: logger, now: now, keys: map[string]kubegate.AccessKey{}, users: map[string]kubegate.User{}, revoked: map[string]time.Time{}}
}

// Load reads every user, key and revoked token. The caller starts watching the
// store before loading, so that no change falls between the two, and hands each
// change to Handle.
func (v *View) Load(ctx context.Context) error { return v.reload(ctx) }

// Handle applies a store change.
func (v *View) Handle(ctx context.Context, c kubegate.Change) { v.Refresh(ctx, c) }

func (v *View) reload(ctx context.Context) error {
	users, _, err := v.store.ListUsers(ctx, kubegate.Page{})
	if err != nil {
		return err
	}
	keys, err := v.store.ListAccessKeys(ctx, "")
	if err != nil {
		return err
	}
	if err := v.reloadRevoked(ctx); err != nil {
		return err
	}
	um := make(map[string]kubegate.User, len(users))
	for _, u := range users {
		um[u.ID] = u
	}
	km := make(map[string]kubegate.AccessKey, len(keys))
	for _, k := range keys {
		km[k.AccessKey] = k
	}
	v.mu.Lock()
	v.users, v.keys = um, km
	v.mu.Unlock()
	return nil
}

func (v *View) reloadRevoked(ctx context.Context) error {
	tokens, err := v.store.ListRevokedTokens(ctx, v.now())
	if err != nil {
		return err
	}
	m := make(map[string]time.Time, len(tokens))
	for _, t := range tokens {
		m[t.ID] = t.ExpiresAt
	}
	v.mu.Lock()
	v.revoked = m
	v.mu.Unlock()
	return nil
}

// Revoked reports whether the token with this ID was revoked.
func (v *View) Revoked(tokenID string) bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	_, ok := v.revoked[tokenID]
	return ok
}

// Refresh re-reads the entity a change names. Callers that changed the store
// themselves call it too, so their own replica never lags behind.
func (v *View) Refresh(ctx context.Context, c kubegate.Change) {
	var err error
	switch c.Kind {
	case kubegate.ChangeResync:
		err = v.reload(ctx)
	case kubegate.ChangeToken:
		err = v.reloadRevoked(ctx)
	case kubegate.ChangeUser:
		var u kubegate.User
		u, err = v.store.GetUser(ctx, c.Key)
		v.mu.Lock()
		if err == nil {
			v.users[c.Key] = u
		} else if kubegate.ErrorCode(err) == kubegate.ENotFound {
			delete(v.users, c.Key)
			err = nil
		}
		v.mu.Unlock()
	case kubegate.ChangeAccessKey:
		var k kubegate.AccessKey
		k, err = v.store.GetAccessKey(ctx, c.Key)
		v.mu.Lock()
		if err == nil {
			v.keys[c.Key] = k
		} else if kubegate.ErrorCode(err) == kubegate.ENotFound {
			delete(v.keys, c.Key)
			err = nil
		}
		v.mu.Unlock()
	default:
		return
	}
	if err != nil && ctx.Err() == nil {
		// Fail closed: an entity we cannot re-read is dropped, so its tokens are
		// refused until the next successful refresh.
		v.logger.Warn("refreshing the account view failed; dropping the entity", "kind", c.Kind, "err", err)
		v.mu.Lock()
		switch c.Kind {
		case kubegate.ChangeUser:
			delete(v.users, c.Key)
		case kubegate.ChangeAccessKey:
			delete(v.keys, c.Key)
		}
		v.mu.Unlock()
	}
}

// Key returns the access key, if it exists.
func (v *View) Key(accessKey string) (kubegate.AccessKey, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	k, ok := v.keys[accessKey]
	return k, ok
}

// User returns the user with id, if it exists.
func (v *View) User(id string) (kubegate.User, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	u, ok := v.users[id]
	return u, ok
}
