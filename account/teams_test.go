package account_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/account"
)

// A user's teams are in the groups of every identity checked after the change,
// tokens already issued included; leaving a team, or the team's deletion, takes
// its group away.
func TestTeamsGiveTheirMembersTheTeamsGroup(t *testing.T) {
	ctx := context.Background()
	s := newService(t, &clock{time.Now()})
	ann, err := s.CreateUser(ctx, account.NewUser{Name: "ann", Password: "ann-password"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, account.NewUser{Name: "bob", Password: "bob-password"}); err != nil {
		t.Fatal(err)
	}
	groups := func() []string {
		t.Helper()
		id, err := s.Check("", ann.ID, ann.TokenEpoch)
		if err != nil {
			t.Fatal(err)
		}
		return id.Groups
	}
	if g := groups(); !slices.Equal(g, []string{kubegate.GroupUsers}) {
		t.Fatalf("before any team: %v", g)
	}
	if _, err := s.CreateTeam(ctx, account.NewTeam{Name: "web", Members: []string{"ann", "bob"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateTeam(ctx, account.NewTeam{Name: "db", Members: []string{"ann"}}); err != nil {
		t.Fatal(err)
	}
	if g := groups(); !slices.Equal(g, []string{kubegate.GroupUsers, "kubegate:team:db", "kubegate:team:web"}) {
		t.Fatalf("in two teams: %v", g)
	}
	if _, err := s.RemoveMember(ctx, "web", "ann"); err != nil {
		t.Fatal(err)
	}
	if g := groups(); !slices.Equal(g, []string{kubegate.GroupUsers, "kubegate:team:db"}) {
		t.Fatalf("after leaving web: %v", g)
	}
	if err := s.DeleteTeam(ctx, "db"); err != nil {
		t.Fatal(err)
	}
	if g := groups(); !slices.Equal(g, []string{kubegate.GroupUsers}) {
		t.Fatalf("after db was deleted: %v", g)
	}
	if names := s.UserNames(must(s.Team(ctx, "web")).Members); !slices.Equal(names, []string{"bob"}) {
		t.Fatalf("web's members: %v", names)
	}

	for _, bad := range []account.NewTeam{{Name: "Web"}, {Name: "x", Members: []string{"nobody"}}, {Name: "y", Members: []string{"system:admin"}}} {
		if _, err := s.CreateTeam(ctx, bad); kubegate.ErrorCode(err) != kubegate.EInvalid {
			t.Errorf("%+v: %v, want invalid", bad, err)
		}
	}
	if _, err := s.AddMember(ctx, "no-such-team", "bob"); kubegate.ErrorCode(err) != kubegate.ENotFound {
		t.Errorf("adding to a team that does not exist: %v", err)
	}
	if _, err := s.CreateTeam(ctx, account.NewTeam{Name: "web"}); kubegate.ErrorCode(err) != kubegate.EConflict {
		t.Errorf("a second team called web: %v", err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
