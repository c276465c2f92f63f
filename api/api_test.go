package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/account"
	"github.com/kubegate/kubegate/api"
	"github.com/kubegate/kubegate/authn"
	"github.com/kubegate/kubegate/filters"
	"github.com/kubegate/kubegate/request"
	"github.com/kubegate/kubegate/token"
)

// fakes: each answers from fields the test sets.

type sessions struct {
	err     error
	revoked []string
}

func (s *sessions) Login(_ context.Context, name, password, _ string) (authn.Session, error) {
	if s.err != nil {
		return authn.Session{}, s.err
	}
	if password != "right" {
		return authn.Session{}, kubegate.Errorf(kubegate.EUnauthorized, "invalid user name or password")
	}
	return authn.Session{User: kubegate.User{ID: "u1", Name: name}, Token: token.Issued{Token: "tok-" + name, ExpiresAt: time.Now().Add(time.Hour)}, Bearer: token.Issued{Token: "tok-" + name, ExpiresAt: time.Now().Add(time.Hour)}}, nil
}

func (s *sessions) Logout(_ context.Context, id kubegate.Identity) error {
	s.revoked = append(s.revoked, id.TokenID)
	return nil
}

type accounts struct {
	api.Accounts // methods a test does not set panic
	keysErr      error
	users        map[string]kubegate.User
}

func (a *accounts) CreateKey(_ context.Context, userID string, nk account.NewKey) (kubegate.AccessKey, string, error) {
	return kubegate.AccessKey{AccessKey: "AK-" + userID, UserID: userID, Description: nk.Description, Status: kubegate.KeyActive}, "the-secret", nil
}

func (a *accounts) ListKeys(_ context.Context, userID string) ([]kubegate.AccessKey, error) {
	if a.keysErr != nil {
		return nil, a.keysErr
	}
	return []kubegate.AccessKey{{AccessKey: "AK-" + userID, SecretHash: []byte("hash"), Status: kubegate.KeyActive}}, nil
}

func (a *accounts) GetUser(_ context.Context, name string) (kubegate.User, error) {
	if u, ok := a.users[name]; ok {
		return u, nil
	}
	return kubegate.User{}, kubegate.Errorf(kubegate.ENotFound, "user %q not found", name)
}

func (a *accounts) ListUsers(context.Context, kubegate.Page) ([]kubegate.User, int, error) {
	return []kubegate.User{{ID: "u1", Name: "alice", PasswordHash: "$argon2id$secret"}}, 1, nil
}

type tokens struct{}

func (tokens) Rotate(context.Context) error { return nil }
func (tokens) JWKS() []byte                 { return []byte(`{"keys":[]}`) }
func (tokens) Issuer() string               { return "kubegate" }
func (tokens) Algorithm() string            { return "ES256" }

type clusters struct {
	api.Clusters
	registered []kubegate.Cluster
}

func (c *clusters) Register(_ context.Context, cl kubegate.Cluster) (kubegate.Cluster, error) {
	c.registered = append(c.registered, cl)
	return cl, nil
}

func (c *clusters) Get(name string) (kubegate.Cluster, error) {
	if name == "prod" {
		return kubegate.Cluster{Name: "prod", Server: "https://10.0.0.1"}, nil
	}
	return kubegate.Cluster{}, kubegate.Errorf(kubegate.ENotFound, "cluster %q not found", name)
}

func (c *clusters) Health(string) kubegate.ClusterHealth {
	return kubegate.ClusterHealth{Status: "Ready"}
}

// auditLog remembers the last filter it was asked for.
type auditLog struct{ last kubegate.AuditFilter }

func (a *auditLog) ListAudit(_ context.Context, f kubegate.AuditFilter, _ kubegate.Page) ([]kubegate.AuditEvent, int, error) {
	a.last = f
	return nil, 0, nil
}

type fixture struct {
	audit    *auditLog
	sessions *sessions
	accounts *accounts
	clusters *clusters
	logs     *bytes.Buffer
	handler  http.Handler
}

