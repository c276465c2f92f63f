package console

import (
	"strings"
	"time"

	"github.com/kubegate/kubegate"
)

// scopeSummary says in a few words what a credential's scope allows: "Full
// access" for none, else each limit it sets.
func scopeSummary(l Lang, s kubegate.Scope) string {
	if s.IsZero() {
		return l.T("scope.full")
	}
	var parts []string
	if len(s.Clusters) > 0 {
		parts = append(parts, l.T("scope.clusters")+": "+strings.Join(s.Clusters, ", "))
	}
	if len(s.Namespaces) > 0 {
		parts = append(parts, l.T("scope.namespaces")+": "+strings.Join(s.Namespaces, ", "))
	}
	if s.ReadOnly {
		parts = append(parts, l.T("scope.readOnly"))
	}
	if len(s.Sources) > 0 {
		parts = append(parts, l.T("scope.sources")+": "+strings.Join(s.Sources, ", "))
	}
	if s.MintCredentials {
		parts = append(parts, l.T("scope.mint"))
	}
	return strings.Join(parts, " · ")
}

// expiringSoon is how far ahead the console warns of credentials expiring.
const expiringSoon = 7 * 24 * time.Hour

// expiry describes a credential's expiry for its row: the time (or never),
// whether it has passed, and whether it comes within expiringSoon.
func expiry(l Lang, expires, now time.Time) (text string, expired, soon bool) {
	if expires.IsZero() {
		return l.T("keys.noExpiry"), false, false
	}
	text = expires.UTC().Format(timeLayout)
	if !expires.After(now) {
		return text, true, false
	}
	return text, false, expires.Sub(now) <= expiringSoon
}

// scopeEditor is what the scope editor of an Add dialog offers.
type scopeEditor struct {
	// ID prefixes the editor's element IDs (a page may have more than one).
	ID       string
	Clusters []string
}

func (c *Console) scopeEditor(id string) scopeEditor {
	return scopeEditor{ID: id, Clusters: c.clusterNames()}
}

// clusterNames are the registered clusters' names, in name order.
func (c *Console) clusterNames() []string {
	var names []string
	for _, cl := range c.o.Clusters.List() {
		names = append(names, cl.Name)
	}
	return names
}

// exampleCluster names the cluster the example commands use: the first one
// registered, or a placeholder (ok false) while there is none.
func exampleCluster(names []string) (name string, ok bool) {
	if len(names) == 0 {
		return "my-cluster", false
	}
	return names[0], true
}
