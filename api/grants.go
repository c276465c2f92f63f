package api

import (
	"context"
	"net/http"
	"slices"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/grants"
	"github.com/kubegate/kubegate/httpapi"
)

// Grants give users and teams roles across clusters (grants.Service).
type Grants interface {
	Roles() []string
	Create(ctx context.Context, by string, ng grants.NewGrant) (kubegate.Grant, error)
	List(ctx context.Context) ([]kubegate.Grant, error)
	Get(ctx context.Context, id string) (kubegate.Grant, error)
	Delete(ctx context.Context, id string) error
	SubjectName(g kubegate.Grant) string
}

type subjectView struct {
	Kind kubegate.SubjectKind `json:"kind"`
	Name string               `json:"name"`
}

type grantStatusView struct {
	Cluster   string              `json:"cluster"`
	State     kubegate.GrantState `json:"state"`
	Message   string              `json:"message,omitempty"`
	UpdatedAt string              `json:"updatedAt,omitempty"`
}

// grantView is a grant as the API shows it: the subject by name, and a status
// for every registered cluster it covers.
type grantView struct {
	ID          string            `json:"id"`
	Subject     subjectView       `json:"subject"`
	Role        string            `json:"role"`
	Clusters    []string          `json:"clusters"`
	Namespaces  []string          `json:"namespaces"`
	ClusterWide bool              `json:"clusterWide"`
	BindingName string            `json:"bindingName"`
	CreatedBy   string            `json:"createdBy"`
	CreatedAt   string            `json:"createdAt"`
	Status      []grantStatusView `json:"status"`
}

func (a api) grantView(g kubegate.Grant) grantView {
	v := grantView{
		ID: g.ID, Subject: subjectView{Kind: g.Subject.Kind, Name: a.o.Grants.SubjectName(g)}, Role: g.Role,
		Clusters: g.Clusters, Namespaces: g.Namespaces, ClusterWide: g.ClusterWide, BindingName: kubegate.BindingName(g.ID),
		CreatedBy: g.CreatedBy, CreatedAt: httpapi.TimeString(g.CreatedAt), Status: []grantStatusView{},
	}
	if v.Namespaces == nil {
		v.Namespaces = []string{}
	}
	var clusters []string
	for _, c := range a.o.Clusters.List() {
		clusters = append(clusters, c.Name)
	}
	for _, s := range g.StatusIn(clusters) {
		st := grantStatusView{Cluster: s.Cluster, State: s.State, Message: s.Message, UpdatedAt: httpapi.TimeString(s.UpdatedAt)}
		if s.UpdatedAt.IsZero() {
			st.Message = "not reconciled yet"
		}
		v.Status = append(v.Status, st)
	}
	return v
}

// seesGrant says whether id may see g: administrators see every grant, others
// those that give them something.
func (a api) seesGrant(id *kubegate.Identity, g kubegate.Grant) bool {
	if id.Admin && id.Scope.IsZero() {
		return true
	}
	if g.Subject.Kind == kubegate.SubjectUser {
		return g.Subject.Name == id.UserID
	}
	return slices.Contains(id.Groups, kubegate.TeamGroup(g.Subject.Name))
}

func (a api) listGrants(w http.ResponseWriter, r *http.Request, id *kubegate.Identity) error {
	list, err := a.o.Grants.List(r.Context())
	if err != nil {
		return err
	}
	items := []grantView{}
	for _, g := range list {
		if a.seesGrant(id, g) {
			items = append(items, a.grantView(g))
		}
	}
	return httpapi.WriteJSON(w, http.StatusOK, map[string]any{"total": len(items), "items": items, "grantableRoles": a.o.Grants.Roles()})
}

type grantRequest struct {
	Subject     subjectView `json:"subject"`
	Role        string      `json:"role"`
	Clusters    []string    `json:"clusters"`
	Namespaces  []string    `json:"namespaces"`
	ClusterWide bool        `json:"clusterWide"`
}

func (a api) createGrant(w http.ResponseWriter, r *http.Request, id *kubegate.Identity) error {
	var req grantRequest
	if err := httpapi.DecodeJSON(w, r, &req, false); err != nil {
		return err
	}
	g, err := a.o.Grants.Create(r.Context(), id.Name, grants.NewGrant{
		Subject: kubegate.GrantSubject{Kind: req.Subject.Kind, Name: req.Subject.Name}, Role: req.Role,
		Clusters: req.Clusters, Namespaces: req.Namespaces, ClusterWide: req.ClusterWide,
	})
	if err != nil {
		return err
	}
	return httpapi.WriteJSON(w, http.StatusCreated, a.grantView(g))
}

func (a api) getGrant(w http.ResponseWriter, r *http.Request, id *kubegate.Identity) error {
	g, err := a.o.Grants.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if !a.seesGrant(id, g) {
		return kubegate.Errorf(kubegate.ENotFound, "grant %q not found", g.ID)
	}
	return httpapi.WriteJSON(w, http.StatusOK, a.grantView(g))
}

func (a api) deleteGrant(w http.ResponseWriter, r *http.Request, _ *kubegate.Identity) error {
	gid := r.PathValue("id")
	if err := a.o.Grants.Delete(r.Context(), gid); err != nil {
		return err
	}
	return httpapi.WriteSuccess(w, "grant "+gid+" deleted; its bindings are being removed")
}
