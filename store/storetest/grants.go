package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/kubegate/kubegate"
)

func testGrants(t *testing.T, open func(*testing.T) kubegate.Store) {
	s := open(t)
	for _, n := range []string{"ann", "bob"} {
		must(t, s.CreateUser(ctx(), NewUser(n)))
	}
	now := Now()
	must(t, s.CreateTeam(ctx(), kubegate.Team{Name: "web", Members: []string{"id-ann"}, CreatedAt: now, UpdatedAt: now}))
	toTeam := kubegate.Grant{ID: "g1", Subject: kubegate.GrantSubject{Kind: kubegate.SubjectTeam, Name: "web"}, Role: "view",
		Clusters: []string{"b", "a", "b"}, Namespaces: []string{"x"}, CreatedBy: "admin", CreatedAt: now}
	toUser := kubegate.Grant{ID: "g2", Subject: kubegate.GrantSubject{Kind: kubegate.SubjectUser, Name: "id-bob"}, Role: "edit",
		Clusters: []string{kubegate.Everywhere}, ClusterWide: true, CreatedBy: "admin", CreatedAt: now.Add(time.Second)}
	must(t, s.CreateGrant(ctx(), toTeam))
	must(t, s.CreateGrant(ctx(), toUser))
	wantCode(t, s.CreateGrant(ctx(), toTeam), kubegate.EConflict)
	ghost := toUser
	ghost.ID, ghost.Subject.Name = "g3", "id-nobody"
	wantCode(t, s.CreateGrant(ctx(), ghost), kubegate.EInvalid)
	ghost.Subject = kubegate.GrantSubject{Kind: kubegate.SubjectTeam, Name: "nobody"}
	wantCode(t, s.CreateGrant(ctx(), ghost), kubegate.EInvalid)
	bad := toTeam
	bad.ID, bad.Namespaces = "g4", []string{"x", kubegate.Everywhere}
	wantCode(t, s.CreateGrant(ctx(), bad), kubegate.EInvalid)

	got, err := s.GetGrant(ctx(), "g1")
	must(t, err)
	toTeam.Clusters = []string{"a", "b"} // sorted, once each
	equal(t, "GetGrant", got, toTeam)
	_, err = s.GetGrant(ctx(), "nope")
	wantCode(t, err, kubegate.ENotFound)

	applied := kubegate.GrantStatus{Cluster: "a", State: kubegate.GrantApplied, UpdatedAt: now}
	must(t, s.PutGrantStatus(ctx(), "g1", applied))
	failed := kubegate.GrantStatus{Cluster: "a", State: kubegate.GrantFailed, Message: "forbidden", UpdatedAt: now.Add(time.Second)}
	must(t, s.PutGrantStatus(ctx(), "g1", kubegate.GrantStatus{Cluster: "b", State: kubegate.GrantPending, Message: "down", UpdatedAt: now}))
	must(t, s.PutGrantStatus(ctx(), "g1", failed)) // replaces a's
	must(t, s.PutGrantStatus(ctx(), "gone", applied))
	list, err := s.ListGrants(ctx())
	must(t, err)
	toTeam.Status = []kubegate.GrantStatus{failed, {Cluster: "b", State: kubegate.GrantPending, Message: "down", UpdatedAt: now}}
	equal(t, "ListGrants by creation, with status", list, []kubegate.Grant{toTeam, toUser})

	// A grant goes with its subject, its status with it.
	must(t, s.DeleteTeam(ctx(), "web"))
	must(t, s.DeleteUser(ctx(), "id-bob"))
	list, err = s.ListGrants(ctx())
	must(t, err)
	equal(t, "grants after their subjects went", list, []kubegate.Grant(nil))
	must(t, s.CreateTeam(ctx(), kubegate.Team{Name: "web", CreatedAt: now, UpdatedAt: now}))
	toTeam.Status = nil
	must(t, s.CreateGrant(ctx(), toTeam))
	if got, _ := s.GetGrant(ctx(), "g1"); len(got.Status) != 0 {
		t.Fatalf("a grant made again under a deleted one's ID has its status: %+v", got.Status)
	}
	must(t, s.DeleteGrant(ctx(), "g1"))
	wantCode(t, s.DeleteGrant(ctx(), "g1"), kubegate.ENotFound)
}

// The deletion of a grant's subject announces the grant: its bindings must go.
func testGrantsGoneWithSubjectAreAnnounced(t *testing.T, open func(*testing.T) kubegate.Store) {
	a, b := open(t), open(t)
	must(t, a.CreateUser(ctx(), NewUser("kim")))
	must(t, a.CreateTeam(ctx(), kubegate.Team{Name: "t1", CreatedAt: Now(), UpdatedAt: Now()}))
	must(t, a.CreateGrant(ctx(), kubegate.Grant{ID: "gu", Subject: kubegate.GrantSubject{Kind: kubegate.SubjectUser, Name: "id-kim"}, Role: "view", Clusters: []string{"*"}, Namespaces: []string{"*"}, CreatedAt: Now()}))
	must(t, a.CreateGrant(ctx(), kubegate.Grant{ID: "gt", Subject: kubegate.GrantSubject{Kind: kubegate.SubjectTeam, Name: "t1"}, Role: "view", Clusters: []string{"*"}, Namespaces: []string{"*"}, CreatedAt: Now()}))
	wctx, cancel := context.WithCancel(ctx())
	defer cancel()
	changes, err := b.Watch(wctx)
	must(t, err)
	must(t, a.DeleteUser(ctx(), "id-kim"))
	must(t, a.DeleteTeam(ctx(), "t1"))
	want := map[kubegate.Change]bool{{Kind: kubegate.ChangeGrant, Key: "gu"}: true, {Kind: kubegate.ChangeGrant, Key: "gt"}: true}
	deadline := time.After(2 * time.Second)
	for len(want) > 0 {
		select {
		case c := <-changes:
			delete(want, c)
		case <-deadline:
			t.Fatalf("not announced: %v", want)
		}
	}
	cancel()
	for range changes { // drain until closed
	}
}

// One instance leads at a time; another takes over once it lets go.
func testLead(t *testing.T, open func(*testing.T) kubegate.Store) {
	a, b := open(t), open(t)
	if a == b {
		t.Skip("one instance")
	}
	leadA, releaseA, err := a.Lead(ctx(), "grants")
	must(t, err)
	// Another leadership is independent.
	_, releaseOther, err := b.Lead(ctx(), "other")
	must(t, err)
	releaseOther()

	waiting, cancel := context.WithTimeout(ctx(), 1500*time.Millisecond)
	defer cancel()
	if _, _, err := b.Lead(waiting, "grants"); err == nil {
		t.Fatal("two instances lead at once")
	}
	took := make(chan context.Context, 1)
	go func() {
		lead, release, err := b.Lead(ctx(), "grants")
		if err != nil {
			took <- nil
			return
		}
		t.Cleanup(release)
		took <- lead
	}()
	releaseA()
	releaseA() // twice is harmless
	if leadA.Err() == nil {
		t.Fatal("the released leadership's context lives on")
	}
	select {
	case lead := <-took:
		if lead == nil || lead.Err() != nil {
			t.Fatal("the other instance did not take over")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the other instance did not take over within 5 s")
	}
}
