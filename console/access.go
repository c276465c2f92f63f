package console

import (
	"context"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/grants"
	"github.com/kubegate/kubegate/httpapi"
)

// Teams lists teams (account.Service).
type Teams interface {
	Teams() []kubegate.Team
	UserNames(ids []string) []string
}

// Grants lists grants with their status (grants.Service).
type Grants interface {
	List(ctx context.Context) ([]kubegate.Grant, error)
	Roles() []string
	SubjectName(g kubegate.Grant) string
}

// EffectiveAccess answers what a user may do (grants.Access), for the user
// found by name (account.Service).
type EffectiveAccess interface {
	Of(ctx context.Context, u kubegate.User, q grants.AccessQuery) ([]grants.ClusterAccess, error)
}

// UserByName finds a user (account.Service).
type UserByName interface {
	GetUser(ctx context.Context, name string) (kubegate.User, error)
}

type teamRow struct {
	Name, Description, Group string
	Members                  []string
}

// teamsPage lists every team, for administrators.
func (c *Console) teams(w http.ResponseWriter, r *http.Request) {
	p := c.newPage(r, "teams")
	if !p.User.Admin {
		httpapi.WriteError(w, r, kubegate.Errorf(kubegate.EForbidden, "the teams page is for administrators"))
		return
	}
	rows := []teamRow{}
	for _, t := range c.o.Teams.Teams() {
		members := slices.DeleteFunc(c.o.Teams.UserNames(t.Members), func(n string) bool { return n == "" })
		sort.Strings(members)
		rows = append(rows, teamRow{Name: t.Name, Description: t.Description, Group: kubegate.TeamGroup(t.Name), Members: members})
	}
	p.Extras = rows
	c.render(w, r, p)
}

type grantStatusCell struct {
	Cluster, State, Message string
}

type grantRow struct {
	ID, SubjectKind, Subject, Role, Clusters, Where string
	Status                                          []grantStatusCell
}

type grantsPage struct {
	Rows     []grantRow
	Roles    []string
	Clusters []string
	Teams    []string
}

// grantsPage lists every grant with its state in each cluster, for
// administrators, with the dialog that grants.
func (c *Console) grants(w http.ResponseWriter, r *http.Request) {
	p := c.newPage(r, "grants")
	if !p.User.Admin {
		httpapi.WriteError(w, r, kubegate.Errorf(kubegate.EForbidden, "the access page is for administrators"))
		return
	}
	list, err := c.o.Grants.List(r.Context())
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	x := grantsPage{Roles: c.o.Grants.Roles(), Clusters: c.clusterNames()}
	for _, t := range c.o.Teams.Teams() {
		x.Teams = append(x.Teams, t.Name)
	}
	for _, g := range list {
		row := grantRow{ID: g.ID, SubjectKind: string(g.Subject.Kind), Subject: c.o.Grants.SubjectName(g), Role: g.Role,
			Clusters: everywhere(p, g.Clusters, "grants.allClusters")}
		if g.ClusterWide {
			row.Where = p.T("grants.clusterWide")
		} else {
			row.Where = everywhere(p, g.Namespaces, "grants.allNamespaces")
		}
		for _, st := range g.StatusIn(x.Clusters) {
			cell := grantStatusCell{Cluster: st.Cluster, State: string(st.State), Message: st.Message}
			if st.UpdatedAt.IsZero() {
				cell.Message = p.T("grants.notYet")
			}
			row.Status = append(row.Status, cell)
		}
		x.Rows = append(x.Rows, row)
	}
	p.Extras = x
	c.render(w, r, p)
}

func everywhere(p page, names []string, all string) string {
	if len(names) == 1 && names[0] == kubegate.Everywhere {
		return p.T(all)
	}
	return strings.Join(names, ", ")
}

// accessPageSize is how many namespaces of each cluster the grid shows at once.
const accessPageSize = 20

type accessCell struct {
	Level   string
	Grants  string // the grants that apply, "role (id)"
	Summary string // the rules, for the cell's title
	Error   string
	Known   bool // the namespace is in this cluster's page
}

type accessRow struct {
	Namespace string
	Cells     []accessCell
}

type accessPage struct {
	User             string
	Other            bool // an administrator looking at someone else
	Clusters         []string
	ClusterErrors    []string
	Rows             []accessRow
	Page, Pages      int
	PrevURL, NextURL string
}

// access shows what the user (an administrator may name another, ?user=) may
// do: a grid of namespaces × clusters, a page of each cluster's namespaces at
// a time.
func (c *Console) access(w http.ResponseWriter, r *http.Request) {
	p := c.newPage(r, "access")
	q := r.URL.Query()
	name := p.User.Name
	if other := q.Get("user"); other != "" && other != name {
		if !p.User.Admin {
			httpapi.WriteError(w, r, kubegate.Errorf(kubegate.EForbidden, "only administrators see another user's access"))
			return
		}
		name = other
	}
	page, err := pageParam(q)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	u, err := c.o.Accounts.GetUser(r.Context(), name)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	out, err := c.o.Access.Of(r.Context(), u, grants.AccessQuery{
		Page: kubegate.Page{Limit: accessPageSize, Offset: (page - 1) * accessPageSize}, Limited: !p.User.Admin, Scope: p.User.Scope,
	})
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	x := accessPage{User: u.Name, Other: u.Name != p.User.Name, Page: page}
	byNS := map[string]map[string]grants.NamespaceAccess{}
	total := 0
	for _, ca := range out {
		x.Clusters = append(x.Clusters, ca.Cluster)
		if ca.Error != "" {
			x.ClusterErrors = append(x.ClusterErrors, ca.Cluster+": "+ca.Error)
		}
		total = max(total, ca.Total)
		for _, na := range ca.Namespaces {
			if byNS[na.Namespace] == nil {
				byNS[na.Namespace] = map[string]grants.NamespaceAccess{}
			}
			byNS[na.Namespace][ca.Cluster] = na
		}
	}
	namespaces := make([]string, 0, len(byNS))
	for ns := range byNS {
		namespaces = append(namespaces, ns)
	}
	sort.Strings(namespaces)
	for _, ns := range namespaces {
		row := accessRow{Namespace: ns}
		for _, cl := range x.Clusters {
			na, ok := byNS[ns][cl]
			cell := accessCell{Known: ok, Level: string(na.Level), Error: na.Error}
			var gs, rules []string
			for _, g := range na.Grants {
				gs = append(gs, g.Role+" ("+g.ID+")")
			}
			for _, rule := range na.Rules {
				rules = append(rules, strings.Join(rule.Verbs, ",")+" "+strings.Join(rule.Resources, ","))
			}
			cell.Grants, cell.Summary = strings.Join(gs, ", "), strings.Join(rules, "; ")
			row.Cells = append(row.Cells, cell)
		}
		x.Rows = append(x.Rows, row)
	}
	x.Pages, x.PrevURL, x.NextURL = pager(r.URL, page, total, accessPageSize)
	p.Extras = x
	c.render(w, r, p)
}
