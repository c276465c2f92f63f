package filters_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/filters"
	"github.com/kubegate/kubegate/metrics"
	"github.com/kubegate/kubegate/request"
)

func TestClientIPTrustsOnlyConfiguredProxies(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.1/32")}
	cases := []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"direct client", "203.0.113.7:5000", nil, "203.0.113.7"},
		{"spoofed header from an untrusted peer", "203.0.113.7:5000", []string{"1.2.3.4"}, "203.0.113.7"},
		{"one trusted proxy", "10.1.2.3:443", []string{"198.51.100.9"}, "198.51.100.9"},
		{"client-supplied hops left of the real client are ignored", "10.1.2.3:443", []string{"6.6.6.6, 198.51.100.9"}, "198.51.100.9"},
		{"a chain of trusted proxies", "10.1.2.3:443", []string{"198.51.100.9, 192.168.1.1", "10.9.9.9"}, "198.51.100.9"},
		{"garbage stops the walk", "10.1.2.3:443", []string{"198.51.100.9, not-an-ip"}, "10.1.2.3"},
		{"IPv4-mapped IPv6 peer", "[::ffff:203.0.113.7]:5000", nil, "203.0.113.7"},
		{"IPv6 client", "[2001:db8::1]:5000", nil, "2001:db8::1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got string
			h := filters.WithClientIP(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				got = request.ClientIP(r.Context())
			}), trusted)
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				req.Header.Add("X-Forwarded-For", v)
			}
			h.ServeHTTP(httptest.NewRecorder(), req)
			if got != tc.want {
				t.Fatalf("client IP = %q, want %q", got, tc.want)
			}
		})
	}
}

// Methods a client invents never become label values.
func TestMetricsMethodLabelsAreBounded(t *testing.T) {
	m := metrics.New()
	h := filters.WithRequestInfo(filters.WithMetrics(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), m, time.Now, nil))
	for _, method := range []string{"GET", "BREW", "X" + strings.Repeat("Y", 200), "PROPFIND"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(method, "/healthz", nil))
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	if !strings.Contains(body, `kubegate_http_requests_total{code="200",method="other",route="health"} 3`) ||
		!strings.Contains(body, `kubegate_http_requests_total{code="200",method="GET",route="health"} 1`) {
		t.Fatalf("method labels:\n%s", body)
	}
	if strings.Contains(body, "BREW") || strings.Contains(body, "PROPFIND") || strings.Contains(body, "YYYY") {
		t.Fatal("a client-chosen method became a label")
	}
}

type sink struct{ events []kubegate.AuditEvent }

func (s *sink) Record(e kubegate.AuditEvent) { s.events = append(s.events, e) }

// Audit events keep bounded paths and verbs, whatever the client sends.
func TestAuditBoundsWhatClientsChoose(t *testing.T) {
	s := &sink{}
	h := filters.WithAudit(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), s, time.Now)
	r := httptest.NewRequest("GET", "/api/v1/cube/proxy/clusters/c1/api/v1/namespaces/"+strings.Repeat("é", 5000), nil)
	r.Method = strings.Repeat("M", 100)
	h.ServeHTTP(httptest.NewRecorder(), r.WithContext(request.WithIdentity(r.Context(), &kubegate.Identity{Name: "alice"})))
	e := s.events[0]
	if len(e.Path) > filters.MaxAuditPath || !utf8.ValidString(e.Path) || !strings.HasSuffix(e.Path, "…") || len(e.Verb) > 16 {
		t.Fatalf("stored path of %d bytes (valid UTF-8: %v), verb of %d", len(e.Path), utf8.ValidString(e.Path), len(e.Verb))
	}
}

// failing answers every credential as revoked, and says whether it came as the cookie.
type failing struct{}

func (failing) Authenticate(r *http.Request, sessions bool) (*kubegate.Identity, bool, error) {
	if r.Header.Get("Authorization") != "" {
		return nil, false, kubegate.Errorf(kubegate.EUnauthorized, "token revoked")
	}
	if _, err := r.Cookie(request.SessionCookie); err == nil && sessions {
		return nil, true, kubegate.Errorf(kubegate.EUnauthorized, "token revoked")
	}
	return nil, false, nil
}

