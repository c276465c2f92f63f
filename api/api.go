// Package api serves the gateway's own JSON API on KubeCube's paths
// (/api/v1/cube/...): console sessions, users, access keys, clusters and their
// kubeconfigs, audit, signing keys, and the token verification documents under
// /.well-known/. It translates HTTP to calls on small interfaces of the services
// it needs, so each handler can be tested with httptest; the dialects' own routes
// are in api/kubecube and api/dce.
package api

import (
	"context"
	"net/http"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/account"
	"github.com/kubegate/kubegate/authn"
	"github.com/kubegate/kubegate/httpapi"
	"github.com/kubegate/kubegate/request"
)

// Sessions logs users in and out of the console (authn.Service).
type Sessions interface {
	Login(ctx context.Context, name, password, addr string) (authn.Session, error)
	Logout(ctx context.Context, id kubegate.Identity) error
	ChangePassword(ctx context.Context, id kubegate.Identity, oldPassword, newPassword, addr string) error
}

// Accounts manages users and access keys (account.Service).
type Accounts interface {
	ListUsers(ctx context.Context, p kubegate.Page) ([]kubegate.User, int, error)
	CreateUser(ctx context.Context, nu account.NewUser) (kubegate.User, error)
	GetUser(ctx context.Context, name string) (kubegate.User, error)
	UpdateUser(ctx context.Context, actor kubegate.Identity, name string, p account.UserPatch) (kubegate.User, error)
	DeleteUser(ctx context.Context, actor kubegate.Identity, name string) error
	CreateKey(ctx context.Context, userID string, nk account.NewKey) (kubegate.AccessKey, string, error)
	ListKeys(ctx context.Context, userID string) ([]kubegate.AccessKey, error)
	UpdateKey(ctx context.Context, userID, accessKey string, p account.KeyPatch) (kubegate.AccessKey, error)
	DeleteKey(ctx context.Context, userID, accessKey string) error
	Policy() kubegate.CredentialPolicy
	SetPolicy(ctx context.Context, p kubegate.CredentialPolicy) error
}

// Tokens is what the API shows of token signing (token.Service).
type Tokens interface {
	Rotate(ctx context.Context) error
	JWKS() []byte
	Issuer() string
	Algorithm() string
}

// Clusters is the cluster registry (cluster.Registry).
type Clusters interface {
	Register(ctx context.Context, c kubegate.Cluster) (kubegate.Cluster, error)
	List() []kubegate.Cluster
	Get(name string) (kubegate.Cluster, error)
	Delete(ctx context.Context, name string) error
	Health(name string) kubegate.ClusterHealth
}

// AuditLog answers audit queries (the store).
type AuditLog interface {
	ListAudit(ctx context.Context, f kubegate.AuditFilter, p kubegate.Page) ([]kubegate.AuditEvent, int, error)
}

// Options configures the API.
type Options struct {
	Sessions Sessions
	Accounts Accounts
	Teams    Teams
	Grants   Grants
	Access   EffectiveAccess
	Tokens   Tokens
	Clusters Clusters
	Audit    AuditLog
	// ListCache says what the list cache does for a cluster; nil: no cache.
	ListCache func(cluster string) kubegate.ListCacheStatus
	// ExternalURL is the gateway's URL for clients (kubeconfigs, the OpenID
	// configuration); the request's host when empty.
	ExternalURL string
	// ExternalCAData is embedded in generated kubeconfigs.
	ExternalCAData []byte
	// SecureCookies marks session cookies Secure (the gateway serves HTTPS, or sits
	// behind a proxy that does).
	SecureCookies bool
}

type api struct{ o Options }

