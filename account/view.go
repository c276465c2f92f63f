package account

import (
	"context"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/kubegate/kubegate"
)

// view is an in-memory copy of every user and access key, kept fresh by the
// store's change notifications. Exchanges and validity checks read it, so no
// request needs a database query, and a key deleted or disabled on any replica is
// refused everywhere as soon as its change arrives (milliseconds with PostgreSQL's
// notifications, a poll interval with SQLite).
type view struct {
	store  kubegate.Store
	logger *slog.Logger

	mu    sync.RWMutex
	keys  map[string]kubegate.AccessKey // by access key
	users map[string]kubegate.User      // by ID
	teams map[string]kubegate.Team      // by name
	// memberOf is, by user ID, the names of the user's teams, sorted: derived from
	// teams on every change of one.
	memberOf map[string][]string

	fetching chan struct{} // bounds the store lookups of fetchKey
	// misses are access keys fetchKey found nowhere lately, so that repeating a
	// made-up key costs the store nothing.
	misses map[string]time.Time
	// gen counts the changes applied, so that fetchKey does not keep what a
	// change (a delete, a disable) overtook while it read.
	gen uint64
}

func newView(store kubegate.Store, logger *slog.Logger) *view {
	return &view{store: store, logger: logger, keys: map[string]kubegate.AccessKey{}, users: map[string]kubegate.User{},
		teams: map[string]kubegate.Team{}, memberOf: map[string][]string{}, fetching: make(chan struct{}, 4), misses: map[string]time.Time{}}
}

func (v *view) load(ctx context.Context) error {
	users, _, err := v.store.ListUsers(ctx, kubegate.Page{})
	if err != nil {
		return err
	}
	keys, err := v.store.ListAccessKeys(ctx, "")
	if err != nil {
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
	teams, err := v.store.ListTeams(ctx)
	if err != nil {
		return err
	}
	tm := make(map[string]kubegate.Team, len(teams))
	for _, t := range teams {
		tm[t.Name] = t
	}
	v.mu.Lock()
	v.users, v.keys, v.teams = um, km, tm
	v.memberOf = membership(tm)
	v.gen++
	v.mu.Unlock()
	return nil
}

// apply re-reads the entity a change names. The service calls it after its own
// writes too, so its replica never lags behind.
func (v *view) apply(ctx context.Context, c kubegate.Change) {
	var err error
	switch c.Kind {
	case kubegate.ChangeResync:
		err = v.load(ctx)
	case kubegate.ChangeUser:
		var u kubegate.User
		u, err = v.store.GetUser(ctx, c.Key)
		v.mu.Lock()
		v.gen++
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
		v.gen++
		if err == nil {
			v.keys[c.Key] = k
		} else if kubegate.ErrorCode(err) == kubegate.ENotFound {
			delete(v.keys, c.Key)
			err = nil
		}
		v.mu.Unlock()
	case kubegate.ChangeTeam:
		var t kubegate.Team
		t, err = v.store.GetTeam(ctx, c.Key)
		v.mu.Lock()
		v.gen++
		if err == nil {
			v.teams[c.Key] = t
		} else if kubegate.ErrorCode(err) == kubegate.ENotFound {
			delete(v.teams, c.Key)
			err = nil
		}
		v.memberOf = membership(v.teams)
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
		case kubegate.ChangeTeam: // its members act without it until it is read again
			delete(v.teams, c.Key)
			v.memberOf = membership(v.teams)
		}
		v.mu.Unlock()
	}
}

// key returns the access key, if it exists.
func (v *view) key(accessKey string) (kubegate.AccessKey, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	k, ok := v.keys[accessKey]
	return k, ok
}

// fetchKey reads an access key the view does not have from the store, with its
// user, and keeps them: another replica may have made it a moment ago, faster
// than its change reaches this one, and a script that exchanges a key just made
// in the console must not be told it does not exist. Lookups of keys nobody made
// are what guessing costs, so few run at once and the rest are misses.
func (v *view) fetchKey(accessKey string) (kubegate.AccessKey, bool) {
	if accessKey == "" || len(accessKey) > 128 {
		return kubegate.AccessKey{}, false
	}
	now := time.Now()
	v.mu.RLock()
	missed, ok := v.misses[accessKey]
	v.mu.RUnlock()
	if ok && now.Sub(missed) < missTTL {
		return kubegate.AccessKey{}, false
	}
	select {
	case v.fetching <- struct{}{}:
		defer func() { <-v.fetching }()
	default:
		return kubegate.AccessKey{}, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	// A change applied while we read (often this very key's own notice, which
	// races the first use on another replica) may have overtaken what we read:
	// take what the change left, or read again.
	for range 3 {
		v.mu.RLock()
		gen := v.gen
		v.mu.RUnlock()
		k, u, err := v.read(ctx, accessKey)
		if err != nil {
			if kubegate.ErrorCode(err) == kubegate.ENotFound {
				v.miss(accessKey, now)
			}
			return kubegate.AccessKey{}, false
		}
		v.mu.Lock()
		if v.gen != gen {
			k, ok := v.keys[accessKey]
			_, known := v.users[k.UserID]
			v.mu.Unlock()
			if ok && known {
				return k, true
			}
			continue
		}
		if u != nil {
			v.users[u.ID] = *u
		}
		v.keys[k.AccessKey] = k
		v.mu.Unlock()
		return k, true
	}
	return kubegate.AccessKey{}, false
}

// read reads an access key from the store, and its user when the view does not
// know it.
func (v *view) read(ctx context.Context, accessKey string) (kubegate.AccessKey, *kubegate.User, error) {
	k, err := v.store.GetAccessKey(ctx, accessKey)
	if err != nil {
		return kubegate.AccessKey{}, nil, err
	}
	if _, known := v.user(k.UserID); known {
		return k, nil, nil
	}
	u, err := v.store.GetUser(ctx, k.UserID)
	if err != nil {
		return kubegate.AccessKey{}, nil, err
	}
	return k, &u, nil
}

// missTTL is how long a key found nowhere is not looked up again: far longer
// than guessing could use, far shorter than anyone waits after making a key.
const missTTL = 5 * time.Second

// maxMisses bounds the misses remembered; past it the expired go, and if none
// has expired, all.
const maxMisses = 10_000

func (v *view) miss(accessKey string, now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.misses) >= maxMisses {
		for k, at := range v.misses {
			if now.Sub(at) >= missTTL {
				delete(v.misses, k)
			}
		}
		if len(v.misses) >= maxMisses {
			clear(v.misses)
		}
	}
	v.misses[accessKey] = now
}

// user returns the user with id, if it exists.
func (v *view) user(id string) (kubegate.User, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	u, ok := v.users[id]
	return u, ok
}

func (v *view) search(search string, p kubegate.Page) ([]kubegate.User, int) {
	v.mu.RLock()
	var found []kubegate.User
	for _, u := range v.users {
		if search == "" || strings.Contains(strings.ToLower(u.Name), search) || strings.Contains(strings.ToLower(u.Email), search) ||
			strings.Contains(strings.ToLower(u.FirstName), search) || strings.Contains(strings.ToLower(u.LastName), search) {
			found = append(found, u)
		}
	}
	v.mu.RUnlock()
	sort.Slice(found, func(i, j int) bool { return found[i].Name < found[j].Name })
	total := len(found)
	start := min(p.Offset, total)
	end := total
	if p.Limit > 0 {
		end = min(start+p.Limit, total)
	}
	return found[start:end], total
}
