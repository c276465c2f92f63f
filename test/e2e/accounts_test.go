package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubegate/kubegate/test/pgtest"
	"github.com/kubegate/kubegate/test/testhttp"
)

const adminPassword = "correct-horse-battery-staple"

type reply = testhttp.Reply

func call(t *testing.T, method, url, token string, body any) reply {
	t.Helper()
	return testhttp.Call(t, http.DefaultClient, method, url, token, body)
}

func want(t *testing.T, r reply, code int) reply {
	t.Helper()
	return testhttp.Want(t, r, code)
}

// gateway starts `kubegate serve` with a known admin password.
func gateway(t *testing.T, extra ...string) (*proc, string) {
	t.Helper()
	args := append([]string{"serve", "--listen", "127.0.0.1:0"}, extra...)
	if !strings.Contains(strings.Join(extra, " "), "--data-dir") {
		args = append(args, "--data-dir", t.TempDir())
	}
	t.Setenv("KUBEGATE_BOOTSTRAP_ADMIN_PASSWORD", adminPassword)
	p := startKubegate(t, args...)
	return p, p.waitLine(t, servingURL, 10*time.Second)
}

func login(t *testing.T, url, name, password string) string {
	t.Helper()
	r := want(t, call(t, "POST", url+"/api/v1/cube/login", "", map[string]string{"name": name, "password": password}), 200)
	return r.JSON(t)["token"].(string)
}

func createKey(t *testing.T, url, token string) (ak, sk string) {
	t.Helper()
	m := want(t, call(t, "POST", url+"/api/v1/cube/key/create", token, map[string]string{"description": "ci"}), 200).JSON(t)
	return m["accessKey"].(string), m["secretKey"].(string)
}

func payload(t *testing.T, tok string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatal(err)
		}
	}
	return header, claims
}