// Register adds the API's routes to mux.
func Register(mux *http.ServeMux, o Options) {
	a := api{o}
	type m = httpapi.Methods
	// Reading users is for administrators' credentials too (DCE's scripts list
	// them); changing users or clusters needs an administrator's login session, so
	// that a leaked token cannot make itself a permanent administrator.
	authed, admin, session, adminSession := httpapi.Authed, httpapi.Admin, httpapi.Session, httpapi.AdminSession
	p := request.CubePrefix
	mux.Handle(p+"login", m{http.MethodPost: httpapi.Handler(a.login)})
	mux.Handle(request.LogoutPath, m{http.MethodPost: httpapi.Handler(a.logout)})
	mux.Handle(p+"whoami", m{http.MethodGet: authed(a.whoami)})
	mux.Handle(p+"user/password", m{http.MethodPost: authed(a.changePassword), http.MethodPut: authed(a.changePassword)})

	mux.Handle(p+"users", m{http.MethodGet: admin(a.listUsers), http.MethodPost: adminSession(a.createUser)})
	mux.Handle(p+"users/{name}", m{http.MethodGet: admin(a.getUser), http.MethodPatch: adminSession(a.updateUser), http.MethodDelete: adminSession(a.deleteUser)})

	mux.Handle(p+"teams", m{http.MethodGet: authed(a.listTeams), http.MethodPost: adminSession(a.createTeam)})
	mux.Handle(p+"teams/{name}", m{http.MethodGet: authed(a.getTeam), http.MethodPatch: adminSession(a.updateTeam), http.MethodDelete: adminSession(a.deleteTeam)})
	mux.Handle(p+"teams/{name}/members/{user}", m{http.MethodPut: adminSession(a.addMember), http.MethodDelete: adminSession(a.removeMember)})
	mux.Handle(p+"grants", m{http.MethodGet: authed(a.listGrants), http.MethodPost: adminSession(a.createGrant)})
	mux.Handle(p+"access", m{http.MethodGet: authed(a.myAccess)})
	mux.Handle(p+"users/{name}/access", m{http.MethodGet: admin(a.userAccess)})
	mux.Handle(p+"grants/{id}", m{http.MethodGet: authed(a.getGrant), http.MethodDelete: adminSession(a.deleteGrant)})

	mux.Handle(p+"key/create", m{http.MethodPost: session(a.createKey)})
	mux.Handle(p+"key", m{http.MethodGet: authed(a.listKeys), http.MethodPatch: session(a.updateKey), http.MethodDelete: session(a.deleteKey)})
	mux.Handle(p+"signing-keys/rotate", m{http.MethodPost: adminSession(a.rotateSigningKey)})

	mux.Handle(p+"clusters", m{http.MethodGet: authed(a.listClusters), http.MethodPost: adminSession(a.registerCluster)})
	mux.Handle(p+"clusters/{name}", m{http.MethodGet: authed(a.getCluster), http.MethodDelete: adminSession(a.deleteCluster)})
	mux.Handle(p+"clusters/{name}/kubeconfig", m{http.MethodGet: authed(a.clusterKubeconfig)})

	mux.Handle(p+"audit", m{http.MethodGet: authed(a.listAudit)})
	mux.Handle(p+"settings/credential-policy", m{http.MethodGet: authed(a.getPolicy), http.MethodPut: adminSession(a.putPolicy)})

	mux.Handle(request.WellKnownPrefix+"jwks.json", m{http.MethodGet: httpapi.Handler(a.jwks)})
	mux.Handle(request.WellKnownPrefix+"openid-configuration", m{http.MethodGet: httpapi.Handler(a.openIDConfiguration)})
}

func (a api) rotateSigningKey(w http.ResponseWriter, r *http.Request, _ *kubegate.Identity) error {
	if err := a.o.Tokens.Rotate(r.Context()); err != nil {
		return err
	}
	return httpapi.WriteSuccess(w, "signing key rotated; tokens signed with the previous key stay valid until they expire")
}

func (a api) jwks(w http.ResponseWriter, _ *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=60")
	_, err := w.Write(a.o.Tokens.JWKS())
	return err
}

// openIDConfiguration points verifiers at the JWKS, at the gateway's external URL
// like every other URL it hands out.
func (a api) openIDConfiguration(w http.ResponseWriter, r *http.Request) error {
	base := httpapi.ExternalURL(w, a.o.ExternalURL, r)
	return httpapi.WriteJSON(w, http.StatusOK, map[string]any{
		"issuer":                                a.o.Tokens.Issuer(),
		"jwks_uri":                              base + request.WellKnownPrefix + "jwks.json",
		"token_endpoint":                        base + request.KubeCubeTokenPath,
		"id_token_signing_alg_values_supported": []string{a.o.Tokens.Algorithm()},
		"subject_types_supported":               []string{"public"},
		"response_types_supported":              []string{"id_token"},
		"claims_supported":                      []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "preferred_username", "groups"},
	})
}
