package account

import (
	"context"
	"slices"
	"sort"
	"time"

	"github.com/kubegate/kubegate"
)

// membership derives, by user ID, the sorted names of each user's teams.
func membership(teams map[string]kubegate.Team) map[string][]string {
	out := map[string][]string{}
	for name, t := range teams {
		for _, id := range t.Members {
			out[id] = append(out[id], name)
		}
	}
	for _, names := range out {
		sort.Strings(names)
	}
	return out
}

// teamsOf returns the names of the teams the user with id is in.
func (v *view) teamsOf(id string) []string {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.memberOf[id]
}

// groupsOf is every group u acts with: everyone's, administrators', and one
// per team u is in now.
func (v *view) groupsOf(u kubegate.User) []string {
	groups := kubegate.GroupsFor(u)
	for _, t := range v.teamsOf(u.ID) {
		groups = append(groups, kubegate.TeamGroup(t))
	}
	return groups
}

// GroupsOf is every group u acts with in the clusters, teams included, as of now.
func (s *Service) GroupsOf(u kubegate.User) []string { return s.view.groupsOf(u) }

// TeamsOf returns the names of the teams the user with id is in.
func (s *Service) TeamsOf(id string) []string { return slices.Clone(s.view.teamsOf(id)) }

// Teams returns every team, by name, from memory.
func (s *Service) Teams() []kubegate.Team {
	s.view.mu.RLock()
	out := make([]kubegate.Team, 0, len(s.view.teams))
	for _, t := range s.view.teams {
		out = append(out, t)
	}
	s.view.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Team returns the team called name.
func (s *Service) Team(ctx context.Context, name string) (kubegate.Team, error) {
	if err := kubegate.ValidateTeamName(name); err != nil {
		return kubegate.Team{}, kubegate.Errorf(kubegate.ENotFound, "team %q not found", name)
	}
	return s.opts.Store.GetTeam(ctx, name)
}

// NewTeam is what an administrator gives to create a team; members are user
// names.
type NewTeam struct {
	Name        string
	Description string
	Members     []string
}

// CreateTeam creates a team.
func (s *Service) CreateTeam(ctx context.Context, nt NewTeam) (kubegate.Team, error) {
	ids, err := s.userIDs(ctx, nt.Members)
	if err != nil {
		return kubegate.Team{}, err
	}
	now := s.opts.Now().UTC().Truncate(time.Microsecond)
	t := kubegate.Team{Name: nt.Name, Description: nt.Description, Members: ids, CreatedAt: now, UpdatedAt: now}
	if err := t.Validate(); err != nil {
		return kubegate.Team{}, err
	}
	if err := s.opts.Store.CreateTeam(ctx, t); err != nil {
		return kubegate.Team{}, err
	}
	s.view.apply(ctx, kubegate.Change{Kind: kubegate.ChangeTeam, Key: t.Name})
	return t, nil
}

// TeamPatch changes what is set: the description, or the whole member list
// (user names).
type TeamPatch struct {
	Description *string
	Members     *[]string
}

// UpdateTeam changes a team.
func (s *Service) UpdateTeam(ctx context.Context, name string, p TeamPatch) (kubegate.Team, error) {
	var ids []string
	if p.Members != nil {
		var err error
		if ids, err = s.userIDs(ctx, *p.Members); err != nil {
			return kubegate.Team{}, err
		}
	}
	return s.editTeam(ctx, name, func(t *kubegate.Team) {
		set(&t.Description, p.Description)
		if p.Members != nil {
			t.Members = ids
		}
	})
}

// AddMember puts the user called user in team (nothing changes when they are
// in it already).
func (s *Service) AddMember(ctx context.Context, team, user string) (kubegate.Team, error) {
	ids, err := s.userIDs(ctx, []string{user})
	if err != nil {
		return kubegate.Team{}, err
	}
	return s.editTeam(ctx, team, func(t *kubegate.Team) { t.Members = append(t.Members, ids[0]) })
}

// RemoveMember takes the user called user out of team.
func (s *Service) RemoveMember(ctx context.Context, team, user string) (kubegate.Team, error) {
	ids, err := s.userIDs(ctx, []string{user})
	if err != nil {
		return kubegate.Team{}, err
	}
	return s.editTeam(ctx, team, func(t *kubegate.Team) {
		t.Members = slices.DeleteFunc(t.Members, func(id string) bool { return id == ids[0] })
	})
}

func (s *Service) editTeam(ctx context.Context, name string, edit func(*kubegate.Team)) (kubegate.Team, error) {
	if err := kubegate.ValidateTeamName(name); err != nil {
		return kubegate.Team{}, kubegate.Errorf(kubegate.ENotFound, "team %q not found", name)
	}
	t, err := s.opts.Store.UpdateTeam(ctx, name, func(t kubegate.Team) (kubegate.Team, error) {
		edit(&t)
		t.UpdatedAt = s.opts.Now().UTC().Truncate(time.Microsecond)
		return t, nil
	})
	if err != nil {
		return kubegate.Team{}, err
	}
	s.view.apply(ctx, kubegate.Change{Kind: kubegate.ChangeTeam, Key: name})
	return t, nil
}

// DeleteTeam deletes a team; its members lose its group at once.
func (s *Service) DeleteTeam(ctx context.Context, name string) error {
	if err := kubegate.ValidateTeamName(name); err != nil {
		return kubegate.Errorf(kubegate.ENotFound, "team %q not found", name)
	}
	if err := s.opts.Store.DeleteTeam(ctx, name); err != nil {
		return err
	}
	s.view.apply(ctx, kubegate.Change{Kind: kubegate.ChangeTeam, Key: name})
	return nil
}

// userIDs resolves user names to IDs, from memory, or from the store for a user
// made on another replica a moment ago; an unknown name is an EInvalid naming it.
func (s *Service) userIDs(ctx context.Context, names []string) ([]string, error) {
	if len(names) > kubegate.MaxTeamMembers {
		return nil, kubegate.Errorf(kubegate.EInvalid, "a team has at most %d members", kubegate.MaxTeamMembers)
	}
	s.view.mu.RLock()
	byName := make(map[string]string, len(s.view.users))
	for id, u := range s.view.users {
		byName[u.Name] = id
	}
	s.view.mu.RUnlock()
	ids := make([]string, 0, len(names))
	for _, n := range names {
		id, ok := byName[n]
		if !ok {
			if ValidateUserName(n) != nil {
				return nil, kubegate.Errorf(kubegate.EInvalid, "member %q is not a user", n)
			}
			u, err := s.opts.Store.GetUserByName(ctx, n)
			switch {
			case kubegate.ErrorCode(err) == kubegate.ENotFound:
				return nil, kubegate.Errorf(kubegate.EInvalid, "member %q is not a user", n)
			case err != nil:
				return nil, err
			}
			id = u.ID
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// UserNames maps user IDs to names, from memory ("" for one that is gone).
func (s *Service) UserNames(ids []string) []string {
	s.view.mu.RLock()
	defer s.view.mu.RUnlock()
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = s.view.users[id].Name
	}
	return out
}
