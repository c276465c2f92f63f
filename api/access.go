package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/grants"
	"github.com/kubegate/kubegate/httpapi"
)

// EffectiveAccess answers what a user may actually do (grants.Access).
type EffectiveAccess interface {
	Of(ctx context.Context, u kubegate.User, q grants.AccessQuery) ([]grants.ClusterAccess, error)
}

type ruleView struct {
	Verbs         []string `json:"verbs"`
	APIGroups     []string `json:"apiGroups"`
	Resources     []string `json:"resources"`
	ResourceNames []string `json:"resourceNames,omitempty"`
}

type grantRefView struct {
	ID   string `json:"id"`
	Role string `json:"role"`
}

type namespaceAccessView struct {
	Namespace  string         `json:"namespace"`
	Level      grants.Level   `json:"level"`
	Rules      []ruleView     `json:"rules"`
	Incomplete bool           `json:"incomplete,omitempty"`
	Grants     []grantRefView `json:"grants"`
	Error      string         `json:"error,omitempty"`
}

type clusterAccessView struct {
	Cluster    string                `json:"cluster"`
	Error      string                `json:"error,omitempty"`
	Total      int                   `json:"total"`
	Namespaces []namespaceAccessView `json:"namespaces"`
}

// myAccess answers for the caller.
func (a api) myAccess(w http.ResponseWriter, r *http.Request, id *kubegate.Identity) error {
	u, err := a.o.Accounts.GetUser(r.Context(), id.Name)
	if err != nil {
		return err
	}
	return a.access(w, r, u, id)
}

// userAccess answers, for administrators, for anyone.
func (a api) userAccess(w http.ResponseWriter, r *http.Request, _ *kubegate.Identity) error {
	u, err := a.o.Accounts.GetUser(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	return a.access(w, r, u, nil)
}

// access answers for u; self, when set, is u asking about themselves (within
// what they may see and their credential's scope).
func (a api) access(w http.ResponseWriter, r *http.Request, u kubegate.User, self *kubegate.Identity) error {
	page, size, p, err := httpapi.PageParams(r)
	if err != nil {
		return err
	}
	if size > grants.MaxAccessPage {
		return kubegate.Errorf(kubegate.EInvalid, "pageSize must be at most %d: each namespace is a review in each cluster", grants.MaxAccessPage)
	}
	q := grants.AccessQuery{Page: p}
	if self != nil && (!self.Admin || !self.Scope.IsZero()) {
		q.Limited, q.Scope = true, self.Scope
	}
	if c := r.URL.Query().Get("clusters"); c != "" {
		q.Clusters = strings.Split(c, ",")
		if len(q.Clusters) > kubegate.MaxGrantTargets {
			return kubegate.Errorf(kubegate.EInvalid, "clusters names at most %d", kubegate.MaxGrantTargets)
		}
	}
	out, err := a.o.Access.Of(r.Context(), u, q)
	if err != nil {
		return err
	}
	views := make([]clusterAccessView, len(out))
	for i, c := range out {
		v := clusterAccessView{Cluster: c.Cluster, Error: c.Error, Total: c.Total, Namespaces: make([]namespaceAccessView, len(c.Namespaces))}
		for j, ns := range c.Namespaces {
			nv := namespaceAccessView{Namespace: ns.Namespace, Level: ns.Level, Incomplete: ns.Incomplete, Error: ns.Error,
				Rules: make([]ruleView, len(ns.Rules)), Grants: make([]grantRefView, len(ns.Grants))}
			for k, rule := range ns.Rules {
				nv.Rules[k] = ruleView{Verbs: rule.Verbs, APIGroups: rule.APIGroups, Resources: rule.Resources, ResourceNames: rule.ResourceNames}
			}
			for k, g := range ns.Grants {
				nv.Grants[k] = grantRefView{ID: g.ID, Role: g.Role}
			}
			v.Namespaces[j] = nv
		}
		views[i] = v
	}
	return httpapi.WriteJSON(w, http.StatusOK, map[string]any{"user": u.Name, "page": page, "pageSize": size, "clusters": views})
}
