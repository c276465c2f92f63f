package console

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/request"
)

type fakes struct{ keys []kubegate.AccessKey }

func (f fakes) ListKeys(context.Context, string) ([]kubegate.AccessKey, error) { return f.keys, nil }
func (fakes) Policy() kubegate.CredentialPolicy {
	return kubegate.CredentialPolicy{KeyMaxLifetime: 30 * 24 * time.Hour, TokenMaxLifetime: 36 * time.Hour}
}
func (f fakes) ListPersonalTokens(context.Context, string) ([]kubegate.AccessKey, error) {
	return f.keys, nil
}
func (fakes) List() []kubegate.Cluster { return []kubegate.Cluster{{Name: "prod"}, {Name: "staging"}} }
func (fakes) Health(string) kubegate.ClusterHealth {
	return kubegate.ClusterHealth{Status: "Ready", Version: "v1.37.2"}
}
func (fakes) SearchUsers(string, kubegate.Page) ([]kubegate.User, int) {
	return []kubegate.User{{ID: "u1", Name: "alice", Enabled: true}}, 1
}
func (fakes) ListAudit(_ context.Context, f kubegate.AuditFilter, _ kubegate.Page) ([]kubegate.AuditEvent, int, error) {
	return []kubegate.AuditEvent{{User: f.User, AccessKey: "AK1", Cluster: "prod", Verb: "list", Path: "/api/v1/pods", StatusCode: 403, Scope: "refused: namespaces"}}, 1, nil
}

// Every page renders in both languages with scoped, expiring and expired
// credentials, and shows what it must.
func TestEveryPageRenders(t *testing.T) {
	now := time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)
	f := fakes{keys: []kubegate.AccessKey{
		{AccessKey: "AKSCOPED", Name: "ci", Status: kubegate.KeyActive, CreatedAt: now, ExpiresAt: now.Add(3 * 24 * time.Hour),
			Scope: kubegate.Scope{Clusters: []string{"prod"}, Namespaces: []string{"team-a"}, ReadOnly: true, Sources: []string{"10.0.0.0/8"}, MintCredentials: true}},
		{AccessKey: "AKEXPIRED", Status: kubegate.KeyActive, CreatedAt: now.Add(-48 * time.Hour), ExpiresAt: now.Add(-time.Hour)},
		{AccessKey: "AKFULL", Status: kubegate.KeyInactive, CreatedAt: now.Add(-time.Hour)},
	}}
	c, err := New(Options{Keys: f, Clusters: f, Users: f, Audit: f, PersonalTokens: f, MaxKeysPerUser: 5, MaxTokensPerUser: 5, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	c.Register(mux)
	admin := &kubegate.Identity{UserID: "u0", Name: "root", Admin: true}
	for _, tc := range []struct {
		path, lang string
		want       []string
	}{
		{"/keys", "en", []string{"Clusters: prod", "read-only", "10.0.0.0/8", "may mint cluster credentials", `name="scope-mint"`, "Full access (as you)", "expires within 7 days", "1 of your keys expire within 7 days", `value="staging"`, "Expired", "at most 30 days from now", "Expires (required)"}},
		{"/keys", "zh-CN", []string{"只读", "完全访问", "7 天内过期"}},
		{"/tokens", "en", []string{"Personal access tokens", "AKSCOPED", "read-only", "Create token"}},
		{"/tokens", "zh-CN", []string{"个人访问令牌"}},
		{"/audit?since=2026-11-24T08:00:00%2B08:00", "en", []string{`value="2026-11-24T00:00"`}},
		{"/audit?status=4xx", "en", []string{"refused by scope: namespaces", "403", `<option value="4xx" selected>`, "Clear filters"}},
		{"/audit", "zh-CN", []string{"审计日志", "被作用范围拒绝"}},
		{"/clusters", "en", []string{"staging", "v1.37.2"}},
		{"/users", "zh-CN", []string{"alice"}},
		{"/password", "en", []string{"password-form"}},
		{"/settings", "en", []string{`value="30"`, `value="1.5"`, "Credential lifetime policy", `id="policy-key-required" name="keyRequired">`}},
		{"/settings", "zh-CN", []string{"凭据有效期策略"}},
	} {
		r := httptest.NewRequest("GET", tc.path, nil)
		r.Header.Set("Accept-Language", tc.lang)
		r = r.WithContext(request.WithIdentity(r.Context(), admin))
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		body := w.Body.String()
		if w.Code != http.StatusOK {
			t.Errorf("%s (%s): %d %s", tc.path, tc.lang, w.Code, body)
			continue
		}
		for _, s := range tc.want {
			if !strings.Contains(body, s) {
				t.Errorf("%s (%s) lacks %q", tc.path, tc.lang, s)
			}
		}
	}
	// A bad filter is said on the page, with the status it deserves.
	r := httptest.NewRequest("GET", "/audit?since=tomorrow", nil)
	r = r.WithContext(request.WithIdentity(r.Context(), admin))
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "since must be") {
		t.Errorf("a bad filter: %d", w.Code)
	}
}