// newFixture serves the API behind the request ID, classification and logging
// filters, with the identity a test puts in the X-Test-User header ("admin" is
// an administrator).
func newFixture() *fixture {
	f := &fixture{audit: &auditLog{}, sessions: &sessions{}, accounts: &accounts{users: map[string]kubegate.User{"bob": {ID: "u2", Name: "bob"}}}, clusters: &clusters{}, logs: &bytes.Buffer{}}
	mux := http.NewServeMux()
	api.Register(mux, api.Options{
		Sessions: f.sessions, Accounts: f.accounts, Tokens: tokens{}, Clusters: f.clusters, Audit: f.audit,
		ExternalURL: "https://gw.example.com/", ExternalCAData: []byte("CA"),
	})
	asUser := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if name := r.Header.Get("X-Test-User"); name != "" {
			id := &kubegate.Identity{UserID: "id-" + name, Name: name, Admin: name == "admin", TokenID: "jti-" + name}
			r = r.WithContext(request.WithIdentity(r.Context(), id))
		}
		mux.ServeHTTP(w, r)
	})
	logger := slog.New(slog.NewJSONHandler(f.logs, nil))
	f.handler = filters.WithRequestID(filters.WithRequestInfo(filters.WithLogging(asUser, logger, time.Now)))
	return f
}

func (f *fixture) do(t *testing.T, method, path, user, body string) *httptest.ResponseRecorder {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, path, rd)
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if user != "" {
		r.Header.Set("X-Test-User", user)
	}
	w := httptest.NewRecorder()
	f.handler.ServeHTTP(w, r)
	return w
}

// status checks the code and, for errors, that the body is a Status with it.
func status(t *testing.T, w *httptest.ResponseRecorder, code int) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil && w.Body.Len() > 0 {
		t.Fatalf("body is not JSON: %q", w.Body)
	}
	if w.Code != code {
		t.Fatalf("status %d, want %d: %s", w.Code, code, w.Body)
	}
	if code >= 400 && (m["kind"] != "Status" || m["code"] != float64(code)) {
		t.Fatalf("error body is not a Status with code %d: %s", code, w.Body)
	}
	return m
}

func TestRoutesRefuseWrongMethodsAndAnonymousCallers(t *testing.T) {
	f := newFixture()
	w := f.do(t, "PUT", "/api/v1/cube/key/create", "alice", "")
	status(t, w, 405)
	if w.Header().Get("Allow") != "POST" {
		t.Fatalf("Allow = %q", w.Header().Get("Allow"))
	}
	for _, path := range []string{"/api/v1/cube/key", "/api/v1/cube/whoami", "/api/v1/cube/clusters", "/api/v1/cube/users"} {
		w := f.do(t, "GET", path, "", "")
		status(t, w, 401)
		if w.Header().Get("WWW-Authenticate") == "" {
			t.Fatalf("%s: 401 without WWW-Authenticate", path)
		}
	}
	for _, tc := range []struct{ method, path string }{
		{"GET", "/api/v1/cube/users"}, {"POST", "/api/v1/cube/clusters"},
		{"POST", "/api/v1/cube/signing-keys/rotate"}, {"DELETE", "/api/v1/cube/clusters/prod"},
	} {
		m := status(t, f.do(t, tc.method, tc.path, "alice", ""), 403)
		if !strings.Contains(m["message"].(string), "not an administrator") {
			t.Fatalf("%s %s: %v", tc.method, tc.path, m)
		}
	}
}

