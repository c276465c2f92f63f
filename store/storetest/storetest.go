// Package storetest is the conformance suite every kubegate.Store backend runs: the
// behaviour the rest of kubegate relies on, written once.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kubegate/kubegate"
)

// Factory prepares a fresh, empty database for one test and returns a function that
// opens a store instance on it; calling it twice gives two instances on the same
// database, as two replicas would have. Instances are closed by the test's cleanup.
type Factory func(t *testing.T) (open func(t *testing.T) kubegate.Store)

// Run runs the whole suite.
func Run(t *testing.T, f Factory) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open func(*testing.T) kubegate.Store)
	}{
		{"Users", testUsers},
		{"UserListOrderAndPaging", testUserPaging},
		{"UpdateClosureErrorChangesNothing", testFailedClosures},
		{"ConcurrentUpdatesLoseNothing", testConcurrentUpdates},
		{"AccessKeys", testAccessKeys},
		{"AccessKeyLimit", testKeyLimit},
		{"AccessKeyLimitUnderConcurrency", testKeyLimitConcurrent},
		{"DeletingUserDeletesKeys", testDeleteUserCascades},
		{"RecordKeyUses", testKeyUses},
		{"Clusters", testClusters},
		{"Teams", testTeams},
		{"Grants", testGrants},
		{"GrantsGoneWithSubjectAreAnnounced", testGrantsGoneWithSubjectAreAnnounced},
		{"OneLeaderAtATime", testLead},
		{"SigningKeys", testSigningKeys},
		{"Audit", testAudit},
		{"RevokedTokens", testRevokedTokens},
		{"Settings", testSettings},
		{"WatchSeesOtherInstance", testWatch},
		{"WriteMarks", testWriteMarks},
		{"WriteMarksUnderConcurrency", testWriteMarksConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, f(t)) })
	}
}

