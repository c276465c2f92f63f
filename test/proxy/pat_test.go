package proxy

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kubegate/kubegate/test/pgtest"
	"github.com/kubegate/kubegate/test/testhttp"
)

// DCE's personal access tokens: made from a login session, used directly as the
// bearer token on the proxy and the APIs, listed without the token, deleted —
// and refused within a second on every replica (two, on the real PostgreSQL).
func TestPersonalAccessTokens(t *testing.T) {
	dsn, keyFile := pgtest.Schema(t, "kgproxy"), pgtest.SharedKeyFile(t)
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--data-dir", t.TempDir(),
		"--store=postgres", "--postgres-dsn=" + dsn, "--encryption-key-file=" + keyFile, "--max-personal-tokens-per-user", "2"}, shared.clusterArgs...)
	a, urlA, err := startGateway(args...)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Kill()
	b, urlB, err := startGateway(args...)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Kill()
	do := func(method, url, token string, body any) testhttp.Reply {
		t.Helper()
		return testhttp.Call(t, http.DefaultClient, method, url, token, body)
	}
	session := do("POST", urlA+"/api/v1/cube/login", "", map[string]string{"name": "admin", "password": adminPassword}).JSON(t)["token"].(string)

	created := testhttp.Want(t, do("POST", urlA+"/apis/ghippo.io/v1alpha1/current-user/accesstoken", session,
		map[string]string{"name": "ci", "expiredAt": time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)}), 200).JSON(t)
	id, pat := created["id"].(string), created["token"].(string)
	if id == "" || !strings.HasPrefix(pat, "kgpat.") || len(created) != 2 {
		t.Fatalf("created = %v", created)
	}
	// The token is the bearer token: on the proxy, on kpanda, on the gateway's API, on both replicas.
	proxied := "/api/v1/cube/proxy/clusters/" + shared.clusters[0].Name + "/api/v1/namespaces/default"
	for _, u := range []string{urlA, urlB} {
		testhttp.Want(t, do("GET", u+proxied, pat, nil), 200)
		testhttp.Want(t, do("GET", u+"/apis/kpanda.io/v1alpha1/clusters", pat, nil), 200)
	}
	me := testhttp.Want(t, do("GET", urlB+"/apis/ghippo.io/v1alpha1/current-user", pat, nil), 200).JSON(t)
	if me["username"] != "admin" {
		t.Fatalf("current-user = %v", me)
	}
	// A personal token cannot mint credentials.
	testhttp.Want(t, do("POST", urlA+"/apis/ghippo.io/v1alpha1/current-user/accesstoken", pat, map[string]string{"name": "x"}), 403)
	testhttp.Want(t, do("POST", urlA+"/api/v1/cube/key/create", pat, nil), 403)
	// Nor is it exchanged as an access key pair.
	parts := strings.SplitN(strings.TrimPrefix(pat, "kgpat."), ".", 2)
	testhttp.Want(t, do("GET", urlA+"/api/v1/cube/key/token?accessKey="+parts[0]+"&secretKey="+parts[1], "", nil), 401)

	list := testhttp.Want(t, do("GET", urlB+"/apis/ghippo.io/v1alpha1/current-user/accesstokens", session, nil), 200)
	if strings.Contains(string(list.Body), parts[1]) || strings.Contains(string(list.Body), "kgpat.") {
		t.Fatalf("the list shows the token: %s", list.Body)
	}
	items := list.JSON(t)["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["id"] != id || items[0].(map[string]any)["name"] != "ci" || items[0].(map[string]any)["expiredAt"] == "" {
		t.Fatalf("list = %s", list.Body)
	}
	// The longest lifetime (365 days by default) and the limit (2 here) hold; the
	// admin form makes one for a user.
	far := strconv.FormatInt(time.Now().Add(400*24*time.Hour).UnixMilli(), 10)
	r := testhttp.Want(t, do("POST", urlA+"/apis/ghippo.io/v1alpha1/users/"+me["uid"].(string)+"/accesstoken", session, map[string]string{"name": "far", "expiredAt": far}), 400)
	if !strings.Contains(string(r.Body), "longest lifetime") {
		t.Fatalf("past the longest lifetime: %s", r.Body)
	}
	testhttp.Want(t, do("POST", urlA+"/apis/ghippo.io/v1alpha1/users/"+me["uid"].(string)+"/accesstoken", session, map[string]string{"name": "second"}), 200)
	testhttp.Want(t, do("POST", urlA+"/apis/ghippo.io/v1alpha1/current-user/accesstoken", session, map[string]string{"name": "third"}), 409)
	if n := len(testhttp.Want(t, do("GET", urlA+"/apis/ghippo.io/v1alpha1/users/"+me["uid"].(string)+"/accesstokens", session, nil), 200).JSON(t)["items"].([]any)); n != 2 {
		t.Fatalf("admin list: %d tokens", n)
	}

	// Deleted on replica A: refused on both within a second.
	testhttp.Want(t, do("DELETE", urlA+"/apis/ghippo.io/v1alpha1/current-user/accesstokens/"+id, session, nil), 200)
	for _, u := range []string{urlA, urlB} {
		deadline := time.Now().Add(time.Second)
		for do("GET", u+proxied, pat, nil).Code != 401 {
			if time.Now().After(deadline) {
				t.Fatalf("%s still accepts a deleted personal access token after a second", u)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