func TestLogin(t *testing.T) {
	f := newFixture()
	status(t, f.do(t, "POST", "/api/v1/cube/login", "", `{"name":"alice"`), 400)
	m := status(t, f.do(t, "POST", "/api/v1/cube/login", "", `{"name":"alice","password":"x","extra":1}`), 400)
	if !strings.Contains(m["message"].(string), `unknown field "extra"`) {
		t.Fatalf("message = %v", m["message"])
	}
	status(t, f.do(t, "POST", "/api/v1/cube/login", "", `{"name":"alice","password":"wrong"}`), 401)

	w := f.do(t, "POST", "/api/v1/cube/login", "", `{"name":"alice","password":"right"}`)
	if status(t, w, 200)["token"] != "tok-alice" {
		t.Fatalf("login = %s", w.Body)
	}
	cookies := w.Result().Cookies()
	if len(cookies) != 2 || cookies[0].Name != authn.SessionCookie || !cookies[0].HttpOnly || cookies[1].Name != request.CSRFCookie || cookies[1].HttpOnly {
		t.Fatalf("cookies = %+v", cookies)
	}

	f.sessions.err = &kubegate.Error{Code: kubegate.ETooManyRequests, Message: "too many failed attempts; retry after 42 seconds", RetryAfter: 42 * time.Second}
	w = f.do(t, "POST", "/api/v1/cube/login", "", `{"name":"alice","password":"right"}`)
	status(t, w, 429)
	if w.Header().Get("Retry-After") != "42" {
		t.Fatalf("Retry-After = %q", w.Header().Get("Retry-After"))
	}
}

func TestLogoutRevokesTheCallersToken(t *testing.T) {
	f := newFixture()
	w := f.do(t, "POST", "/api/v1/cube/logout", "alice", "")
	if w.Code != 204 || len(f.sessions.revoked) != 1 || f.sessions.revoked[0] != "jti-alice" {
		t.Fatalf("logout: %d, revoked %v", w.Code, f.sessions.revoked)
	}
}

func TestKeysNeverShowSecretsButOnce(t *testing.T) {
	f := newFixture()
	created := status(t, f.do(t, "POST", "/api/v1/cube/key/create", "alice", `{"description":"ci"}`), 200)
	if created["secretKey"] != "the-secret" || created["accessKey"] != "AK-id-alice" {
		t.Fatalf("created = %v", created)
	}
	w := f.do(t, "GET", "/api/v1/cube/key", "alice", "")
	status(t, w, 200)
	if strings.Contains(w.Body.String(), "secret") || strings.Contains(w.Body.String(), "hash") {
		t.Fatalf("the key list shows a secret: %s", w.Body)
	}
	status(t, f.do(t, "POST", "/api/v1/cube/key/create", "alice", `{"expiresAt":"tomorrow"}`), 400)
	status(t, f.do(t, "GET", "/api/v1/cube/key?user=bob", "alice", ""), 403)
	status(t, f.do(t, "GET", "/api/v1/cube/key?user=bob", "admin", ""), 200)
	status(t, f.do(t, "GET", "/api/v1/cube/key?user=nobody", "admin", ""), 404)
	status(t, f.do(t, "PATCH", "/api/v1/cube/key", "alice", `{"status":"Inactive"}`), 400) // no accessKey
}

