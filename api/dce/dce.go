// Package dce serves DaoCloud DCE 5.0's API shapes: the ghippo.io token exchange
// and user list, and the kpanda.io cluster and resource lists, answering
// {"items", "pagination"} as DCE does. Lists of a cluster's resources go through
// the proxy's list engine, as the caller.
package dce

import (
	"net/http"
	"strconv"
	"time"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/api/exchange"
	"github.com/kubegate/kubegate/httpapi"
	"github.com/kubegate/kubegate/request"
)

// Users searches the gateway's users.
type Users interface {
	SearchUsers(search string, p kubegate.Page) ([]kubegate.User, int)
}

// Clusters is the cluster registry as the kpanda cluster list reads it.
type Clusters interface {
	List() []kubegate.Cluster
	Health(name string) kubegate.ClusterHealth
}

// Lister lists a cluster's collection as the caller (kubeproxy.Proxy).
type Lister = lister

// Options configures the DCE routes.
type Options struct {
	Exchanger   exchange.Exchanger
	MaxTokenTTL time.Duration
	Users       Users
	Tokens      PersonalTokens
	Clusters    Clusters
	Lister      Lister
	// MaxPageSize bounds pageSize.
	MaxPageSize int
}

type api struct{ o Options }

// Register adds DCE's routes to mux.
func Register(mux *http.ServeMux, o Options) {
	a := api{o}
	// cycle is the lifetime in days, 3 by default, as in DCE.
	params := exchange.Params{AccessKey: "ak", SecretKey: "sk", Lifetime: "cycle", Unit: 24 * time.Hour, DefaultTTL: 3 * 24 * time.Hour}
	token := exchange.Handler(o.Exchanger, params, o.MaxTokenTTL)
	mux.Handle(request.DCETokenPath, httpapi.Methods{http.MethodGet: token, http.MethodPost: token})
	mux.Handle(request.GhippoPrefix+"users", httpapi.Methods{http.MethodGet: httpapi.Admin(a.listUsers)})
	mux.Handle(request.GhippoPrefix+"current-user", httpapi.Methods{http.MethodGet: httpapi.Authed(a.currentUser)})
	// Personal access tokens: made and removed from a login session only (a
	// credential cannot mint credentials); listed by any.
	mux.Handle(request.GhippoPrefix+"current-user/accesstoken", httpapi.Methods{http.MethodPost: httpapi.Session(a.createToken)})
	mux.Handle(request.GhippoPrefix+"current-user/accesstokens", httpapi.Methods{http.MethodGet: httpapi.Authed(a.listTokens)})
	mux.Handle(request.GhippoPrefix+"current-user/accesstokens/{aid}", httpapi.Methods{http.MethodDelete: httpapi.Session(a.deleteToken)})
	mux.Handle(request.GhippoPrefix+"users/{id}/accesstoken", httpapi.Methods{http.MethodPost: httpapi.AdminSession(a.createToken)})
	mux.Handle(request.GhippoPrefix+"users/{id}/accesstokens", httpapi.Methods{http.MethodGet: httpapi.Admin(a.listTokens)})
	mux.Handle(request.GhippoPrefix+"users/{id}/accesstokens/{aid}", httpapi.Methods{http.MethodDelete: httpapi.AdminSession(a.deleteToken)})
	mux.Handle(request.KpandaClustersPath, httpapi.Methods{http.MethodGet: httpapi.Authed(a.listClusters)})
	mux.Handle(request.KpandaPrefix+"asl/deployments", httpapi.Methods{http.MethodGet: httpapi.Authed(a.listAllDeployments)})
	mux.Handle(request.KpandaClustersPath+"/{cluster}", httpapi.Methods{http.MethodGet: httpapi.Authed(a.getCluster)})
	mux.Handle(request.KpandaClustersPath+"/{cluster}/{rest...}", httpapi.Methods{http.MethodGet: httpapi.Authed(a.listResources)})
}

// user is a user as DCE's ghippo API shows it: times are epoch milliseconds as
// strings, "" for never.
type user struct {
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

// listUsers: GET /apis/ghippo.io/v1alpha1/users?search=&page=&pageSize= (page
// from 0 to 1000 as ghippo documents it; 0 is the first page).
func (a api) listUsers(w http.ResponseWriter, r *http.Request, _ *kubegate.Identity) error {
	for k := range r.URL.Query() {
		if k != "search" && k != "page" && k != "pageSize" {
			return kubegate.Errorf(kubegate.EInvalid, "unknown parameter %q; allowed: search, page, pageSize", k)
		}
	}
	page, err := httpapi.IntParam(r, "page", 1, 0, 1000)
	if err != nil {
		return err
	}
	page = max(page, 1)
	size, err := httpapi.IntParam(r, "pageSize", 10, 1, 1000)
	if err != nil {
		return err
	}
	users, total := a.o.Users.SearchUsers(r.URL.Query().Get("search"), kubegate.Page{Limit: size, Offset: (page - 1) * size})
	items := make([]user, 0, len(users))
	for _, u := range users {
		items = append(items, user{
			ID: u.ID, Name: u.Name, Email: u.Email, Description: u.Description, FirstName: u.FirstName, LastName: u.LastName,
			Source: u.Source, Enabled: u.Enabled,
			CreatedAt: epochMillis(u.CreatedAt), UpdatedAt: epochMillis(u.UpdatedAt), LastLoginAt: epochMillis(u.LastLoginAt),
		})
	}
	return httpapi.WriteJSON(w, http.StatusOK, map[string]any{"items": items, "pagination": httpapi.NewPagination(page, size, total)})
}

// epochMillis formats t as DCE does: epoch milliseconds in a string, "" for never.
func epochMillis(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return strconv.FormatInt(t.UnixMilli(), 10)
}