// Now returns a time the stores round-trip exactly (microseconds, UTC).
func Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func ctx() context.Context { return context.Background() }

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if err == nil || kubegate.ErrorCode(err) != code {
		t.Fatalf("err = %v, want code %s", err, code)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func equal(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}

// NewUser returns a complete user named name.
func NewUser(name string) kubegate.User {
	now := Now()
	return kubegate.User{
		ID: "id-" + name, Name: name, Email: name + "@example.com", FirstName: "First " + name, LastName: "Last",
		Description: "user " + name, PasswordHash: "$argon2id$hash-of-" + name, Enabled: true, Source: "local",
		CreatedAt: now, UpdatedAt: now, TokenEpoch: 3,
	}
}

// NewKey returns a complete active key of user.
func NewKey(user, ak string) kubegate.AccessKey {
	return kubegate.AccessKey{
		ID: "kid-" + ak, Kind: kubegate.KindKey, AccessKey: ak, SecretHash: []byte("hash-of-" + ak), UserID: user,
		Description: "key " + ak, Status: kubegate.KeyActive, CreatedAt: Now(),
	}
}

// NewPersonalToken returns a complete personal access token of user.
func NewPersonalToken(user, ak, name string) kubegate.AccessKey {
	k := NewKey(user, ak)
	k.Kind, k.Name, k.ExpiresAt = kubegate.KindPersonalToken, name, Now().Add(24*time.Hour)
	k.Scope = kubegate.Scope{Clusters: []string{"prod"}, Namespaces: []string{"prod/web"}, ReadOnly: true, Sources: []string{"10.0.0.0/8"}}
	return k
}

func testUsers(t *testing.T, open func(*testing.T) kubegate.Store) {
	s := open(t)
	alice := NewUser("alice")
	alice.Admin = true
	alice.LastLoginAt = Now()
	must(t, s.CreateUser(ctx(), alice))

	got, err := s.GetUser(ctx(), alice.ID)
	must(t, err)
	equal(t, "GetUser", got, alice)
	got, err = s.GetUserByName(ctx(), "alice")
	must(t, err)
	equal(t, "GetUserByName", got, alice)

	_, err = s.GetUser(ctx(), "nobody")
	wantCode(t, err, kubegate.ENotFound)
	_, err = s.GetUserByName(ctx(), "nobody")
	wantCode(t, err, kubegate.ENotFound)

	dupName := NewUser("alice")
	dupName.ID = "other-id"
	wantCode(t, s.CreateUser(ctx(), dupName), kubegate.EConflict)
	dupID := NewUser("bob")
	dupID.ID = alice.ID
	wantCode(t, s.CreateUser(ctx(), dupID), kubegate.EConflict)
	wantCode(t, s.CreateUser(ctx(), kubegate.User{ID: "x"}), kubegate.EInvalid)

	updated, err := s.UpdateUser(ctx(), alice.ID, func(u kubegate.User) (kubegate.User, error) {
		u.Enabled = false
		u.Email = "new@example.com"
		u.ID = "attempt-to-change-id"
		return u, nil
	})
	must(t, err)
	if updated.ID != alice.ID || updated.Enabled || updated.Email != "new@example.com" {
		t.Fatalf("update returned %+v", updated)
	}
	got, _ = s.GetUser(ctx(), alice.ID)
	equal(t, "after update", got, updated)
	_, err = s.UpdateUser(ctx(), "nobody", func(u kubegate.User) (kubegate.User, error) { return u, nil })
	wantCode(t, err, kubegate.ENotFound)

	// Renaming onto another user's name is a conflict.
	must(t, s.CreateUser(ctx(), NewUser("bob")))
	_, err = s.UpdateUser(ctx(), "id-bob", func(u kubegate.User) (kubegate.User, error) { u.Name = "alice"; return u, nil })
	wantCode(t, err, kubegate.EConflict)

	must(t, s.DeleteUser(ctx(), "id-bob"))
	_, err = s.GetUser(ctx(), "id-bob")
	wantCode(t, err, kubegate.ENotFound)
	wantCode(t, s.DeleteUser(ctx(), "id-bob"), kubegate.ENotFound)
}

func testUserPaging(t *testing.T, open func(*testing.T) kubegate.Store) {
	s := open(t)
	names := []string{"mallory", "carol", "alice", "erin", "bob", "dave"}
	for _, n := range names {
		must(t, s.CreateUser(ctx(), NewUser(n)))
	}
	all, total, err := s.ListUsers(ctx(), kubegate.Page{})
	must(t, err)
	var got []string
	for _, u := range all {
		got = append(got, u.Name)
	}
	equal(t, "all users by name", got, []string{"alice", "bob", "carol", "dave", "erin", "mallory"})
	equal(t, "total", total, 6)

	page, total, err := s.ListUsers(ctx(), kubegate.Page{Limit: 2, Offset: 2})
	must(t, err)
	if total != 6 || len(page) != 2 || page[0].Name != "carol" || page[1].Name != "dave" {
		t.Fatalf("page 2 of 2 = %v (total %d)", page, total)
	}
	page, _, err = s.ListUsers(ctx(), kubegate.Page{Offset: 5})
	must(t, err)
	if len(page) != 1 || page[0].Name != "mallory" {
		t.Fatalf("offset without limit = %v", page)
	}
	page, _, err = s.ListUsers(ctx(), kubegate.Page{Limit: 10, Offset: 10})
	must(t, err)
	if len(page) != 0 {
		t.Fatalf("page past the end = %v", page)
	}
	_, _, err = s.ListUsers(ctx(), kubegate.Page{Limit: -1})
	wantCode(t, err, kubegate.EInvalid)
}

func testFailedClosures(t *testing.T, open func(*testing.T) kubegate.Store) {
	s := open(t)
	u := NewUser("carol")
	must(t, s.CreateUser(ctx(), u))
	k := NewKey(u.ID, "AKCAROL")
	must(t, s.CreateAccessKey(ctx(), k, 5))
	c := kubegate.Cluster{Name: "prod", Server: "https://prod:6443", CreatedAt: Now(), UpdatedAt: Now()}
	must(t, s.CreateCluster(ctx(), c))
	boom := errors.New("boom")

	_, err := s.UpdateUser(ctx(), u.ID, func(x kubegate.User) (kubegate.User, error) { x.Enabled = false; return x, boom })
	if !errors.Is(err, boom) {
		t.Fatalf("closure error not returned: %v", err)
	}
	_, err = s.UpdateAccessKey(ctx(), k.AccessKey, func(x kubegate.AccessKey) (kubegate.AccessKey, error) {
		x.Status = kubegate.KeyInactive
		return x, boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("closure error not returned: %v", err)
	}
	_, err = s.UpdateCluster(ctx(), "prod", func(x kubegate.Cluster) (kubegate.Cluster, error) { x.Server = "https://evil"; return x, boom })
	if !errors.Is(err, boom) {
		t.Fatalf("closure error not returned: %v", err)
	}
	// An update producing an invalid value is refused as a whole, too.
	_, err = s.UpdateAccessKey(ctx(), k.AccessKey, func(x kubegate.AccessKey) (kubegate.AccessKey, error) {
		x.Description = "changed"
		x.Status = "Maybe"
		return x, nil
	})
	wantCode(t, err, kubegate.EInvalid)

	gotU, _ := s.GetUser(ctx(), u.ID)
	equal(t, "user after failed update", gotU, u)
	gotK, _ := s.GetAccessKey(ctx(), k.AccessKey)
	equal(t, "key after failed update", gotK, k)
	gotC, _ := s.GetCluster(ctx(), "prod")
	if gotC.Server != c.Server {
		t.Fatalf("cluster changed by a failed update: %+v", gotC)
	}
}

func testAccessKeys(t *testing.T, open func(*testing.T) kubegate.Store) {
	s := open(t)
	for _, n := range []string{"dave", "erin"} {
		must(t, s.CreateUser(ctx(), NewUser(n)))
	}
	k1 := NewKey("id-dave", "AK1")
	k1.ExpiresAt = Now().Add(24 * time.Hour)
	must(t, s.CreateAccessKey(ctx(), k1, 5))
	k2 := NewKey("id-dave", "AK2")
	k2.CreatedAt = k1.CreatedAt.Add(time.Second)
	must(t, s.CreateAccessKey(ctx(), k2, 5))
	k3 := NewKey("id-erin", "AK3")
	k3.CreatedAt = k1.CreatedAt.Add(2 * time.Second)
	must(t, s.CreateAccessKey(ctx(), k3, 5))

	got, err := s.GetAccessKey(ctx(), "AK1")
	must(t, err)
	equal(t, "GetAccessKey", got, k1)
	_, err = s.GetAccessKey(ctx(), "AKX")
	wantCode(t, err, kubegate.ENotFound)

	list, err := s.ListAccessKeys(ctx(), "id-dave")
	must(t, err)
	equal(t, "dave's keys by creation", list, []kubegate.AccessKey{k1, k2})
	list, err = s.ListAccessKeys(ctx(), "")
	must(t, err)
	equal(t, "all keys by creation", list, []kubegate.AccessKey{k1, k2, k3})
	list, err = s.ListAccessKeys(ctx(), "id-nobody")
	must(t, err)
	if len(list) != 0 {
		t.Fatalf("keys of an unknown user = %v", list)
	}

	dup := NewKey("id-erin", "AK1")
	dup.ID = "another-id"
	wantCode(t, s.CreateAccessKey(ctx(), dup, 5), kubegate.EConflict)
	wantCode(t, s.CreateAccessKey(ctx(), NewKey("id-nobody", "AK9"), 5), kubegate.ENotFound)
	bad := NewKey("id-erin", "AK8")
	bad.SecretHash = nil
	wantCode(t, s.CreateAccessKey(ctx(), bad, 5), kubegate.EInvalid)

	upd, err := s.UpdateAccessKey(ctx(), "AK1", func(k kubegate.AccessKey) (kubegate.AccessKey, error) {
		k.Status = kubegate.KeyInactive
		k.Description = "paused"
		k.UserID = "id-erin" // ownership cannot change
		return k, nil
	})
	must(t, err)
	if upd.Status != kubegate.KeyInactive || upd.Description != "paused" || upd.UserID != "id-dave" {
		t.Fatalf("update = %+v", upd)
	}
	got, _ = s.GetAccessKey(ctx(), "AK1")
	equal(t, "after update", got, upd)
	_, err = s.UpdateAccessKey(ctx(), "AKX", func(k kubegate.AccessKey) (kubegate.AccessKey, error) { return k, nil })
	wantCode(t, err, kubegate.ENotFound)

	must(t, s.DeleteAccessKey(ctx(), "AK1"))
	_, err = s.GetAccessKey(ctx(), "AK1")
	wantCode(t, err, kubegate.ENotFound)
	wantCode(t, s.DeleteAccessKey(ctx(), "AK1"), kubegate.ENotFound)
}

func testKeyLimit(t *testing.T, open func(*testing.T) kubegate.Store) {
	s := open(t)
	must(t, s.CreateUser(ctx(), NewUser("frank")))
	must(t, s.CreateUser(ctx(), NewUser("grace")))
	for i := range 5 {
		must(t, s.CreateAccessKey(ctx(), NewKey("id-frank", fmt.Sprintf("AKF%d", i)), 5))
	}
	err := s.CreateAccessKey(ctx(), NewKey("id-frank", "AKF5"), 5)
	wantCode(t, err, kubegate.EConflict)
	if !strings.Contains(kubegate.ErrorMessage(err), "5") {
		t.Fatalf("limit message %q does not say the limit", kubegate.ErrorMessage(err))
	}
	// The limit is per user.
	must(t, s.CreateAccessKey(ctx(), NewKey("id-grace", "AKG0"), 5))
	// After a delete there is room again.
	must(t, s.DeleteAccessKey(ctx(), "AKF0"))
	must(t, s.CreateAccessKey(ctx(), NewKey("id-frank", "AKF5"), 5))
	// Personal access tokens count apart from keys, against their own limit, and
	// keep their kind and name.
	made := NewPersonalToken("id-frank", "PATF0", "ci")
	must(t, s.CreateAccessKey(ctx(), made, 1))
	err = s.CreateAccessKey(ctx(), NewPersonalToken("id-frank", "PATF1", "ci-2"), 1)
	wantCode(t, err, kubegate.EConflict)
	if !strings.Contains(kubegate.ErrorMessage(err), "personal access tokens") {
		t.Fatalf("limit message %q", kubegate.ErrorMessage(err))
	}
	pat, err := s.GetAccessKey(ctx(), "PATF0")
	must(t, err)
	equal(t, "personal token round trip", pat, made)
}

// testKeyLimitConcurrent: 50 concurrent creates for one user with a limit of 5
// leave exactly 5 keys, all others refused with EConflict.
func testKeyLimitConcurrent(t *testing.T, open func(*testing.T) kubegate.Store) {
	a, b := open(t), open(t) // two instances, as two replicas
	must(t, a.CreateUser(ctx(), NewUser("heidi")))
	var ok, refused atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := a
			if i%2 == 1 {
				s = b
			}
			err := s.CreateAccessKey(ctx(), NewKey("id-heidi", fmt.Sprintf("AKH%02d", i)), 5)
			switch {
			case err == nil:
				ok.Add(1)
			case kubegate.ErrorCode(err) == kubegate.EConflict:
				refused.Add(1)
			default:
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("unexpected error: %v", err)
	}
	keys, err := a.ListAccessKeys(ctx(), "id-heidi")
	must(t, err)
	if len(keys) != 5 || ok.Load() != 5 || refused.Load() != 45 {
		t.Fatalf("stored %d keys, %d creates succeeded, %d refused; want 5, 5, 45", len(keys), ok.Load(), refused.Load())
	}
}

func testDeleteUserCascades(t *testing.T, open func(*testing.T) kubegate.Store) {
	s := open(t)
	must(t, s.CreateUser(ctx(), NewUser("ivan")))
	must(t, s.CreateAccessKey(ctx(), NewKey("id-ivan", "AKI1"), 5))
	must(t, s.CreateAccessKey(ctx(), NewKey("id-ivan", "AKI2"), 5))
	must(t, s.DeleteUser(ctx(), "id-ivan"))
	for _, ak := range []string{"AKI1", "AKI2"} {
		_, err := s.GetAccessKey(ctx(), ak)
		wantCode(t, err, kubegate.ENotFound)
	}
}

func testKeyUses(t *testing.T, open func(*testing.T) kubegate.Store) {
	s := open(t)
	must(t, s.CreateUser(ctx(), NewUser("judy")))
	must(t, s.CreateAccessKey(ctx(), NewKey("id-judy", "AKJ"), 5))
	t1 := Now()
	t2 := t1.Add(time.Minute)
	must(t, s.RecordKeyUses(ctx(), []kubegate.KeyUse{
		{AccessKey: "AKJ", At: t2, IP: "10.0.0.2", UserAgent: "curl/8"},
		{AccessKey: "AKJ", At: t1, IP: "10.0.0.1", UserAgent: "old"}, // older: ignored
		{AccessKey: "AK-deleted", At: t2, IP: "10.0.0.9"},            // unknown: skipped
	}))
	k, err := s.GetAccessKey(ctx(), "AKJ")
	must(t, err)
	if !k.LastUsedAt.Equal(t2) || k.LastUsedIP != "10.0.0.2" || k.LastUsedUserAgent != "curl/8" {
		t.Fatalf("last use = %v %s %s", k.LastUsedAt, k.LastUsedIP, k.LastUsedUserAgent)
	}
	must(t, s.RecordKeyUses(ctx(), nil))
}

func testClusters(t *testing.T, open func(*testing.T) kubegate.Store) {
	s := open(t)
	now := Now()
	prod := kubegate.Cluster{
		Name: "prod", Server: "https://10.0.0.1:6443", CAData: []byte("-----BEGIN CERTIFICATE-----\nCA\n"),
		TLSServerName: "kubernetes",
		Credentials: kubegate.ClusterCredentials{
			BearerToken: "token-prod", ClientCertData: []byte("cert"), ClientKeyData: []byte("key"),
		},
		Description: "production", Labels: map[string]string{"env": "prod", "region": "eu"},
		CreatedAt: now, UpdatedAt: now,
	}
	dev := kubegate.Cluster{Name: "dev", Server: "https://10.0.0.2:6443", InsecureSkipTLSVerify: true, CreatedAt: now, UpdatedAt: now}
	must(t, s.CreateCluster(ctx(), prod))
	must(t, s.CreateCluster(ctx(), dev))
	wantCode(t, s.CreateCluster(ctx(), prod), kubegate.EConflict)
	wantCode(t, s.CreateCluster(ctx(), kubegate.Cluster{Name: "x"}), kubegate.EInvalid)

	got, err := s.GetCluster(ctx(), "prod")
	must(t, err)
	equal(t, "GetCluster", got, prod)
	_, err = s.GetCluster(ctx(), "nope")
	wantCode(t, err, kubegate.ENotFound)

	list, err := s.ListClusters(ctx())
	must(t, err)
	if len(list) != 2 || list[0].Name != "dev" || list[1].Name != "prod" {
		t.Fatalf("clusters by name = %+v", list)
	}
	equal(t, "listed cluster", list[1], prod)

	upd, err := s.UpdateCluster(ctx(), "dev", func(c kubegate.Cluster) (kubegate.Cluster, error) {
		c.Description = "development"
		c.Credentials.BearerToken = "rotated"
		return c, nil
	})
	must(t, err)
	got, _ = s.GetCluster(ctx(), "dev")
	equal(t, "after update", got, upd)

	must(t, s.DeleteCluster(ctx(), "dev"))
	wantCode(t, s.DeleteCluster(ctx(), "dev"), kubegate.ENotFound)
}

func testTeams(t *testing.T, open func(*testing.T) kubegate.Store) {
	s := open(t)
	for _, n := range []string{"ann", "bob", "cy"} {
		must(t, s.CreateUser(ctx(), NewUser(n)))
	}
	now := Now()
	web := kubegate.Team{Name: "web", Description: "the web team", Members: []string{"id-bob", "id-ann", "id-bob"}, CreatedAt: now, UpdatedAt: now}
	must(t, s.CreateTeam(ctx(), web))
	must(t, s.CreateTeam(ctx(), kubegate.Team{Name: "empty", CreatedAt: now, UpdatedAt: now}))
	wantCode(t, s.CreateTeam(ctx(), web), kubegate.EConflict)
	wantCode(t, s.CreateTeam(ctx(), kubegate.Team{Name: "Web_Team", CreatedAt: now, UpdatedAt: now}), kubegate.EInvalid)
	wantCode(t, s.CreateTeam(ctx(), kubegate.Team{Name: "ghosts", Members: []string{"id-nobody"}, CreatedAt: now, UpdatedAt: now}), kubegate.EInvalid)
	if _, err := s.GetTeam(ctx(), "ghosts"); kubegate.ErrorCode(err) != kubegate.ENotFound {
		t.Fatalf("a team refused for an unknown member was stored: %v", err)
	}

	got, err := s.GetTeam(ctx(), "web")
	must(t, err)
	web.Members = []string{"id-ann", "id-bob"} // sorted, once each
	equal(t, "GetTeam", got, web)
	_, err = s.GetTeam(ctx(), "nope")
	wantCode(t, err, kubegate.ENotFound)

	upd, err := s.UpdateTeam(ctx(), "web", func(tm kubegate.Team) (kubegate.Team, error) {
		tm.Members = append(tm.Members, "id-cy")
		tm.Description = "web and more"
		tm.UpdatedAt = Now()
		return tm, nil
	})
	must(t, err)
	got, _ = s.GetTeam(ctx(), "web")
	equal(t, "after update", got, upd)
	_, err = s.UpdateTeam(ctx(), "web", func(tm kubegate.Team) (kubegate.Team, error) {
		tm.Members = append(tm.Members, "id-nobody")
		return tm, nil
	})
	wantCode(t, err, kubegate.EInvalid)
	got, _ = s.GetTeam(ctx(), "web")
	equal(t, "after a refused update", got, upd)

	// A deleted user leaves every team.
	must(t, s.DeleteUser(ctx(), "id-bob"))
	list, err := s.ListTeams(ctx())
	must(t, err)
	if len(list) != 2 || list[0].Name != "empty" || list[1].Name != "web" || len(list[0].Members) != 0 ||
		!reflect.DeepEqual(list[1].Members, []string{"id-ann", "id-cy"}) {
		t.Fatalf("teams after bob was deleted = %+v", list)
	}

	must(t, s.DeleteTeam(ctx(), "web"))
	wantCode(t, s.DeleteTeam(ctx(), "web"), kubegate.ENotFound)
	must(t, s.CreateTeam(ctx(), kubegate.Team{Name: "web", CreatedAt: now, UpdatedAt: now}))
	if got, _ := s.GetTeam(ctx(), "web"); len(got.Members) != 0 {
		t.Fatalf("a team made again under a deleted one's name has its members: %v", got.Members)
	}
}

func testSigningKeys(t *testing.T, open func(*testing.T) kubegate.Store) {
	s := open(t)
	old := kubegate.SigningKey{KID: "k1", Algorithm: "ES256", PrivateKey: []byte("private-1"), CreatedAt: Now().Add(-time.Hour)}
	cur := kubegate.SigningKey{KID: "k2", Algorithm: "ES256", PrivateKey: []byte("private-2"), CreatedAt: Now()}
	must(t, s.CreateSigningKey(ctx(), old))
	must(t, s.CreateSigningKey(ctx(), cur))
	wantCode(t, s.CreateSigningKey(ctx(), cur), kubegate.EConflict)
	wantCode(t, s.CreateSigningKey(ctx(), kubegate.SigningKey{KID: "k3"}), kubegate.EInvalid)

	list, err := s.ListSigningKeys(ctx())
	must(t, err)
	equal(t, "signing keys newest first", list, []kubegate.SigningKey{cur, old})

	retired := Now()
	k, err := s.UpdateSigningKey(ctx(), "k1", func(k kubegate.SigningKey) (kubegate.SigningKey, error) {
		k.RetiredAt = retired
		return k, nil
	})
	must(t, err)
	if !k.RetiredAt.Equal(retired) || string(k.PrivateKey) != "private-1" {
		t.Fatalf("retired key = %+v", k)
	}
	_, err = s.UpdateSigningKey(ctx(), "nope", func(k kubegate.SigningKey) (kubegate.SigningKey, error) { return k, nil })
	wantCode(t, err, kubegate.ENotFound)
	must(t, s.DeleteSigningKey(ctx(), "k1"))
	list, _ = s.ListSigningKeys(ctx())
	equal(t, "after delete", list, []kubegate.SigningKey{cur})
	wantCode(t, s.DeleteSigningKey(ctx(), "k1"), kubegate.ENotFound)
}

func testAudit(t *testing.T, open func(*testing.T) kubegate.Store) {
	s := open(t)
	base := Now()
	var events []kubegate.AuditEvent
	for i := range 10 {
		user, key, status := "alice", "AK", 200
		if i%2 == 1 {
			user = "bob"
		}
		if i%3 == 0 {
			key, status = "AK2", 403
		}
		events = append(events, kubegate.AuditEvent{
			Time: base.Add(time.Duration(i) * time.Second), RequestID: fmt.Sprintf("req-%d", i), User: user, UserID: "id-" + user, AccessKey: key,
			Cluster: "prod", Verb: "get", Path: fmt.Sprintf("/api/v1/pods/%d", i), StatusCode: status, Latency: 1500 * time.Microsecond, SourceIP: "10.0.0.1",
			Scope: "refused: namespaces",
		})
	}
	must(t, s.AppendAudit(ctx(), events))
	must(t, s.AppendAudit(ctx(), nil))

	got, total, err := s.ListAudit(ctx(), kubegate.AuditFilter{}, kubegate.Page{Limit: 3})
	must(t, err)
	if total != 10 || len(got) != 3 || got[0].RequestID != "req-9" || got[2].RequestID != "req-7" {
		t.Fatalf("newest 3 = %+v (total %d)", got, total)
	}
	want := events[9]
	want.ID = got[0].ID
	equal(t, "event round trip", got[0], want)

	got, total, err = s.ListAudit(ctx(), kubegate.AuditFilter{User: "bob", Since: base.Add(4 * time.Second), Until: base.Add(8 * time.Second)}, kubegate.Page{})
	must(t, err)
	if total != 2 || len(got) != 2 || got[0].RequestID != "req-7" || got[1].RequestID != "req-5" {
		t.Fatalf("filtered = %+v (total %d)", got, total)
	}

	got, total, err = s.ListAudit(ctx(), kubegate.AuditFilter{AccessKey: "AK2", StatusMin: 400, StatusMax: 499}, kubegate.Page{Limit: 2, Offset: 1})
	must(t, err)
	if total != 4 || len(got) != 2 || got[0].RequestID != "req-6" || got[1].RequestID != "req-3" {
		t.Fatalf("by key and status = %+v (total %d)", got, total)
	}
	_, total, err = s.ListAudit(ctx(), kubegate.AuditFilter{UserID: "id-bob"}, kubegate.Page{})
	must(t, err)
	if total != 5 {
		t.Fatalf("bob by ID: %d events, want 5", total)
	}
	_, total, err = s.ListAudit(ctx(), kubegate.AuditFilter{AccessKey: "AK", StatusMin: 400, StatusMax: 499}, kubegate.Page{})
	must(t, err)
	if total != 0 {
		t.Fatalf("key AK answered 4xx %d times, want 0", total)
	}

	// Retention: events before the cutoff go, the rest stay.
	n, err := s.PruneAudit(ctx(), base.Add(3*time.Second))
	must(t, err)
	_, total, err = s.ListAudit(ctx(), kubegate.AuditFilter{}, kubegate.Page{})
	must(t, err)
	if n != 3 || total != 7 {
		t.Fatalf("pruned %d, %d left; want 3 pruned, 7 left", n, total)
	}
}

func testRevokedTokens(t *testing.T, open func(*testing.T) kubegate.Store) {
	a, b := open(t), open(t)
	now := Now()
	wctx, cancel := context.WithCancel(ctx())
	defer cancel()
	changes, err := b.Watch(wctx)
	must(t, err)
	must(t, a.RevokeToken(ctx(), kubegate.RevokedToken{ID: "jti-1", ExpiresAt: now.Add(time.Hour)}))
	must(t, a.RevokeToken(ctx(), kubegate.RevokedToken{ID: "jti-1", ExpiresAt: now.Add(time.Hour)})) // twice is fine
	must(t, a.RevokeToken(ctx(), kubegate.RevokedToken{ID: "jti-old", ExpiresAt: now.Add(-time.Minute)}))
	wantCode(t, a.RevokeToken(ctx(), kubegate.RevokedToken{ID: "x"}), kubegate.EInvalid)
	got, err := b.ListRevokedTokens(ctx(), now)
	must(t, err)
	equal(t, "unexpired revoked tokens", got, []kubegate.RevokedToken{{ID: "jti-1", ExpiresAt: now.Add(time.Hour)}})
	select {
	case c := <-changes:
		equal(t, "change", c, kubegate.Change{Kind: kubegate.ChangeToken, Key: "jti-1"})
	case <-time.After(time.Second):
		t.Fatal("revocation not announced within a second")
	}

	// A family revocation replaces the single ones it covers, keeps one issued
	// after it and another family's, and only ever moves later.
	fam := kubegate.FamilyRevocation("AK1")
	must(t, a.RevokeToken(ctx(), kubegate.RevokedToken{ID: "ak1-a", Family: "AK1", IssuedAt: now.Add(-time.Hour), ExpiresAt: now.Add(time.Hour)}))
	must(t, a.RevokeToken(ctx(), kubegate.RevokedToken{ID: "ak1-late", Family: "AK1", IssuedAt: now.Add(time.Minute), ExpiresAt: now.Add(time.Hour)}))
	must(t, a.RevokeToken(ctx(), kubegate.RevokedToken{ID: "ak2-a", Family: "AK2", IssuedAt: now.Add(-time.Hour), ExpiresAt: now.Add(time.Hour)}))
	must(t, a.RevokeToken(ctx(), kubegate.RevokedToken{ID: fam, Family: "AK1", IssuedAt: now, ExpiresAt: now.Add(2 * time.Hour)}))
	must(t, a.RevokeToken(ctx(), kubegate.RevokedToken{ID: fam, Family: "AK1", IssuedAt: now.Add(-time.Hour), ExpiresAt: now.Add(time.Hour)}))
	wantCode(t, a.RevokeToken(ctx(), kubegate.RevokedToken{ID: fam, Family: "AK1", ExpiresAt: now.Add(time.Hour)}), kubegate.EInvalid)
	got, err = b.ListRevokedTokens(ctx(), now)
	must(t, err)
	equal(t, "revocations after a family's", got, []kubegate.RevokedToken{
		{ID: "ak1-late", Family: "AK1", IssuedAt: now.Add(time.Minute), ExpiresAt: now.Add(time.Hour)},
		{ID: "ak2-a", Family: "AK2", IssuedAt: now.Add(-time.Hour), ExpiresAt: now.Add(time.Hour)},
		{ID: fam, Family: "AK1", IssuedAt: now, ExpiresAt: now.Add(2 * time.Hour)},
		{ID: "jti-1", ExpiresAt: now.Add(time.Hour)},
	})
}

// testSettings: a setting put through one instance is read and announced on
// another; one never put is not found.
func testSettings(t *testing.T, open func(*testing.T) kubegate.Store) {
	a, b := open(t), open(t)
	_, err := a.Setting(ctx(), "policy")
	wantCode(t, err, kubegate.ENotFound)
	wctx, cancel := context.WithCancel(ctx())
	defer cancel()
	changes, err := b.Watch(wctx)
	must(t, err)
	must(t, a.PutSetting(ctx(), "policy", `{"v":1}`))
	must(t, a.PutSetting(ctx(), "policy", `{"v":2}`))
	got, err := b.Setting(ctx(), "policy")
	must(t, err)
	equal(t, "setting", got, `{"v":2}`)
	select {
	case c := <-changes:
		equal(t, "change", c, kubegate.Change{Kind: kubegate.ChangeSetting, Key: "policy"})
	case <-time.After(time.Second):
		t.Fatal("setting not announced within a second")
	}
}

// testWatch: a change made through one instance is reported to a watcher on
// another instance within a second; changes from before Watch are not replayed.
func testWatch(t *testing.T, open func(*testing.T) kubegate.Store) {
	a, b := open(t), open(t)
	must(t, a.CreateUser(ctx(), NewUser("kim")))
	must(t, a.CreateAccessKey(ctx(), NewKey("id-kim", "AKK1"), 5))

	wctx, cancel := context.WithCancel(ctx())
	defer cancel()
	changes, err := b.Watch(wctx)
	must(t, err)

	expect := func(want kubegate.Change, action func()) {
		t.Helper()
		start := time.Now()
		action()
		deadline := time.After(time.Second)
		for {
			select {
			case c := <-changes:
				if c == want {
					t.Logf("%v seen after %v", want, time.Since(start).Round(time.Millisecond))
					return
				}
			case <-deadline:
				t.Fatalf("%v not seen within a second", want)
			}
		}
	}
	expect(kubegate.Change{Kind: kubegate.ChangeAccessKey, Key: "AKK1"}, func() {
		_, err := a.UpdateAccessKey(ctx(), "AKK1", func(k kubegate.AccessKey) (kubegate.AccessKey, error) {
			k.Status = kubegate.KeyInactive
			return k, nil
		})
		must(t, err)
	})
	expect(kubegate.Change{Kind: kubegate.ChangeUser, Key: "id-kim"}, func() {
		_, err := a.UpdateUser(ctx(), "id-kim", func(u kubegate.User) (kubegate.User, error) { u.Enabled = false; return u, nil })
		must(t, err)
	})
	expect(kubegate.Change{Kind: kubegate.ChangeAccessKey, Key: "AKK1"}, func() { must(t, a.DeleteAccessKey(ctx(), "AKK1")) })
	expect(kubegate.Change{Kind: kubegate.ChangeCluster, Key: "c1"}, func() {
		must(t, a.CreateCluster(ctx(), kubegate.Cluster{Name: "c1", Server: "https://c1", CreatedAt: Now(), UpdatedAt: Now()}))
	})
	expect(kubegate.Change{Kind: kubegate.ChangeTeam, Key: "t1"}, func() {
		must(t, a.CreateTeam(ctx(), kubegate.Team{Name: "t1", Members: []string{"id-kim"}, CreatedAt: Now(), UpdatedAt: Now()}))
	})

	// Nothing from before Watch started (the create of kim and AKK1) came through,
	// and a failed update announces nothing.
	_, _ = a.UpdateUser(ctx(), "id-kim", func(u kubegate.User) (kubegate.User, error) { return u, errors.New("no") })
	select {
	case c := <-changes:
		t.Fatalf("unexpected change %v", c)
	case <-time.After(500 * time.Millisecond):
	}

	cancel()
	for range changes { // drain until closed
	}
}

// testConcurrentUpdates runs update closures at once from two store instances (two
// replicas), as dex's conformance suite does: each closure sees the value the
// previous one wrote, so no update is lost.
func testConcurrentUpdates(t *testing.T, open func(*testing.T) kubegate.Store) {
	a, b := open(t), open(t)
	must(t, a.CreateUser(ctx(), NewUser("racer")))
	u, err := a.GetUserByName(ctx(), "racer")
	must(t, err)
	must(t, a.CreateAccessKey(ctx(), NewKey(u.ID, "AKRACE"), 0))
	k0, err := a.GetAccessKey(ctx(), "AKRACE")
	must(t, err)
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		s := []kubegate.Store{a, b}[i%2]
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, err := s.UpdateUser(ctx(), u.ID, func(x kubegate.User) (kubegate.User, error) {
				x.Description += "u"
				return x, nil
			})
			errs <- err
		}()
		go func() {
			defer wg.Done()
			_, err := s.UpdateAccessKey(ctx(), "AKRACE", func(k kubegate.AccessKey) (kubegate.AccessKey, error) {
				k.Description += "k"
				return k, nil
			})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err)
	}
	got, err := b.GetUser(ctx(), u.ID)
	must(t, err)
	if got.Description != u.Description+strings.Repeat("u", n) {
		t.Fatalf("user description after %d concurrent appends = %q", n, got.Description)
	}
	k, err := a.GetAccessKey(ctx(), "AKRACE")
	must(t, err)
	if k.Description != k0.Description+strings.Repeat("k", n) {
		t.Fatalf("key description after %d concurrent appends = %q", n, k.Description)
	}
}

