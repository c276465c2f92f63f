package console

import (
	"context"
	"net/http"
	"sort"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/httpapi"
)

// PersonalTokens lists a user's personal access tokens.
type PersonalTokens interface {
	ListPersonalTokens(ctx context.Context, userID string) ([]kubegate.AccessKey, error)
}

type tokenRow struct {
	ID, Name, Scope, Created, LastUsed, LastIP, Expires string
	Expired, Soon                                       bool
}

type tokensPage struct {
	Rows       []tokenRow
	Count, Max int
	AtLimit    bool
	Soon       int
	Editor     scopeEditor
	// Cluster names a cluster in the example command.
	Cluster string
}

// tokens shows the caller's personal access tokens (DCE 5.0's, bearer tokens
// that need no exchange) and creates and deletes them through ghippo's API.
func (c *Console) tokens(w http.ResponseWriter, r *http.Request) {
	p := c.newPage(r, "tokens")
	list, err := c.o.PersonalTokens.ListPersonalTokens(r.Context(), p.User.UserID)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	sort.Slice(list, func(i, j int) bool { return list[i].CreatedAt.After(list[j].CreatedAt) })
	now := c.o.Now()
	x := tokensPage{Count: len(list), Max: c.o.MaxTokensPerUser, AtLimit: len(list) >= c.o.MaxTokensPerUser, Editor: c.scopeEditor("new-token")}
	x.Cluster, _ = exampleCluster(x.Editor.Clusters)
	for _, k := range list {
		row := tokenRow{
			ID: k.AccessKey, Name: k.Name, Scope: scopeSummary(p.Lang, k.Scope), Created: k.CreatedAt.UTC().Format(timeLayout),
			LastUsed: p.T("keys.never"),
		}
		row.Expires, row.Expired, row.Soon = expiry(p.Lang, k.ExpiresAt, now)
		if row.Soon {
			x.Soon++
		}
		if !k.LastUsedAt.IsZero() {
			row.LastUsed, row.LastIP = k.LastUsedAt.UTC().Format(timeLayout), k.LastUsedIP
		}
		x.Rows = append(x.Rows, row)
	}
	p.Extras = x
	c.render(w, r, p)
}