// An internal error is answered without its cause and logged once, with the
// request ID the response carries.
func TestInternalErrorsAreLoggedOnceWithTheRequestID(t *testing.T) {
	f := newFixture()
	f.accounts.keysErr = errors.New("pq: connection refused to 10.1.2.3")
	w := f.do(t, "GET", "/api/v1/cube/key", "alice", "")
	m := status(t, w, 500)
	if m["message"] != "internal error" {
		t.Fatalf("the cause leaked: %v", m["message"])
	}
	id := w.Header().Get(request.IDHeader)
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(f.logs.String()), "\n") {
		if strings.Contains(line, `"msg":"request failed"`) {
			n++
			if !strings.Contains(line, `"request_id":"`+id+`"`) || !strings.Contains(line, "connection refused") {
				t.Fatalf("log line = %s", line)
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d error lines, want 1:\n%s", n, f.logs)
	}
}

func TestUsersNeverShowPasswordHashes(t *testing.T) {
	f := newFixture()
	w := f.do(t, "GET", "/api/v1/cube/users", "admin", "")
	status(t, w, 200)
	if strings.Contains(w.Body.String(), "argon2") {
		t.Fatalf("users list shows a hash: %s", w.Body)
	}
}

func TestRegisterClusterRefusesFileReferences(t *testing.T) {
	f := newFixture()
	kc := "apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\n" +
		"clusters:\n- name: c\n  cluster: {server: 'https://10.0.0.9', certificate-authority-data: Q0E=}\nusers:\n- name: u\n  user: {tokenFile: /etc/kubegate/token}\n"
	body, _ := json.Marshal(map[string]string{"name": "up", "kubeconfig": kc})
	m := status(t, f.do(t, "POST", "/api/v1/cube/clusters", "admin", string(body)), 400)
	if !strings.Contains(m["message"].(string), "tokenFile") || len(f.clusters.registered) != 0 {
		t.Fatalf("message %v, registered %v", m["message"], f.clusters.registered)
	}
	body, _ = json.Marshal(map[string]string{"name": "up", "kubeconfig": strings.Replace(kc, "tokenFile: /etc/kubegate/token", "token: t", 1), "description": "uploaded"})
	status(t, f.do(t, "POST", "/api/v1/cube/clusters", "admin", string(body)), 201)
	if len(f.clusters.registered) != 1 || f.clusters.registered[0].Credentials.BearerToken != "t" || f.clusters.registered[0].Description != "uploaded" {
		t.Fatalf("registered %+v", f.clusters.registered)
	}
}

// URLs the API hands out use the configured external URL.
func TestExternalURLs(t *testing.T) {
	f := newFixture()
	w := f.do(t, "GET", "/api/v1/cube/clusters/prod/kubeconfig", "alice", "")
	if w.Code != 200 || !strings.Contains(w.Body.String(), "server: https://gw.example.com/api/v1/cube/proxy/clusters/prod") ||
		!strings.Contains(w.Body.String(), "- https://gw.example.com\n") || !strings.Contains(w.Body.String(), "certificate-authority-data: Q0E=") {
		t.Fatalf("kubeconfig %d:\n%s", w.Code, w.Body)
	}
	status(t, f.do(t, "GET", "/api/v1/cube/clusters/nope/kubeconfig", "alice", ""), 404)
	m := status(t, f.do(t, "GET", "/.well-known/openid-configuration", "", ""), 200)
	if m["jwks_uri"] != "https://gw.example.com/.well-known/jwks.json" || m["token_endpoint"] != "https://gw.example.com/api/v1/cube/key/token" {
		t.Fatalf("openid configuration = %v", m)
	}
}

func (s *sessions) ChangePassword(_ context.Context, _ kubegate.Identity, oldPassword, _, _ string) error {
	if oldPassword != "right" {
		return kubegate.Errorf(kubegate.EForbidden, "the current password is wrong")
	}
	return nil
}

// A token exchanged from an access key cannot manage keys: a leaked hour-long
// token must not become a permanent credential.
func TestKeyManagementNeedsALoginSession(t *testing.T) {
	f := newFixture()
	minted := func(method, path, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		id := &kubegate.Identity{UserID: "id-alice", Name: "alice", AccessKey: "AK-leaked", Admin: true}
		w := httptest.NewRecorder()
		inner := http.NewServeMux()
		api.Register(inner, api.Options{Sessions: f.sessions, Accounts: f.accounts, Tokens: tokens{}, Clusters: f.clusters})
		inner.ServeHTTP(w, r.WithContext(request.WithIdentity(r.Context(), id)))
		return w
	}
	for _, tc := range []struct{ method, path string }{
		{"POST", "/api/v1/cube/key/create"}, {"PATCH", "/api/v1/cube/key?accessKey=AK-id-alice"},
		{"DELETE", "/api/v1/cube/key?accessKey=AK-id-alice"}, {"POST", "/api/v1/cube/signing-keys/rotate"},
	} {
		m := status(t, minted(tc.method, tc.path, `{"status":"Inactive"}`), 403)
		if !strings.Contains(m["message"].(string), "login session") {
			t.Fatalf("%s %s: %v", tc.method, tc.path, m["message"])
		}
	}
	status(t, minted("GET", "/api/v1/cube/key", ""), 200) // reading stays open
	status(t, f.do(t, "POST", "/api/v1/cube/key/create", "alice", ""), 200)
}

// Login takes JSON from the gateway's own origin only: a cross-site form or
// text/plain post cannot log a browser in as someone else.
func TestLoginRefusesCrossSiteRequests(t *testing.T) {
	f := newFixture()
	post := func(contentType, origin string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "https://gw.example.com/api/v1/cube/login", strings.NewReader(`{"name":"alice","password":"right"}`))
		r.Header.Set("Content-Type", contentType)
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		w := httptest.NewRecorder()
		f.handler.ServeHTTP(w, r)
		return w
	}
	status(t, post("text/plain", ""), 415)
	status(t, post("application/x-www-form-urlencoded", ""), 415)
	status(t, post("application/json", "https://evil.example"), 403)
	status(t, post("application/json", "http://gw.example.com"), 403) // another scheme is another origin
	status(t, post("application/json; charset=utf-8", "https://gw.example.com"), 200)
	status(t, post("application/json", ""), 200) // scripts send no Origin
}

