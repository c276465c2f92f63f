package api

import (
	"context"
	"net/http"
	"slices"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/account"
	"github.com/kubegate/kubegate/httpapi"
)

// Teams are named groups of users (account.Service).
type Teams interface {
	Teams() []kubegate.Team
	Team(ctx context.Context, name string) (kubegate.Team, error)
	CreateTeam(ctx context.Context, nt account.NewTeam) (kubegate.Team, error)
	UpdateTeam(ctx context.Context, name string, p account.TeamPatch) (kubegate.Team, error)
	AddMember(ctx context.Context, team, user string) (kubegate.Team, error)
	RemoveMember(ctx context.Context, team, user string) (kubegate.Team, error)
	DeleteTeam(ctx context.Context, name string) error
	UserNames(ids []string) []string
	GroupsOf(u kubegate.User) []string
}

// teamView is a team as the API shows it: members by user name, and the
// Kubernetes group they act with for it.
type teamView struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Group       string   `json:"group"`
	Members     []string `json:"members"`
	CreatedAt   string   `json:"createdAt"`
	UpdatedAt   string   `json:"updatedAt"`
}

func (a api) teamView(t kubegate.Team) teamView {
	members := a.o.Teams.UserNames(t.Members)
	members = slices.DeleteFunc(members, func(n string) bool { return n == "" }) // deleted meanwhile
	slices.Sort(members)
	return teamView{Name: t.Name, Description: t.Description, Group: kubegate.TeamGroup(t.Name), Members: members,
		CreatedAt: httpapi.TimeString(t.CreatedAt), UpdatedAt: httpapi.TimeString(t.UpdatedAt)}
}

// seesTeam says whether id may see t: administrators see every team, others
// the teams they are in.
func seesTeam(id *kubegate.Identity, t kubegate.Team) bool {
	return (id.Admin && id.Scope.IsZero()) || slices.Contains(t.Members, id.UserID)
}

func (a api) listTeams(w http.ResponseWriter, _ *http.Request, id *kubegate.Identity) error {
	items := []teamView{}
	for _, t := range a.o.Teams.Teams() {
		if seesTeam(id, t) {
			items = append(items, a.teamView(t))
		}
	}
	return httpapi.WriteJSON(w, http.StatusOK, map[string]any{"total": len(items), "items": items})
}

type teamRequest struct {
	Name        string    `json:"name"`
	Description *string   `json:"description"`
	Members     *[]string `json:"members"`
}

func (a api) createTeam(w http.ResponseWriter, r *http.Request, _ *kubegate.Identity) error {
	var req teamRequest
	if err := httpapi.DecodeJSON(w, r, &req, false); err != nil {
		return err
	}
	nt := account.NewTeam{Name: req.Name}
	if req.Description != nil {
		nt.Description = *req.Description
	}
	if req.Members != nil {
		nt.Members = *req.Members
	}
	t, err := a.o.Teams.CreateTeam(r.Context(), nt)
	if err != nil {
		return err
	}
	return httpapi.WriteJSON(w, http.StatusCreated, a.teamView(t))
}

func (a api) getTeam(w http.ResponseWriter, r *http.Request, id *kubegate.Identity) error {
	t, err := a.o.Teams.Team(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	if !seesTeam(id, t) {
		return kubegate.Errorf(kubegate.ENotFound, "team %q not found", t.Name) // not even whether it exists
	}
	return httpapi.WriteJSON(w, http.StatusOK, a.teamView(t))
}

func (a api) updateTeam(w http.ResponseWriter, r *http.Request, _ *kubegate.Identity) error {
	var req teamRequest
	if err := httpapi.DecodeJSON(w, r, &req, false); err != nil {
		return err
	}
	if req.Name != "" && req.Name != r.PathValue("name") {
		return kubegate.Errorf(kubegate.EInvalid, "a team cannot be renamed (its name is in its members' group); create another")
	}
	t, err := a.o.Teams.UpdateTeam(r.Context(), r.PathValue("name"), account.TeamPatch{Description: req.Description, Members: req.Members})
	if err != nil {
		return err
	}
	return httpapi.WriteJSON(w, http.StatusOK, a.teamView(t))
}

func (a api) deleteTeam(w http.ResponseWriter, r *http.Request, _ *kubegate.Identity) error {
	name := r.PathValue("name")
	if err := a.o.Teams.DeleteTeam(r.Context(), name); err != nil {
		return err
	}
	return httpapi.WriteSuccess(w, "team "+name+" deleted")
}

func (a api) addMember(w http.ResponseWriter, r *http.Request, _ *kubegate.Identity) error {
	t, err := a.o.Teams.AddMember(r.Context(), r.PathValue("name"), r.PathValue("user"))
	if err != nil {
		return err
	}
	return httpapi.WriteJSON(w, http.StatusOK, a.teamView(t))
}

func (a api) removeMember(w http.ResponseWriter, r *http.Request, _ *kubegate.Identity) error {
	t, err := a.o.Teams.RemoveMember(r.Context(), r.PathValue("name"), r.PathValue("user"))
	if err != nil {
		return err
	}
	return httpapi.WriteJSON(w, http.StatusOK, a.teamView(t))
}