// The two guides' token calls, unchanged, against kubegate.
func TestGuidesTokenCallsWork(t *testing.T) {
	_, url := gateway(t)
	gw := url
	admin := login(t, url, "admin", adminPassword)
	ak, sk := createKey(t, url, admin)

	// KubeCube: curl https://kubecube.com/api/v1/cube/key/token?accessKey=...&secretKey=... -X GET
	r := want(t, call(t, "GET", url+"/api/v1/cube/key/token?accessKey="+ak+"&secretKey="+sk, "", nil), 200)
	tok := r.JSON(t)["token"].(string)
	h, c := payload(t, tok)
	if ui, _ := c["UserInfo"].(map[string]any); ui["username"] != "admin" {
		t.Fatalf("UserInfo = %v", c["UserInfo"])
	}
	if c["exp"].(float64)-c["iat"].(float64) != 3600 {
		t.Fatalf("KubeCube token lifetime = %v s, want 3600", c["exp"].(float64)-c["iat"].(float64))
	}
	if h["alg"] != "ES256" || h["kid"] == nil {
		t.Fatalf("header = %v", h)
	}
	// The token works as a Bearer token on the gateway's own API.
	who := want(t, call(t, "GET", url+"/api/v1/cube/whoami", tok, nil), 200).JSON(t)
	if who["name"] != "admin" || who["accessKey"] != ak {
		t.Fatalf("whoami = %v", who)
	}

	// DCE: curl -X GET 'https://.../apis/ghippo.io/v1alpha1/token?ak=...&sk=...&cycle=7'
	r = want(t, call(t, "GET", url+"/apis/ghippo.io/v1alpha1/token?ak="+ak+"&sk="+sk+"&cycle=7", "", nil), 200)
	h, c = payload(t, r.JSON(t)["token"].(string))
	if c["exp"].(float64)-c["iat"].(float64) != 7*24*3600 || h["kid"] == nil || c["preferred_username"] != "admin" || c["sub"] == "" {
		t.Fatalf("DCE token: header %v claims %v", h, c)
	}
	// DCE's default cycle is 3 days; a longer one than --token-max-ttl is clamped
	// with a Warning.
	r = want(t, call(t, "GET", url+"/apis/ghippo.io/v1alpha1/token?ak="+ak+"&sk="+sk, "", nil), 200)
	if _, c = payload(t, r.JSON(t)["token"].(string)); c["exp"].(float64)-c["iat"].(float64) != 3*24*3600 {
		t.Fatalf("default cycle lifetime = %v", c["exp"].(float64)-c["iat"].(float64))
	}
	r = want(t, call(t, "GET", url+"/apis/ghippo.io/v1alpha1/token?ak="+ak+"&sk="+sk+"&cycle=30", "", nil), 200)
	if _, c = payload(t, r.JSON(t)["token"].(string)); c["exp"].(float64)-c["iat"].(float64) != 7*24*3600 || !strings.Contains(r.Header.Get("Warning"), "exceeds the maximum") {
		t.Fatalf("clamped lifetime = %v, Warning %q", c["exp"].(float64)-c["iat"].(float64), r.Header.Get("Warning"))
	}
	// POST with a JSON body keeps the secret out of the URL.
	r = want(t, call(t, "POST", url+"/api/v1/cube/key/token", "", map[string]any{"accessKey": ak, "secretKey": sk, "expiresIn": 600}), 200)
	if m := r.JSON(t); m["expiresIn"].(float64) != 600 || m["tokenType"] != "Bearer" {
		t.Fatalf("POST exchange = %v", m)
	}

	// A form body works too (DCE dialect).
	form := neturl.Values{"ak": {ak}, "sk": {sk}, "cycle": {"1"}}
	fr, err := http.Post(gw+"/apis/ghippo.io/v1alpha1/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	fb, _ := io.ReadAll(fr.Body)
	fr.Body.Close()
	if fr.StatusCode != 200 || !strings.Contains(string(fb), `"expiresIn":86400`) {
		t.Fatalf("form exchange = %d %s", fr.StatusCode, fb)
	}

	// The published keys verify the token's kid.
	jwks := want(t, call(t, "GET", url+"/.well-known/jwks.json", "", nil), 200).JSON(t)
	if keys := jwks["keys"].([]any); len(keys) != 1 || keys[0].(map[string]any)["kid"] != h["kid"] {
		t.Fatalf("jwks = %v, token kid %v", jwks, h["kid"])
	}
	oidc := want(t, call(t, "GET", url+"/.well-known/openid-configuration", "", nil), 200).JSON(t)
	if !strings.HasSuffix(oidc["jwks_uri"].(string), "/.well-known/jwks.json") {
		t.Fatalf("openid-configuration = %v", oidc)
	}
}

func TestExchangeErrors(t *testing.T) {
	_, url := gateway(t)
	admin := login(t, url, "admin", adminPassword)
	ak, sk := createKey(t, url, admin)

	status := func(r reply) (int, string) {
		var st struct {
			Kind    string `json:"kind"`
			Code    int    `json:"code"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(r.Body, &st); err != nil || st.Kind != "Status" {
			t.Fatalf("not a Status: %s", r.Body)
		}
		return st.Code, st.Message
	}
	for _, tc := range []struct{ query, want string }{
		{"secretKey=" + sk, "accessKey"},
		{"accessKey=" + ak, "secretKey"},
		{"accessKey=" + ak + "&secretKey=" + sk + "&expiresIn=soon", "expiresIn"},
		{"accessKey=" + ak + "&secretKey=" + sk + "&expiresIn=-5", "expiresIn"},
		{"accessKey=" + ak + "&secretKey=" + sk + "&bogus=1", "bogus"},
	} {
		code, msg := status(want(t, call(t, "GET", url+"/api/v1/cube/key/token?"+tc.query, "", nil), 400))
		if code != 400 || !strings.Contains(msg, tc.want) {
			t.Fatalf("%s: %d %q does not name %s", tc.query, code, msg, tc.want)
		}
	}
	code, msg := status(want(t, call(t, "GET", url+"/apis/ghippo.io/v1alpha1/token?ak="+ak+"&sk="+sk+"&cycle=0", "", nil), 400))
	if code != 400 || !strings.Contains(msg, "cycle") {
		t.Fatalf("cycle=0: %d %q", code, msg)
	}

	// Unknown key and wrong secret: the same 401.
	_, unknown := status(want(t, call(t, "GET", url+"/api/v1/cube/key/token?accessKey=0123456789abcdef0123456789abcdef&secretKey="+sk, "", nil), 401))
	_, wrong := status(want(t, call(t, "GET", url+"/api/v1/cube/key/token?accessKey="+ak+"&secretKey=wrong", "", nil), 401))
	if unknown != wrong {
		t.Fatalf("unknown key %q and wrong secret %q must read the same", unknown, wrong)
	}
	// What cannot be an access key is refused before it costs any rate limit.
	if _, msg := status(want(t, call(t, "GET", url+"/api/v1/cube/key/token?accessKey=no%20pe&secretKey="+sk, "", nil), 400)); !strings.Contains(msg, "malformed access key") {
		t.Fatalf("malformed key: %q", msg)
	}
	// Inactive and expired keys say so.
	want(t, call(t, "PATCH", url+"/api/v1/cube/key?accessKey="+ak, admin, map[string]string{"status": "Inactive"}), 200)
	if _, msg := status(want(t, call(t, "GET", url+"/api/v1/cube/key/token?accessKey="+ak+"&secretKey="+sk, "", nil), 401)); !strings.Contains(msg, "inactive") {
		t.Fatalf("inactive key: %q", msg)
	}
	past := want(t, call(t, "POST", url+"/api/v1/cube/key/create", admin, map[string]string{"expiresAt": "2001-01-01T00:00:00Z"}), 400)
	if _, msg := status(past); !strings.Contains(msg, "expiresAt") {
		t.Fatalf("key expiring in the past: %q", msg)
	}
	// Bad bodies are 400s naming the field.
	if _, msg := status(want(t, call(t, "POST", url+"/api/v1/cube/key/create", admin, map[string]any{"comment": "unknown"}), 400)); !strings.Contains(msg, "comment") {
		t.Fatalf("unknown field: %q", msg)
	}
	if _, msg := status(want(t, call(t, "PATCH", url+"/api/v1/cube/key?accessKey="+ak, admin, map[string]string{"status": "Paused"}), 400)); !strings.Contains(msg, "Active or Inactive") {
		t.Fatalf("bad status: %q", msg)
	}
	want(t, call(t, "GET", url+"/api/v1/cube/key", "", nil), 401)
	want(t, call(t, "GET", url+"/api/v1/cube/key", "garbage", nil), 401)
}

func TestKeyLimitAndNoSecretAtRest(t *testing.T) {
	dataDir := t.TempDir()
	_, url := gateway(t, "--data-dir", dataDir)
	admin := login(t, url, "admin", adminPassword)
	var secrets []string
	for range 5 {
		_, sk := createKey(t, url, admin)
		secrets = append(secrets, sk)
	}
	r := want(t, call(t, "POST", url+"/api/v1/cube/key/create", admin, nil), 409)
	if !strings.Contains(string(r.Body), "limit of 5") {
		t.Fatalf("sixth key: %s", r.Body)
	}
	list := want(t, call(t, "GET", url+"/api/v1/cube/key", admin, nil), 200)
	if m := list.JSON(t); m["total"].(float64) != 5 {
		t.Fatalf("list = %s", list.Body)
	}
	if strings.Contains(string(list.Body), "secretKey") {
		t.Fatalf("the list shows a secret field: %s", list.Body)
	}
	var files []byte
	entries, _ := os.ReadDir(dataDir)
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(dataDir, e.Name()))
		files = append(files, b...)
	}
	for _, sk := range secrets {
		if strings.Contains(string(list.Body), sk) || bytes.Contains(files, []byte(sk)) {
			t.Fatalf("secret %s found in the list or the data directory", sk)
		}
	}
	if bytes.Contains(files, []byte(adminPassword)) {
		t.Fatal("the admin password is stored in plain text")
	}
}

func TestElevenWrongSecretsAreRateLimited(t *testing.T) {
	_, url := gateway(t)
	admin := login(t, url, "admin", adminPassword)
	ak, sk := createKey(t, url, admin)
	for i := 1; i <= 10; i++ {
		want(t, call(t, "GET", url+"/api/v1/cube/key/token?accessKey="+ak+"&secretKey=wrong", "", nil), 401)
	}
	r := want(t, call(t, "GET", url+"/api/v1/cube/key/token?accessKey="+ak+"&secretKey=wrong", "", nil), 429)
	if ra := r.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Fatalf("429 without Retry-After: %v", r.Header)
	}
	// Blocked means blocked: even the right secret waits.
	want(t, call(t, "GET", url+"/api/v1/cube/key/token?accessKey="+ak+"&secretKey="+sk, "", nil), 429)
	// Another key is not affected.
	ak2, sk2 := createKey(t, url, admin)
	want(t, call(t, "GET", url+"/api/v1/cube/key/token?accessKey="+ak2+"&secretKey="+sk2, "", nil), 200)
}

// revocationFlow: a token minted from a key is refused within a second after the
// key is deleted, disabled, or its user disabled — through `via`, which may be
// another replica.
func revocationFlow(t *testing.T, url, via string) {
	admin := login(t, via, "admin", adminPassword)
	want(t, call(t, "POST", via+"/api/v1/cube/users", admin, map[string]any{"name": "dev", "password": "dev-password-1"}), 201)
	dev := login(t, url, "dev", "dev-password-1")

	exchange := func() (string, string) {
		ak, sk := createKey(t, url, dev)
		r := want(t, call(t, "GET", url+"/api/v1/cube/key/token?accessKey="+ak+"&secretKey="+sk, "", nil), 200)
		tok := r.JSON(t)["token"].(string)
		want(t, call(t, "GET", url+"/api/v1/cube/whoami", tok, nil), 200)
		return ak, tok
	}
	refusedWithin := func(what, tok string) {
		t.Helper()
		start := time.Now()
		for {
			r := call(t, "GET", url+"/api/v1/cube/whoami", tok, nil)
			if r.Code == 401 {
				t.Logf("%s: refused after %v", what, time.Since(start).Round(time.Millisecond))
				return
			}
			if time.Since(start) > time.Second {
				t.Fatalf("%s: token still accepted after a second (%d)", what, r.Code)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	ak, tok := exchange()
	want(t, call(t, "DELETE", via+"/api/v1/cube/key?user=dev&accessKey="+ak, admin, nil), 200)
	refusedWithin("key deleted", tok)

	ak, tok = exchange()
	want(t, call(t, "PATCH", via+"/api/v1/cube/key?user=dev&accessKey="+ak, admin, map[string]string{"status": "Inactive"}), 200)
	refusedWithin("key inactive", tok)

	_, tok = exchange()
	want(t, call(t, "PATCH", via+"/api/v1/cube/users/dev", admin, map[string]any{"enabled": false}), 200)
	refusedWithin("user disabled", tok)
	refusedWithin("user disabled (console session)", dev)
}

func TestRevocationIsImmediate(t *testing.T) {
	_, url := gateway(t)
	revocationFlow(t, url, url)
}

// Two kubegate processes share PostgreSQL: a revocation made through one is
// enforced by the other within a second.
func TestRevocationAcrossReplicasOnPostgres(t *testing.T) {
	args := []string{"--store=postgres", "--postgres-dsn=" + pgtest.Schema(t, "kge2e"), "--encryption-key-file=" + pgtest.SharedKeyFile(t)}
	_, a := gateway(t, args...)
	_, b2 := gateway(t, args...)
	revocationFlow(t, a, b2)
}

// Nothing secret reaches the logs in a whole login → create → exchange → use →
// delete flow.
func TestNoSecretInLogs(t *testing.T) {
	p, url := gateway(t, "--log-level=debug")
	r := want(t, call(t, "POST", url+"/api/v1/cube/login", "", map[string]string{"name": "admin", "password": adminPassword}), 200)
	session := r.JSON(t)["token"].(string)
	var cookies []string
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		cookies = append(cookies, c.Value)
	}
	ak, sk := createKey(t, url, session)
	tok := want(t, call(t, "GET", url+"/api/v1/cube/key/token?accessKey="+ak+"&secretKey="+sk, "", nil), 200).JSON(t)["token"].(string)
	want(t, call(t, "GET", url+"/api/v1/cube/whoami", tok, nil), 200)
	want(t, call(t, "GET", url+"/api/v1/cube/key/token?accessKey="+ak+"&secretKey=wrong-"+sk, "", nil), 401)
	want(t, call(t, "POST", url+"/api/v1/cube/login", "", map[string]string{"name": "admin", "password": "not-" + adminPassword}), 401)
	want(t, call(t, "DELETE", url+"/api/v1/cube/key?accessKey="+ak, session, nil), 200)
	want(t, call(t, "GET", url+"/api/v1/cube/whoami", tok, nil), 401)
	time.Sleep(100 * time.Millisecond)

	logs := p.Output()
	if !strings.Contains(logs, `"path":"/api/v1/cube/key/token"`) {
		t.Fatalf("the flow was not logged:\n%s", logs)
	}
	for _, secret := range append([]string{adminPassword, sk, session, tok}, cookies...) {
		if secret != "" && strings.Contains(logs, secret) {
			t.Fatalf("a secret (%.8s…) appears in the logs", secret)
		}
	}
}

// The console's cookie session needs the CSRF header on state-changing requests;
// bearer tokens do not.
func TestCookieSessionsNeedCSRFHeader(t *testing.T) {
	_, url := gateway(t)
	r := want(t, call(t, "POST", url+"/api/v1/cube/login", "", map[string]string{"name": "admin", "password": adminPassword}), 200)
	cookies := (&http.Response{Header: r.Header}).Cookies()
	var session, csrf *http.Cookie
	for _, c := range cookies {
		switch c.Name {
		case "kubegate_session":
			session = c
		case "kubegate_csrf":
			csrf = c
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || csrf == nil || csrf.HttpOnly {
		t.Fatalf("cookies = %+v", cookies)
	}
	do := func(method, path, csrfHeader string) int {
		req, _ := http.NewRequestWithContext(context.Background(), method, url+path, nil)
		req.AddCookie(session)
		req.AddCookie(csrf)
		if csrfHeader != "" {
			req.Header.Set("X-CSRF-Token", csrfHeader)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := do("GET", "/api/v1/cube/key", ""); code != 200 {
		t.Fatalf("GET with the session cookie = %d", code)
	}
	if code := do("POST", "/api/v1/cube/key/create", ""); code != 403 {
		t.Fatalf("POST without the CSRF header = %d, want 403", code)
	}
	if code := do("POST", "/api/v1/cube/key/create", "forged-value-000000"); code != 403 {
		t.Fatalf("POST with a wrong CSRF header = %d, want 403", code)
	}
	if code := do("POST", "/api/v1/cube/key/create", csrf.Value); code != 200 {
		t.Fatalf("POST with the CSRF header = %d, want 200", code)
	}
	want(t, call(t, "POST", url+"/api/v1/cube/logout", "", nil), 204)

	// Logging out revokes the session's token itself, not just the cookie.
	if code := do("POST", "/api/v1/cube/logout", csrf.Value); code != 204 {
		t.Fatalf("logout = %d", code)
	}
	if code := do("GET", "/api/v1/cube/key", ""); code != 401 {
		t.Fatalf("the logged-out session still works: %d", code)
	}
	bearer := login(t, url, "admin", adminPassword)
	want(t, call(t, "POST", url+"/api/v1/cube/logout", bearer, nil), 204)
	r = want(t, call(t, "GET", url+"/api/v1/cube/whoami", bearer, nil), 401)
	if !strings.Contains(string(r.Body), "logged out") {
		t.Fatalf("revoked token: %s", r.Body)
	}
}

func TestUserAdministration(t *testing.T) {
	_, url := gateway(t)
	admin := login(t, url, "admin", adminPassword)
	want(t, call(t, "POST", url+"/api/v1/cube/users", admin, map[string]any{"name": "ops", "password": "ops-password", "email": "ops@example.com"}), 201)
	want(t, call(t, "POST", url+"/api/v1/cube/users", admin, map[string]any{"name": "ops", "password": "ops-password"}), 409)
	want(t, call(t, "POST", url+"/api/v1/cube/users", admin, map[string]any{"name": "system:admin", "password": "whatever-pw"}), 400)
	want(t, call(t, "POST", url+"/api/v1/cube/users", admin, map[string]any{"name": "short", "password": "short"}), 400)

	ops := login(t, url, "ops", "ops-password")
	want(t, call(t, "GET", url+"/api/v1/cube/users", ops, nil), 403)
	want(t, call(t, "GET", url+"/api/v1/cube/key?user=admin", ops, nil), 403)

	// DCE's user list shape.
	dce := want(t, call(t, "GET", url+"/apis/ghippo.io/v1alpha1/users?page=1&pageSize=1", admin, nil), 200).JSON(t)
	pg := dce["pagination"].(map[string]any)
	items := dce["items"].([]any)
	if pg["total"].(float64) != 2 || pg["pages"].(float64) != 2 || len(items) != 1 {
		t.Fatalf("ghippo users = %v", dce)
	}
	first := items[0].(map[string]any)
	for _, k := range []string{"id", "name", "email", "description", "firstname", "lastname", "source", "enabled", "createdAt", "updatedAt", "lastLoginAt"} {
		if _, ok := first[k]; !ok {
			t.Fatalf("ghippo user lacks %q: %v", k, first)
		}
	}
	if first["name"] != "admin" || first["lastLoginAt"] == "" || strings.Contains(first["createdAt"].(string), "-") {
		t.Fatalf("ghippo user = %v (times must be epoch milliseconds)", first)
	}
	want(t, call(t, "GET", url+"/apis/ghippo.io/v1alpha1/users?pageSize=0", admin, nil), 400)
	// ghippo's search, and its page 0 (the first page, as ghippo documents).
	found := want(t, call(t, "GET", url+"/apis/ghippo.io/v1alpha1/users?search=OP&page=0", admin, nil), 200).JSON(t)
	if items := found["items"].([]any); len(items) != 1 || items[0].(map[string]any)["name"] != "ops" {
		t.Fatalf("ghippo search = %v", found)
	}
	want(t, call(t, "GET", url+"/apis/ghippo.io/v1alpha1/users?page=1001", admin, nil), 400)
	want(t, call(t, "GET", url+"/apis/ghippo.io/v1alpha1/users?sort=name", admin, nil), 400)

	// Password change: the old one stops working.
	want(t, call(t, "POST", url+"/api/v1/cube/user/password", ops, map[string]string{"oldPassword": "wrong-one", "newPassword": "new-ops-password"}), 403)
	want(t, call(t, "POST", url+"/api/v1/cube/user/password", ops, map[string]string{"oldPassword": "ops-password", "newPassword": "new-ops-password"}), 204)
	want(t, call(t, "POST", url+"/api/v1/cube/login", "", map[string]string{"name": "ops", "password": "ops-password"}), 401)
	want(t, call(t, "GET", url+"/api/v1/cube/whoami", ops, nil), 401) // the session of the old password ended
	ops = login(t, url, "ops", "new-ops-password")

	// An admin cannot lock themself out; deleting a user removes their keys.
	want(t, call(t, "PATCH", url+"/api/v1/cube/users/admin", admin, map[string]any{"enabled": false}), 403)
	want(t, call(t, "DELETE", url+"/api/v1/cube/users/admin", admin, nil), 403)
	ak, _ := createKey(t, url, ops)
	want(t, call(t, "DELETE", url+"/api/v1/cube/users/ops", admin, nil), 200)
	want(t, call(t, "GET", url+"/api/v1/cube/users/ops", admin, nil), 404)
	if r := call(t, "GET", url+"/api/v1/cube/key?user=admin", admin, nil); strings.Contains(string(r.Body), ak) {
		t.Fatal("a deleted user's key is still listed")
	}
	want(t, call(t, "POST", url+"/api/v1/cube/signing-keys/rotate", admin, nil), 200)
	want(t, call(t, "GET", url+"/api/v1/cube/whoami", admin, nil), 200) // old kid still valid
}
