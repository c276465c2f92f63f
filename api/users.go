package api

import (
	"net/http"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/account"
	"github.com/kubegate/kubegate/httpapi"
)

// userView is a user as the gateway's API shows it: never the password hash.
type userView struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Email       string   `json:"email"`
	FirstName   string   `json:"firstName"`
	LastName    string   `json:"lastName"`
	Description string   `json:"description"`
	Enabled     bool     `json:"enabled"`
	Admin       bool     `json:"admin"`
	Groups      []string `json:"groups"`
	Source      string   `json:"source"`
	CreatedAt   string   `json:"createdAt"`
	UpdatedAt   string   `json:"updatedAt"`
	LastLoginAt string   `json:"lastLoginAt,omitempty"`
}

// userView shows u with every group u acts with now, teams' included.
func (a api) userView(u kubegate.User) userView {
	groups := kubegate.GroupsFor(u)
	if a.o.Teams != nil {
		groups = a.o.Teams.GroupsOf(u)
	}
	return userView{
		ID: u.ID, Name: u.Name, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName, Description: u.Description,
		Enabled: u.Enabled, Admin: u.Admin, Groups: groups, Source: u.Source,
		CreatedAt: httpapi.TimeString(u.CreatedAt), UpdatedAt: httpapi.TimeString(u.UpdatedAt), LastLoginAt: httpapi.TimeString(u.LastLoginAt),
	}
}

func (a api) listUsers(w http.ResponseWriter, r *http.Request, _ *kubegate.Identity) error {
	_, _, p, err := httpapi.PageParams(r)
	if err != nil {
		return err
	}
	users, total, err := a.o.Accounts.ListUsers(r.Context(), p)
	if err != nil {
		return err
	}
	items := make([]userView, 0, len(users))
	for _, u := range users {
		items = append(items, a.userView(u))
	}
	return httpapi.WriteJSON(w, http.StatusOK, map[string]any{"total": total, "items": items})
}

type createUserRequest struct {
	Name        string `json:"name"`
	Password    string `json:"password"`
	Email       string `json:"email"`
	FirstName   string `json:"firstName"`
	LastName    string `json:"lastName"`
	Description string `json:"description"`
	Admin       bool   `json:"admin"`
}

func (a api) createUser(w http.ResponseWriter, r *http.Request, _ *kubegate.Identity) error {
	var req createUserRequest
	if err := httpapi.DecodeJSON(w, r, &req, false); err != nil {
		return err
	}
	u, err := a.o.Accounts.CreateUser(r.Context(), account.NewUser(req))
	if err != nil {
		return err
	}
	return httpapi.WriteJSON(w, http.StatusCreated, a.userView(u))
}

func (a api) getUser(w http.ResponseWriter, r *http.Request, _ *kubegate.Identity) error {
	u, err := a.o.Accounts.GetUser(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	return httpapi.WriteJSON(w, http.StatusOK, a.userView(u))
}

type updateUserRequest struct {
	Enabled     *bool   `json:"enabled"`
	Admin       *bool   `json:"admin"`
	Email       *string `json:"email"`
	FirstName   *string `json:"firstName"`
	LastName    *string `json:"lastName"`
	Description *string `json:"description"`
	Password    *string `json:"password"`
}

func (a api) updateUser(w http.ResponseWriter, r *http.Request, id *kubegate.Identity) error {
	var req updateUserRequest
	if err := httpapi.DecodeJSON(w, r, &req, false); err != nil {
		return err
	}
	u, err := a.o.Accounts.UpdateUser(r.Context(), *id, r.PathValue("name"), account.UserPatch(req))
	if err != nil {
		return err
	}
	return httpapi.WriteJSON(w, http.StatusOK, a.userView(u))
}

func (a api) deleteUser(w http.ResponseWriter, r *http.Request, id *kubegate.Identity) error {
	name := r.PathValue("name")
	if err := a.o.Accounts.DeleteUser(r.Context(), *id, name); err != nil {
		return err
	}
	return httpapi.WriteSuccess(w, "user "+name+" deleted")
}
