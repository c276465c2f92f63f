package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/kubegate/kubegate/request"
	"github.com/kubegate/kubegate/test/testhttp"
)

// cookies returns the Set-Cookie lines of a reply by cookie name.
func cookies(r reply) map[string]string {
	out := map[string]string{}
	for _, line := range r.Header.Values("Set-Cookie") {
		name, _, _ := strings.Cut(line, "=")
		out[name] = line
	}
	return out
}

// Behind a TLS-terminating proxy (an https --external-url) every cookie the
// console sets is Secure; over the demo's plain HTTP none is (a Secure cookie
// would never come back). The session cookie is always HttpOnly and SameSite.
func TestConsoleCookiesAreSecureBehindHTTPS(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		secure bool
	}{
		{"https external URL", []string{"--external-url", "https://gw.example.com"}, true},
		{"plain HTTP", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, url := gateway(t, tc.args...)
			login := want(t, call(t, "POST", url+"/api/v1/cube/login", "", map[string]string{"name": "admin", "password": adminPassword}), 200)
			lang := want(t, testhttp.Call(t, &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
				"GET", url+"/login?lang=zh-CN", "", nil), http.StatusSeeOther)
			set := cookies(login)
			for name, line := range cookies(lang) {
				set[name] = line
			}
			for _, name := range []string{request.SessionCookie, request.CSRFCookie, "kubegate_lang"} {
				line, ok := set[name]
				if !ok {
					t.Fatalf("no %s cookie: %v", name, set)
				}
				if got := strings.Contains(line, "; Secure"); got != tc.secure {
					t.Errorf("%s: Secure %v, want %v: %s", name, got, tc.secure, line)
				}
				if !strings.Contains(line, "SameSite=") {
					t.Errorf("%s has no SameSite: %s", name, line)
				}
			}
			if !strings.Contains(set[request.SessionCookie], "; HttpOnly") {
				t.Errorf("the session cookie is readable by script: %s", set[request.SessionCookie])
			}
		})
	}
}
