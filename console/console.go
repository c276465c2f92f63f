// Package console serves the web console: server-rendered pages (html/template
// and embed) with a small script for dialogs, copy buttons and calls to the
// gateway's JSON API, which does all the work. The console holds no state of its
// own: the session is the API's cookie, state-changing calls carry the API's
// CSRF header, and every page is sent with a strict Content-Security-Policy.
package console

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/httpapi"
	"github.com/kubegate/kubegate/request"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// CSP is sent with every console response: scripts and styles from the gateway
// only (no inline code), never framed.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// Keys lists a user's access keys.
type Keys interface {
	ListKeys(ctx context.Context, userID string) ([]kubegate.AccessKey, error)
	// Policy is the credential lifetime policy in force.
	Policy() kubegate.CredentialPolicy
}

// Clusters lists the registered clusters (in name order) and their last health check.
type Clusters interface {
	List() []kubegate.Cluster
	Health(name string) kubegate.ClusterHealth
}

// Users finds users by name, email or full name, in name order.
type Users interface {
	SearchUsers(search string, p kubegate.Page) ([]kubegate.User, int)
}

// Options configure the console.
type Options struct {
	Keys     Keys
	Clusters Clusters
	Users    Users
	Audit    AuditLog
	// ListCache says what the list cache does for a cluster; nil: no cache.
	ListCache func(cluster string) kubegate.ListCacheStatus
	// PersonalTokens lists personal access tokens; MaxTokensPerUser is their limit.
	PersonalTokens   PersonalTokens
	MaxTokensPerUser int
	// MaxKeysPerUser is the server's limit, shown and enforced in the page.
	MaxKeysPerUser int
	// Teams, Grants, Access and Accounts serve the teams, access and my-access
	// pages.
	Teams    Teams
	Grants   Grants
	Access   EffectiveAccess
	Accounts UserByName
	// Search lists across clusters for the search page.
	Search Searcher
	// ExternalURL is the gateway's address in the commands the console shows;
	// empty: the address the request came to.
	ExternalURL string
	// SecureCookies marks the language cookie Secure, as the session's.
	SecureCookies bool
	Now           func() time.Time
}

// Console serves the console's pages and assets.
type Console struct {
	o     Options
	pages map[string]*template.Template
	files http.Handler
}

// New parses the console's templates.
func New(o Options) (*Console, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	c := &Console{o: o, pages: map[string]*template.Template{}}
	for _, name := range []string{"login", "keys", "password", "clusters", "users", "audit", "tokens", "settings", "teams", "grants", "access", "search"} {
		t, err := template.ParseFS(templateFS, "templates/layout.html", "templates/scope.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", name, err)
		}
		c.pages[name] = t
	}
	assets, err := fs.Sub(assetFS, "assets")
	if err != nil {
		return nil, err
	}
	files := http.StripPrefix(request.ConsoleAssetsPrefix, http.FileServer(http.FS(assets)))
	// Files only: no directory listings.
	c.files = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			httpapi.WriteError(w, r, kubegate.Errorf(kubegate.ENotFound, "the server could not find the requested resource %q", r.URL.Path))
			return
		}
		files.ServeHTTP(w, r)
	})
	return c, nil
}

// Register adds the console's pages and assets to mux.
func (c *Console) Register(mux *http.ServeMux) {
	get := func(h http.HandlerFunc) http.Handler { return withHeaders(httpapi.Methods{http.MethodGet: h}) }
	mux.Handle("/{$}", get(c.home))
	mux.Handle("/login", get(c.login))
	mux.Handle("/keys", get(c.authed(c.keys)))
	mux.Handle("/password", get(c.authed(c.password)))
	mux.Handle("/clusters", get(c.authed(c.clusters)))
	mux.Handle("/users", get(c.authed(c.users)))
	mux.Handle("/audit", get(c.authed(c.auditLog)))
	mux.Handle("/tokens", get(c.authed(c.tokens)))
	mux.Handle("/settings", get(c.authed(c.settings)))
	mux.Handle("/teams", get(c.authed(c.teams)))
	mux.Handle("/grants", get(c.authed(c.grants)))
	mux.Handle("/access", get(c.authed(c.access)))
	mux.Handle("/search", get(c.authed(c.search)))
	mux.Handle(request.ConsoleAssetsPrefix, withHeaders(httpapi.Methods{http.MethodGet: c.files}))
}

// withHeaders sets the console's security headers on every response.
func withHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", CSP)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		if !strings.HasPrefix(r.URL.Path, request.ConsoleAssetsPrefix) {
			hd.Set("Cache-Control", "no-store")
		}
		h.ServeHTTP(w, r)
	})
}

// page is what every template gets.
type page struct {
	Lang  Lang
	Other Lang
	Name  string // the template
	Path  string
	User  *kubegate.Identity
	Next  string
	Base  string
	// LangURL is this page in the other language, its query kept.
	LangURL string
	// Error is shown at the top of the page (a bad filter, say).
	Error  string
	Extras any
}