// KubeCube's login body works; a login type kubegate does not have is a 400 naming it.
func TestLoginTypes(t *testing.T) {
	f := newFixture()
	status(t, f.do(t, "POST", "/api/v1/cube/login", "", `{"name":"alice","password":"right","loginType":"normal"}`), 200)
	m := status(t, f.do(t, "POST", "/api/v1/cube/login", "", `{"name":"alice","password":"right","loginType":"ldap"}`), 400)
	if !strings.Contains(m["message"].(string), `loginType "ldap"`) {
		t.Fatalf("message = %v", m["message"])
	}
}

// Everyone reads the audit log: administrators everyone's calls, other users
// their own only, whatever they ask for.
func TestAuditIsEveryonesOwnAndAdminsAll(t *testing.T) {
	f := newFixture()
	status(t, f.do(t, "GET", "/api/v1/cube/audit?accessKey=AK1&status=4xx", "alice", ""), 200)
	if got := f.audit.last; got.UserID != "id-alice" || got.AccessKey != "AK1" || got.StatusMin != 400 || got.StatusMax != 499 {
		t.Fatalf("alice's query became %+v", got)
	}
	m := status(t, f.do(t, "GET", "/api/v1/cube/audit?user=bob", "alice", ""), 403)
	if !strings.Contains(m["message"].(string), "only administrators") {
		t.Fatalf("alice asking for bob's calls: %v", m)
	}
	status(t, f.do(t, "GET", "/api/v1/cube/audit?user=bob", "admin", ""), 200)
	if got := f.audit.last; got.User != "bob" {
		t.Fatalf("the admin's query became %+v", got)
	}
	status(t, f.do(t, "GET", "/api/v1/cube/audit?status=teapot", "admin", ""), 400)
	status(t, f.do(t, "GET", "/api/v1/cube/audit?page=2000&pageSize=100", "admin", ""), 400) // too deep: narrow the filter
}

// Without --external-url the discovery document is built from the request's Host,
// which the client chose: it is never cached for anyone else.
func TestHostDerivedURLsAreNotCached(t *testing.T) {
	mux := http.NewServeMux()
	api.Register(mux, api.Options{Sessions: &sessions{}, Accounts: &accounts{}, Tokens: tokens{}, Clusters: &clusters{}, Audit: &auditLog{}})
	r := httptest.NewRequest("GET", "/.well-known/openid-configuration", nil)
	r.Host = "attacker.example"
	w := httptest.NewRecorder()
	filters.WithRequestInfo(mux).ServeHTTP(w, r)
	if w.Code != 200 || !strings.Contains(w.Body.String(), "http://attacker.example/.well-known/jwks.json") {
		t.Fatalf("openid configuration %d: %s", w.Code, w.Body)
	}
	if w.Header().Get("Cache-Control") != "no-store" || w.Header().Get("Vary") != "Host" {
		t.Fatalf("a Host-derived document may be cached: %v", w.Header())
	}
	// A configured URL is the same for everyone and may be cached.
	f := newFixture()
	if w := f.do(t, "GET", "/.well-known/openid-configuration", "", ""); w.Header().Get("Vary") == "Host" {
		t.Fatalf("a configured document varies by Host: %v", w.Header())
	}
}