func (failing) RenewSession(*kubegate.Identity) (string, time.Time, error) {
	return "", time.Time{}, nil
}

// A revoked bearer token is a 401 at once; an ended cookie session is forgotten
// (the cookies expired) and the request goes on anonymous, so the browser can
// reach the login page and log in again.
func TestEndedSessionCookieIsForgottenButRevokedTokenRefused(t *testing.T) {
	var anonymous bool
	h := filters.WithRequestInfo(filters.WithAuthentication(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		anonymous = request.Identity(r.Context()) == nil
	}), failing{}, false))

	r := httptest.NewRequest("GET", "/api/v1/cube/whoami", nil)
	r.Header.Set("Authorization", "Bearer revoked")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusUnauthorized {
		t.Errorf("revoked bearer token: %d, want 401", w.Code)
	}

	for _, path := range []string{"/keys", "/api/v1/cube/login"} {
		anonymous = false
		r = httptest.NewRequest("GET", path, nil)
		r.AddCookie(&http.Cookie{Name: request.SessionCookie, Value: "ended"})
		w = httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK || !anonymous {
			t.Errorf("%s with an ended session cookie: %d, anonymous %v", path, w.Code, anonymous)
		}
		expired := map[string]bool{}
		for _, c := range w.Result().Cookies() {
			expired[c.Name] = c.MaxAge < 0
		}
		if !expired[request.SessionCookie] || !expired[request.CSRFCookie] {
			t.Errorf("%s: the session cookies were not expired: %v", path, w.Header().Values("Set-Cookie"))
		}
	}
}

// renewing authenticates every cookie as a login due for renewal.
type renewing struct{}

func (renewing) Authenticate(r *http.Request, sessions bool) (*kubegate.Identity, bool, error) {
	if _, err := r.Cookie(request.SessionCookie); err == nil && sessions {
		return &kubegate.Identity{Name: "alice"}, true, nil
	}
	return nil, false, nil
}

func (renewing) RenewSession(*kubegate.Identity) (string, time.Time, error) {
	return "next", time.Now().Add(time.Hour), nil
}

// A console login used is renewed in its cookie (HttpOnly, Secure as configured);
// a bearer token is never answered with a cookie.
func TestUsedSessionCookieIsRenewed(t *testing.T) {
	h := filters.WithRequestInfo(filters.WithAuthentication(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), renewing{}, true))
	r := httptest.NewRequest("GET", "/keys", nil)
	r.AddCookie(&http.Cookie{Name: request.SessionCookie, Value: "old"})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	cs := w.Result().Cookies()
	if len(cs) != 1 || cs[0].Name != request.SessionCookie || cs[0].Value != "next" || !cs[0].HttpOnly || !cs[0].Secure || cs[0].Expires.IsZero() {
		t.Fatalf("renewed cookie: %v", w.Header().Values("Set-Cookie"))
	}
	r = httptest.NewRequest("GET", "/api/v1/cube/whoami", nil)
	r.Header.Set("Authorization", "Bearer x")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if got := w.Header().Values("Set-Cookie"); len(got) != 0 {
		t.Fatalf("a bearer request got cookies: %v", got)
	}
}

// A login or exchange is audited under the name or key it claimed, failed or not;
// any other anonymous request is not (it is in the access log).
func TestAuthenticationAttemptsAreAudited(t *testing.T) {
	s := &sink{}
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/cube/login" {
			filters.NoteAttempt(r.Context(), strings.Repeat("m", 500), "")
			w.WriteHeader(http.StatusUnauthorized)
		}
	})
	h := filters.WithLogging(filters.WithAudit(inner, s, time.Now), slog.New(slog.DiscardHandler), time.Now)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/api/v1/cube/login", nil))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/login", nil))
	if len(s.events) != 1 {
		t.Fatalf("%d events, want the login attempt's alone: %+v", len(s.events), s.events)
	}
	if e := s.events[0]; e.StatusCode != 401 || e.UserID != "" || !strings.HasPrefix(e.User, "mmm") || len(e.User) > 130 {
		t.Fatalf("the failed login was audited as %+v", e)
	}
}