// testWriteMarks: a mark merged on one instance is read on another, per
// collection; merging keeps the highest version, joins the gone objects, adds
// strict writes; a mark not written since is not returned, and the next write
// starts it afresh but keeps its strict count.
func testWriteMarks(t *testing.T, open func(*testing.T) kubegate.Store) {
	a, b := open(t), open(t)
	t0 := Now()
	cms := kubegate.WriteMark{Cluster: "c1", Resource: "configmaps"}
	deploys := kubegate.WriteMark{Cluster: "c1", Group: "apps", Resource: "deployments"}
	mark := func(base kubegate.WriteMark, rv uint64, at time.Time, gone ...kubegate.DeletedObject) kubegate.WriteMark {
		base.ResourceVersion, base.At, base.Gone = rv, at, gone
		return base
	}
	must(t, a.MergeWriteMarks(ctx(), []kubegate.WriteMark{mark(cms, 41, t0), mark(deploys, 7, t0)}, t0.Add(-time.Minute)))
	must(t, b.MergeWriteMarks(ctx(), []kubegate.WriteMark{mark(cms, 40, t0.Add(time.Second), kubegate.DeletedObject{Namespace: "a", Name: "x", ResourceVersion: 40})}, t0.Add(-time.Minute)))
	strict := cms
	strict.Strict, strict.At = 1, t0.Add(2*time.Second)
	must(t, a.MergeWriteMarks(ctx(), []kubegate.WriteMark{strict}, t0.Add(-time.Minute)))

	got, err := b.WriteMarks(ctx(), []kubegate.WriteMark{cms, {Cluster: "c2", Resource: "configmaps"}}, t0.Add(-time.Minute))
	must(t, err)
	if len(got) != 1 || got[0].ResourceVersion != 41 || got[0].Strict != 1 || !got[0].At.Equal(t0.Add(2*time.Second)) ||
		len(got[0].Gone) != 1 || got[0].Gone[0] != (kubegate.DeletedObject{Namespace: "a", Name: "x", ResourceVersion: 40}) {
		t.Fatalf("merged configmaps mark = %+v", got)
	}
	got, err = a.WriteMarks(ctx(), []kubegate.WriteMark{cms, deploys}, t0.Add(time.Second))
	must(t, err)
	if len(got) != 1 || got[0].Resource != "configmaps" {
		t.Fatalf("marks written since t0+1s = %+v", got)
	}
	// Written again after a long quiet: afresh, but the strict count stays.
	later := t0.Add(10 * time.Minute)
	must(t, b.MergeWriteMarks(ctx(), []kubegate.WriteMark{mark(cms, 5, later)}, later.Add(-time.Minute)))
	got, err = a.WriteMarks(ctx(), []kubegate.WriteMark{cms}, later.Add(-time.Minute))
	must(t, err)
	if len(got) != 1 || got[0].ResourceVersion != 5 || len(got[0].Gone) != 0 || got[0].Strict != 1 {
		t.Fatalf("mark after a quiet = %+v", got)
	}
}

