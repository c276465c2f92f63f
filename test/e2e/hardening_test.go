package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubegate/kubegate/test/testhttp"
)

// peakRSS is the most memory the process has held, from /proc.
func peakRSS(t *testing.T, p *proc) int64 {
	t.Helper()
	status, err := os.ReadFile("/proc/" + strconv.Itoa(p.Cmd.Process.Pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}

// 150 wrong logins for one user at once: each attempt counts before its password
// is hashed, so no more than the per-user limit are hashed, and the hashing that
// does run is bounded, so memory stays flat (unbounded, 150 argon2id hashes of
// 19 MiB each took 2.9 GB).
func TestParallelWrongLoginsAreCountedBeforeHashing(t *testing.T) {
	p, url := gateway(t)
	before := peakRSS(t, p)
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for range 150 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := testhttp.Call(t, http.DefaultClient, "POST", url+"/api/v1/cube/login", "", map[string]string{"name": "admin", "password": "wrong-password"})
			mu.Lock()
			codes[r.Code]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[401] > 10 || codes[401]+codes[429] != 150 {
		t.Fatalf("answers = %v; want at most 10 checked (401), the rest refused (429)", codes)
	}
	if grew := peakRSS(t, p) - before; grew > 200<<20 {
		t.Fatalf("peak memory grew by %d MiB during the burst", grew>>20)
	}
}

// Access keys are not secret (every token names its key): failures from one
// address never block the owner's right secret from another.
func TestOthersFailuresNeverLockAKeyOut(t *testing.T) {
	_, url := gateway(t, "--trusted-proxies", "127.0.0.1/32")
	admin := login(t, url, "admin", adminPassword)
	ak, sk := createKey(t, url, admin)
	from := func(addr, secret string) reply {
		return testhttp.Call(t, http.DefaultClient, "GET", url+"/api/v1/cube/key/token?accessKey="+ak+"&secretKey="+secret, "", nil, "X-Forwarded-For", addr)
	}
	for range 10 {
		want(t, from("203.0.113.66", "wrong"), 401)
	}
	want(t, from("203.0.113.66", "wrong"), 429)
	want(t, from("198.51.100.7", sk), 200)
}

// A password change, an admin's reset and a disable end every session and token
// issued before, including tokens exchanged from the user's keys; the keys
// themselves keep working.
func TestPasswordChangesEndEarlierTokens(t *testing.T) {
	_, url := gateway(t)
	admin := login(t, url, "admin", adminPassword)
	want(t, call(t, "POST", url+"/api/v1/cube/users", admin, map[string]any{"name": "dev", "password": "dev-password-1"}), 201)
	session := login(t, url, "dev", "dev-password-1")
	ak, sk := createKey(t, url, session)
	exchange := func() string {
		return want(t, call(t, "GET", url+"/api/v1/cube/key/token?accessKey="+ak+"&secretKey="+sk, "", nil), 200).JSON(t)["token"].(string)
	}
	endsAll := func(what string, change func(), tokens ...string) {
		t.Helper()
		for _, tok := range tokens {
			want(t, call(t, "GET", url+"/api/v1/cube/whoami", tok, nil), 200)
		}
		change()
		for _, tok := range tokens {
			if r := call(t, "GET", url+"/api/v1/cube/whoami", tok, nil); r.Code != 401 {
				t.Fatalf("after %s a token issued before still works: %d %s", what, r.Code, r.Body)
			}
		}
	}

	minted := exchange()
	endsAll("a password change", func() {
		want(t, call(t, "PUT", url+"/api/v1/cube/user/password", session, map[string]string{"oldPassword": "dev-password-1", "newPassword": "dev-password-2"}), 204)
	}, session, minted)

	session, minted = login(t, url, "dev", "dev-password-2"), exchange()
	endsAll("an admin's reset", func() {
		want(t, call(t, "PATCH", url+"/api/v1/cube/users/dev", admin, map[string]any{"password": "dev-password-3"}), 200)
	}, session, minted)

	session, minted = login(t, url, "dev", "dev-password-3"), exchange()
	endsAll("a disable and enable", func() {
		want(t, call(t, "PATCH", url+"/api/v1/cube/users/dev", admin, map[string]any{"enabled": false}), 200)
		want(t, call(t, "PATCH", url+"/api/v1/cube/users/dev", admin, map[string]any{"enabled": true}), 200)
	}, session, minted)
	want(t, call(t, "GET", url+"/api/v1/cube/whoami", login(t, url, "dev", "dev-password-3"), nil), 200)
	want(t, call(t, "GET", url+"/api/v1/cube/whoami", exchange(), nil), 200)
}

// Tokens exchanged from access keys cannot create keys.
func TestExchangedTokensCannotMintKeys(t *testing.T) {
	_, url := gateway(t)
	admin := login(t, url, "admin", adminPassword)
	ak, sk := createKey(t, url, admin)
	tok := want(t, call(t, "GET", url+"/api/v1/cube/key/token?accessKey="+ak+"&secretKey="+sk, "", nil), 200).JSON(t)["token"].(string)
	want(t, call(t, "POST", url+"/api/v1/cube/key/create", tok, nil), 403)
	want(t, call(t, "DELETE", url+"/api/v1/cube/key?accessKey="+ak, tok, nil), 403)
	want(t, call(t, "GET", url+"/api/v1/cube/key", tok, nil), 200)
}

// Plain HTTP on a non-loopback address is warned about at start-up; behind a
// TLS-terminating proxy (an https external URL) the session cookies are Secure.
func TestTransportDefaults(t *testing.T) {
	p := startKubegate(t, "serve", "--listen", "0.0.0.0:0", "--data-dir", t.TempDir(), "--external-url", "https://gw.example.com")
	p.waitLine(t, servingURL, 10*time.Second)
	if !strings.Contains(p.Output(), "serving plain HTTP on a non-loopback address") {
		t.Fatalf("no warning about plain HTTP:\n%s", p.Output())
	}

	_, url := gateway(t, "--external-url", "https://gw.example.com")
	r := want(t, call(t, "POST", url+"/api/v1/cube/login", "", map[string]string{"name": "admin", "password": adminPassword}), 200)
	cookies := r.Header.Values("Set-Cookie")
	if len(cookies) != 2 {
		t.Fatalf("cookies = %q", cookies)
	}
	for _, c := range cookies {
		if !strings.Contains(c, "; Secure") {
			t.Fatalf("cookie without Secure behind an https external URL: %s", c)
		}
	}
	_, plain := gateway(t)
	for _, c := range want(t, call(t, "POST", plain+"/api/v1/cube/login", "", map[string]string{"name": "admin", "password": adminPassword}), 200).Header.Values("Set-Cookie") {
		if strings.Contains(c, "; Secure") {
			t.Fatalf("a Secure cookie over plain HTTP would never come back: %s", c)
		}
	}
}

// A generated administrator password never enters a log: with stdout not a
// terminal (a container), it goes to an owner-only file whose path is logged.
func TestGeneratedAdminPasswordStaysOutOfLogs(t *testing.T) {
	dir := t.TempDir()
	p := startKubegate(t, "serve", "--listen", "127.0.0.1:0", "--data-dir", dir)
	url := p.waitLine(t, servingURL, 10*time.Second)
	path := filepath.Join(dir, "initial-admin-password")
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("password file: %v, %v", st, err)
	}
	pw, _ := os.ReadFile(path)
	password := strings.TrimSpace(string(pw))
	if len(password) < 16 || strings.Contains(p.Output(), password) || !strings.Contains(p.Output(), path) {
		t.Fatalf("the password (%d chars) is in the output, or the file's path is not:\n%s", len(password), p.Output())
	}
	login(t, url, "admin", password)
}

// The administrators' lifetime policy: a key beyond the longest lifetime, or
// without an expiry when one is required, is a 400 naming the limit.
func TestKeyLifetimePolicy(t *testing.T) {
	_, url := gateway(t, "--key-max-lifetime", "720h", "--key-expiry-required")
	admin := login(t, url, "admin", adminPassword)
	r := want(t, call(t, "POST", url+"/api/v1/cube/key/create", admin, map[string]any{"description": "forever"}), 400)
	if !strings.Contains(string(r.Body), "expiresAt is required") {
		t.Fatalf("no expiry: %s", r.Body)
	}
	far := time.Now().Add(60 * 24 * time.Hour).UTC().Format(time.RFC3339)
	r = want(t, call(t, "POST", url+"/api/v1/cube/key/create", admin, map[string]any{"expiresAt": far}), 400)
	if !strings.Contains(string(r.Body), "longest lifetime of an access key, 720h0m0s") {
		t.Fatalf("too long: %s", r.Body)
	}
	soon := time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
	want(t, call(t, "POST", url+"/api/v1/cube/key/create", admin, map[string]any{"expiresAt": soon}), 200)
	// Scopes are checked when the key is made.
	want(t, call(t, "POST", url+"/api/v1/cube/key/create", admin, map[string]any{"expiresAt": soon, "scope": map[string]any{"sources": []string{"not-an-address"}}}), 400)
}
