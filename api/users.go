package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/account"
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

func toUserView(u kubegate.User) userView {
	return userView{
		ID: u.ID, Name: u.Name, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName, Description: u.Description,
		Enabled: u.Enabled, Admin: u.Admin, Groups: kubegate.GroupsFor(u), Source: u.Source,
		CreatedAt: timeString(u.CreatedAt), UpdatedAt: timeString(u.UpdatedAt), LastLoginAt: timeString(u.LastLoginAt),
	}
}

// pageParams reads page (1-based) and pageSize, the names both dialects use.
func pageParams(r *http.Request) (page, size int, p kubegate.Page, err error) {
	if page, err = intParam(r, "page", 1, 1, 1<<30); err != nil {
		return
	}
	if size, err = intParam(r, "pageSize", 10, 1, 1000); err != nil {
		return
	}
	return page, size, kubegate.Page{Limit: size, Offset: (page - 1) * size}, nil
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request, _ *kubegate.Identity) error {
	_, _, p, err := pageParams(r)
	if err != nil {
		return err
	}
	users, total, err := a.opts.Accounts.ListUsers(r.Context(), p)
	if err != nil {
		return err
	}
	items := make([]userView, 0, len(users))
	for _, u := range users {
		items = append(items, toUserView(u))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"total": total, "items": items})
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

func (a *API) createUser(w http.ResponseWriter, r *http.Request, _ *kubegate.Identity) error {
	var req createUserRequest
	if err := decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	u, err := a.opts.Accounts.CreateUser(r.Context(), account.NewUser(req))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, toUserView(u))
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request, _ *kubegate.Identity) error {
	u, err := a.opts.Accounts.GetUser(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toUserView(u))
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

func (a *API) updateUser(w http.ResponseWriter, r *http.Request, id *kubegate.Identity) error {
	var req updateUserRequest
	if err := decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	u, err := a.opts.Accounts.UpdateUser(r.Context(), *id, r.PathValue("name"), account.UserPatch(req))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toUserView(u))
}

func (a *API) deleteUser(w http.ResponseWriter, r *http.Request, id *kubegate.Identity) error {
	name := r.PathValue("name")
	if err := a.opts.Accounts.DeleteUser(r.Context(), *id, name); err != nil {
		return err
	}
	return writeSuccess(w, "user "+name+" deleted")
}

func (a *API) rotateSigningKey(w http.ResponseWriter, r *http.Request, _ *kubegate.Identity) error {
	if err := a.opts.Tokens.Rotate(r.Context()); err != nil {
		return err
	}
	return writeSuccess(w, "signing key rotated; tokens signed with the previous key stay valid until they expire")
}

// ghippo is DCE 5.0's user API shape.
type ghippo struct{ a *API }

// ghippoUser is a user as DCE's ghippo API shows it: times are epoch milliseconds
// as strings, "" for never.
type ghippoUser struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Email       string `json:"email"`
	Description string `json:"description"`
	FirstName   string `json:"firstname"`
	LastName    string `json:"lastname"`
	Source      string `json:"source"`
	Enabled     bool   `json:"enabled"`
	CreatedAt   string `json:"createdAt"`
	UpdatedAt   string `json:"updatedAt"`
	LastLoginAt string `json:"lastLoginAt"`
}

type pagination struct {
	Page     int `json:"page"`
	PageSize int `json:"pageSize"`
	Total    int `json:"total"`
	Pages    int `json:"pages"`
}

func newPagination(page, size, total int) pagination {
	return pagination{Page: page, PageSize: size, Total: total, Pages: (total + size - 1) / size}
}

func (g ghippo) listUsers(w http.ResponseWriter, r *http.Request, _ *kubegate.Identity) error {
	page, size, p, err := pageParams(r)
	if err != nil {
		return err
	}
	users, total, err := g.a.opts.Accounts.ListUsers(r.Context(), p)
	if err != nil {
		return err
	}
	items := make([]ghippoUser, 0, len(users))
	for _, u := range users {
		items = append(items, ghippoUser{
			ID: u.ID, Name: u.Name, Email: u.Email, Description: u.Description, FirstName: u.FirstName, LastName: u.LastName,
			Source: u.Source, Enabled: u.Enabled,
			CreatedAt: epochMillis(u.CreatedAt), UpdatedAt: epochMillis(u.UpdatedAt), LastLoginAt: epochMillis(u.LastLoginAt),
		})
	}
	return writeJSON(w, http.StatusOK, map[string]any{"items": items, "pagination": newPagination(page, size, total)})
}

// epochMillis formats t as DCE does: epoch milliseconds in a string, "" for never.
func epochMillis(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return strconv.FormatInt(t.UnixMilli(), 10)
}

func (a *API) jwks(w http.ResponseWriter, _ *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=60")
	_, err := w.Write(a.opts.Tokens.JWKS())
	return err
}

func (a *API) openIDConfiguration(w http.ResponseWriter, r *http.Request) error {
	base := "http://" + r.Host
	if r.TLS != nil {
		base = "https://" + r.Host
	}
	return writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                a.opts.Tokens.Issuer(),
		"jwks_uri":                              base + "/.well-known/jwks.json",
		"token_endpoint":                        base + "/api/v1/cube/key/token",
		"id_token_signing_alg_values_supported": []string{a.opts.Tokens.Algorithm()},
		"subject_types_supported":               []string{"public"},
		"response_types_supported":              []string{"id_token"},
		"claims_supported":                      []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "preferred_username", "groups"},
	})
}