// testWriteMarksConcurrent: two instances merging the same collections at once,
// in opposite orders, lose no version and no delete, and do not deadlock.
func testWriteMarksConcurrent(t *testing.T, open func(*testing.T) kubegate.Store) {
	a, b := open(t), open(t)
	at := Now()
	keys := []kubegate.WriteMark{{Cluster: "c", Resource: "pods"}, {Cluster: "c", Resource: "configmaps"}, {Cluster: "c", Group: "apps", Resource: "deployments"}}
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 20 {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			batch := make([]kubegate.WriteMark, len(keys))
			for j, k := range keys {
				k.ResourceVersion, k.At = uint64(100+i), at //nolint:gosec // 100..119
				k.Gone = []kubegate.DeletedObject{{Namespace: "n", Name: fmt.Sprint("o", i)}}
				batch[(j+i)%len(keys)] = k
			}
			errs <- s.MergeWriteMarks(ctx(), batch, at.Add(-time.Minute))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err)
	}
	got, err := a.WriteMarks(ctx(), keys, at.Add(-time.Minute))
	must(t, err)
	if len(got) != len(keys) {
		t.Fatalf("marks = %+v", got)
	}
	for _, m := range got {
		if m.ResourceVersion != 119 || len(m.Gone) != 20 || m.Strict != 0 {
			t.Fatalf("%s: version %d, %d gone, strict %d; want 119, 20, 0", m.Resource, m.ResourceVersion, len(m.Gone), m.Strict)
		}
	}
}