// T is the message key in the page's language, formatted with args.
func (p page) T(key string, args ...any) string {
	s := p.Lang.T(key)
	if len(args) > 0 {
		s = fmt.Sprintf(s, args...)
	}
	return s
}

// ScopeEditor hands the scope editor template the page and the editor.
func (p page) ScopeEditor(e scopeEditor) any {
	return struct {
		P page
		E scopeEditor
	}{p, e}
}

func (c *Console) newPage(r *http.Request, name string) page {
	l := langOf(r)
	other := Chinese
	if l == Chinese {
		other = English
	}
	q := r.URL.Query()
	q.Set("lang", string(other))
	return page{
		Lang: l, Other: other, Name: name, Path: r.URL.Path, User: request.Identity(r.Context()),
		Base:    strings.TrimSuffix(httpapi.ExternalURL(nil, c.o.ExternalURL, r), "/"),
		LangURL: (&url.URL{Path: r.URL.Path, RawQuery: q.Encode()}).String(),
	}
}

func (c *Console) render(w http.ResponseWriter, r *http.Request, p page) {
	c.renderStatus(w, r, p, http.StatusOK)
}

// renderStatus renders p with the status code (a page that shows an error).
func (c *Console) renderStatus(w http.ResponseWriter, r *http.Request, p page, code int) {
	var b bytes.Buffer
	if err := c.pages[p.Name].ExecuteTemplate(&b, "layout", p); err != nil {
		httpapi.WriteError(w, r, fmt.Errorf("rendering the %s page: %w", p.Name, err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = b.WriteTo(w)
}

// switchLang answers ?lang=: it remembers the choice and reloads the page
// without the parameter. It reports whether it answered.
func (c *Console) switchLang(w http.ResponseWriter, r *http.Request) bool {
	v := r.URL.Query().Get("lang")
	if v == "" {
		return false
	}
	if l, ok := parseLang(v); ok {
		// Secure follows the listener, as the session cookie's: over plain HTTP a Secure cookie never comes back.
		http.SetCookie(w, &http.Cookie{ //nolint:gosec // see above.
			Name: langCookie, Value: string(l), Path: "/", MaxAge: 365 * 24 * 3600,
			HttpOnly: true, Secure: c.o.SecureCookies, SameSite: http.SameSiteLaxMode,
		})
	}
	q := r.URL.Query()
	q.Del("lang")
	u := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
	return true
}

// authed sends a visitor without a session to the login page, and back here after.
func (c *Console) authed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if c.switchLang(w, r) {
			return
		}
		if request.Identity(r.Context()) == nil {
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		h(w, r)
	}
}

func (c *Console) home(w http.ResponseWriter, r *http.Request) {
	if request.Identity(r.Context()) == nil {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/keys", http.StatusSeeOther)
}

// localPath keeps a post-login destination on the gateway: a path, never another
// origin ("//host", "/\host" or a scheme) — an open redirect would lend the
// gateway's name to phishing. It is judged as the browser will read it: after
// decoding and cleaning (http.Redirect cleans "/x/../" away), and a backslash in
// any form is refused, since browsers read it as a slash.
func localPath(next string) string {
	const home = "/keys"
	if strings.ContainsAny(next, "\\\r\n\t") || strings.Contains(strings.ToLower(next), "%5c") {
		return home
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
		return home
	}
	clean := path.Clean(u.Path)
	if strings.HasPrefix(clean, "//") || strings.ContainsAny(clean, "\\\r\n\t") {
		return home
	}
	u.Path, u.RawPath = clean, ""
	out := u.String()
	if !strings.HasPrefix(out, "/") || strings.HasPrefix(out, "//") {
		return home
	}
	return out
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	if c.switchLang(w, r) {
		return
	}
	next := localPath(r.URL.Query().Get("next"))
	if request.Identity(r.Context()) != nil {
		http.Redirect(w, r, next, http.StatusSeeOther) //nolint:gosec // next went through localPath: a path on this gateway.
		return
	}
	p := c.newPage(r, "login")
	p.Next = next
	c.render(w, r, p)
}

// keyRow is one access key as the keys page shows it.
type keyRow struct {
	AccessKey, Description, Status, Scope, Created, LastUsed, LastIP, Expires string
	// Active and Expired choose the row's actions: an expired key can only be deleted.
	Active, Expired bool
	// Soon: it expires within a week.
	Soon bool
}

type keysPage struct {
	Rows         []keyRow
	Count, Max   int
	AtLimit      bool
	Cluster      string
	HasCluster   bool
	AccessKeyRef string
	// Soon counts the keys that expire within a week.
	Soon   int
	Editor scopeEditor
	// ExpiryRequired and MaxLifetime are the lifetime policy, said in the dialog.
	ExpiryRequired bool
	MaxLifetime    string
}

const timeLayout = "2006-01-02 15:04 UTC"

func (c *Console) keys(w http.ResponseWriter, r *http.Request) {
	p := c.newPage(r, "keys")
	keys, err := c.o.Keys.ListKeys(r.Context(), p.User.UserID)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	now := c.o.Now()
	pol := c.o.Keys.Policy()
	x := keysPage{
		Count: len(keys), Max: c.o.MaxKeysPerUser, AtLimit: len(keys) >= c.o.MaxKeysPerUser, Editor: c.scopeEditor("new-key"),
		ExpiryRequired: pol.ExpiryRequired(),
	}
	if pol.KeyMaxLifetime > 0 {
		x.MaxLifetime = days(pol.KeyMaxLifetime)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].CreatedAt.After(keys[j].CreatedAt) })
	for _, k := range keys {
		row := keyRow{
			AccessKey: k.AccessKey, Description: k.Description, Status: string(k.Status), Scope: scopeSummary(p.Lang, k.Scope),
			Created: k.CreatedAt.UTC().Format(timeLayout), Active: k.Status == kubegate.KeyActive, LastUsed: p.T("keys.never"),
		}
		row.Expires, row.Expired, row.Soon = expiry(p.Lang, k.ExpiresAt, now)
		if row.Expired {
			row.Status, row.Active = "Expired", false
		}
		if row.Soon {
			x.Soon++
		}
		if !k.LastUsedAt.IsZero() {
			row.LastUsed, row.LastIP = k.LastUsedAt.UTC().Format(timeLayout), k.LastUsedIP
		}
		x.Rows = append(x.Rows, row)
	}
	x.Cluster, x.HasCluster = exampleCluster(x.Editor.Clusters)
	x.AccessKeyRef = "<access-key>"
	if len(x.Rows) > 0 {
		x.AccessKeyRef = x.Rows[0].AccessKey
	}
	p.Extras = x
	c.render(w, r, p)
}

// clusterRow is one registered cluster as the clusters page shows it.
type clusterRow struct {
	Name, Description, Server, Status, Version, Message, Checked string
	Cache                                                        kubegate.ListCacheStatus
}

func (c *Console) clusters(w http.ResponseWriter, r *http.Request) {
	p := c.newPage(r, "clusters")
	cs := c.o.Clusters.List()
	rows := make([]clusterRow, 0, len(cs))
	for _, cl := range cs {
		h := c.o.Clusters.Health(cl.Name)
		row := clusterRow{Name: cl.Name, Description: cl.Description, Server: cl.Server, Status: h.Status, Version: h.Version, Message: h.Message, Checked: "—"}
		switch row.Status {
		case "Ready", "Unreachable", "Unauthorized":
		default:
			row.Status = "Unknown"
		}
		if !h.CheckedAt.IsZero() {
			row.Checked = h.CheckedAt.UTC().Format(timeLayout)
		}
		if c.o.ListCache != nil {
			row.Cache = c.o.ListCache(cl.Name)
			if !p.User.Admin {
				row.Cache.Collections, row.Cache.Refused = nil, nil // the operator's to see
			}
		}
		rows = append(rows, row)
	}
	p.Extras = rows
	c.render(w, r, p)
}

// usersPageSize is how many users the users page shows at once.
const usersPageSize = 20

type userRow struct {
	Name, FullName, Email, Created, LastLogin string
	Enabled, Admin, Self                      bool
}

type usersPage struct {
	Rows               []userRow
	Search             string
	Total, Page, Pages int
	PrevURL, NextURL   string
}

func (c *Console) users(w http.ResponseWriter, r *http.Request) {
	p := c.newPage(r, "users")
	if !p.User.Admin {
		httpapi.WriteError(w, r, kubegate.Errorf(kubegate.EForbidden, "the users page is for administrators"))
		return
	}
	q := r.URL.Query()
	search := strings.TrimSpace(q.Get("q"))
	if len(search) > 128 {
		httpapi.WriteError(w, r, kubegate.Errorf(kubegate.EInvalid, "q must be at most 128 bytes"))
		return
	}
	page, err := pageParam(q)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	users, total := c.o.Users.SearchUsers(search, kubegate.Page{Limit: usersPageSize, Offset: (page - 1) * usersPageSize})
	x := usersPage{Search: search, Total: total, Page: page}
	x.Pages, x.PrevURL, x.NextURL = pager(r.URL, page, total, usersPageSize)
	for _, u := range users {
		row := userRow{
			Name: u.Name, FullName: strings.TrimSpace(u.FirstName + " " + u.LastName), Email: u.Email,
			Created: u.CreatedAt.UTC().Format(timeLayout), LastLogin: p.T("keys.never"),
			Enabled: u.Enabled, Admin: u.Admin, Self: u.ID == p.User.UserID,
		}
		if !u.LastLoginAt.IsZero() {
			row.LastLogin = u.LastLoginAt.UTC().Format(timeLayout)
		}
		x.Rows = append(x.Rows, row)
	}
	p.Extras = x
	c.render(w, r, p)
}

func (c *Console) password(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, c.newPage(r, "password"))
}
