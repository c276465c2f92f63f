package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// scopedKey creates a key with scope from a login session and returns the pair and
// a token exchanged from it.
func scopedKey(t *testing.T, session string, scope map[string]any) (token, ak, sk string) {
	t.Helper()
	k := want200(t, call(t, "POST", shared.url+"/api/v1/cube/key/create", session, map[string]any{"description": "security", "scope": scope})).JSON(t)
	ak, sk = k["accessKey"].(string), k["secretKey"].(string)
	token = want200(t, call(t, "GET", shared.url+"/api/v1/cube/key/token?accessKey="+ak+"&secretKey="+sk, "", nil)).JSON(t)["token"].(string)
	return token, ak, sk
}

// newAdmin creates a gateway administrator (cluster-admin in the test clusters)
// and returns a login session of theirs.
func newAdmin(t *testing.T, name string) string {
	t.Helper()
	root := login(t, "admin", adminPassword)
	want(t, call(t, "POST", shared.url+"/api/v1/cube/users", root, map[string]any{"name": name, "password": name + "-password", "admin": true}), 201)
	return login(t, name, name+"-password")
}

// auditOf waits for an audit event of the access key on path and returns it.
func auditOf(t *testing.T, session, user, ak, pathPart string) map[string]any {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var out struct{ Items []map[string]any }
		_ = json.Unmarshal(want200(t, call(t, "GET", shared.url+"/api/v1/cube/audit?user="+user+"&pageSize=200", session, nil)).Body, &out)
		for _, e := range out.Items {
			if e["accessKey"] == ak && strings.Contains(e["path"].(string), pathPart) {
				return e
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no audit event of key %s on %s", ak, pathPart)
		}
	}
}

// A read-only credential reads; it never connects into a workload. kubectl exec
// (WebSocket, then SPDY), a bare WebSocket GET, port-forward and the proxy
// subresources are refused by the gateway before any cluster sees them, and
// audited as the create the apiserver would have authorized.
func TestReadOnlyCredentialCannotConnectIntoWorkloads(t *testing.T) {
	session := newAdmin(t, "connector")
	ro, ak, sk := scopedKey(t, session, map[string]any{"readOnly": true})
	c := shared.clusters[0]

	cs, err := c.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "exec-target"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
	if _, err := cs.CoreV1().Pods("default").Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cs.CoreV1().Pods("default").Delete(context.Background(), "exec-target", metav1.DeleteOptions{})
	})

	kc := kubeconfigFor(t, session, c.Name)
	if out, err := kubectl(t, kc, ak, sk, "get", "pod", "exec-target", "-n", "default"); err != nil {
		t.Fatalf("a read-only key cannot read the pod: %v\n%s", err, out)
	}
	out, err := kubectl(t, kc, ak, sk, "exec", "exec-target", "-n", "default", "--", "id")
	if err == nil || !strings.Contains(out, "read-only") {
		t.Fatalf("kubectl exec with a read-only key was not refused by the gateway: %v\n%s", err, out)
	}
	if e := auditOf(t, session, "connector", ak, "/exec-target/exec"); e["verb"] != "create" || e["scope"] != "refused: readOnly" || e["statusCode"] != float64(403) {
		t.Fatalf("exec audited as %v", e)
	}

	// On a spy that would answer every protocol, nothing arrives.
	spyA, _ := spyPair(t)
	pem, err := os.ReadFile(shared.caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	d := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, Subprotocols: []string{"v5.channel.k8s.io"}}
	base := "wss" + strings.TrimPrefix(proxyURL("spy-a", ""), "https")
	for _, p := range []string{
		"/api/v1/namespaces/default/pods/web/exec?command=id&stdout=true",
		"/api/v1/namespaces/default/pods/web/attach?stdout=true",
		"/api/v1/namespaces/default/pods/web/portforward?ports=80",
	} {
		conn, resp, err := d.Dial(base+p, http.Header{"Authorization": {"Bearer " + ro}})
		if err == nil {
			conn.Close()
			t.Fatalf("a WebSocket %s with a read-only token was carried", p)
		}
		if resp == nil || resp.StatusCode != 403 {
			t.Fatalf("WebSocket %s: %v (%v), want a 403", p, err, resp)
		}
		resp.Body.Close()
	}
	for _, p := range []string{"/api/v1/namespaces/default/pods/web/proxy/metrics", "/api/v1/namespaces/default/services/web/proxy/", "/api/v1/nodes/n1/proxy/configz"} {
		refusedBy(t, call(t, "GET", proxyURL("spy-a", p), ro, nil), "readOnly")
	}
	if n := len(spyA.requests()); n != 0 {
		t.Fatalf("%d refused connects reached the cluster", n)
	}
}

// A scoped credential cannot make credentials for the cluster that would escape
// its scope (a ServiceAccount token, a token Secret, a certificate signing
// request), unless the scope allows mintCredentials. Other writes pass.
func TestScopedCredentialsCannotMintClusterCredentials(t *testing.T) {
	session := newAdmin(t, "minter")
	c := shared.clusters[0].Name
	cs, err := shared.clusters[0].Clientset()
	if err != nil {
		t.Fatal(err)
	}
	// The test bed has no controller-manager to make the namespace's ServiceAccount.
	_, _ = cs.CoreV1().ServiceAccounts("default").Create(context.Background(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{})
	ns, _, _ := scopedKey(t, session, map[string]any{"namespaces": []string{"default"}})
	tokenRequest := map[string]any{"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": map[string]any{"expirationSeconds": 600}}
	refusedBy(t, call(t, "POST", proxyURL(c, "/api/v1/namespaces/default/serviceaccounts/default/token"), ns, tokenRequest), "mintCredentials")

	secret := func(name, typ string) map[string]any {
		return map[string]any{"apiVersion": "v1", "kind": "Secret", "type": typ, "metadata": map[string]any{
			"name": name, "annotations": map[string]any{"kubernetes.io/service-account.name": "default"},
		}}
	}
	refusedBy(t, call(t, "POST", proxyURL(c, "/api/v1/namespaces/default/secrets"), ns, secret("sa-token", "kubernetes.io/service-account-token")), "mintCredentials")
	// YAML is read too, and the apiVersion and kind may be left to the path.
	yaml := "metadata:\n  name: sa-token-yaml\n  annotations: {kubernetes.io/service-account.name: default}\ntype: kubernetes.io/service-account-token\n"
	refusedBy(t, call(t, "POST", proxyURL(c, "/api/v1/namespaces/default/secrets"), ns, []byte(yaml), "Content-Type", "application/yaml"), "mintCredentials")
	want(t, call(t, "POST", proxyURL(c, "/api/v1/namespaces/default/secrets"), ns, secret("plain-secret", "Opaque")), 201)
	want200(t, call(t, "DELETE", proxyURL(c, "/api/v1/namespaces/default/secrets/plain-secret"), ns, nil))

	clusterOnly, _, _ := scopedKey(t, session, map[string]any{"clusters": []string{c}})
	csr := map[string]any{"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest", "metadata": map[string]any{"name": "escape"},
		"spec": map[string]any{"request": "", "signerName": "kubernetes.io/kube-apiserver-client", "usages": []string{"client auth"}}}
	refusedBy(t, call(t, "POST", proxyURL(c, "/apis/certificates.k8s.io/v1/certificatesigningrequests"), clusterOnly, csr), "mintCredentials")

	// The scope can allow it, and the cluster's RBAC then decides.
	minting, _, _ := scopedKey(t, session, map[string]any{"namespaces": []string{"default"}, "mintCredentials": true})
	r := want(t, call(t, "POST", proxyURL(c, "/api/v1/namespaces/default/serviceaccounts/default/token"), minting, tokenRequest), 201)
	if !strings.Contains(string(r.Body), `"token":"`) {
		t.Fatalf("an allowed token request: %s", r.Body)
	}
}

// Changing users or clusters needs an administrator's login session: an
// administrator's exchanged token cannot make an administrator, and a credential
// limited to clusters or namespaces cannot administer the gateway at all.
func TestGatewayAdministrationNeedsALoginSession(t *testing.T) {
	session := newAdmin(t, "chief")
	exchanged, _, _ := scopedKey(t, session, nil)
	for _, tc := range []struct {
		method, path string
		body         any
	}{
		{"POST", "/api/v1/cube/users", map[string]any{"name": "backdoor", "password": "backdoor-password", "admin": true}},
		{"PATCH", "/api/v1/cube/users/chief", map[string]any{"password": "taken-over-password"}},
		{"DELETE", "/api/v1/cube/users/admin", nil},
		{"POST", "/api/v1/cube/clusters", map[string]any{"name": "planted", "kubeconfig": "x"}},
		{"DELETE", "/api/v1/cube/clusters/" + shared.clusters[0].Name, nil},
	} {
		r := want(t, call(t, tc.method, shared.url+tc.path, exchanged, tc.body), 403)
		if !strings.Contains(string(r.Body), "needs a login session") {
			t.Errorf("%s %s with an exchanged token: %s", tc.method, tc.path, r.Body)
		}
	}
	want(t, call(t, "GET", shared.url+"/api/v1/cube/users/backdoor", session, nil), 404)
	want200(t, call(t, "GET", shared.url+"/api/v1/cube/users", exchanged, nil)) // reading stays open to admins' keys

	scoped, _, _ := scopedKey(t, session, map[string]any{"clusters": []string{shared.clusters[0].Name}})
	for _, p := range []string{"/api/v1/cube/users", "/apis/ghippo.io/v1alpha1/users"} {
		r := want(t, call(t, "GET", shared.url+p, scoped, nil), 403)
		if !strings.Contains(string(r.Body), "cannot administer the gateway") {
			t.Errorf("%s with a cluster-scoped token: %s", p, r.Body)
		}
	}
}

// A page may start at most 10 000 matches in, in both dialects; a huge page
// number is a 400, never a panic; clusters/info pages past its end are empty.
func TestDeepPagesAreRefused(t *testing.T) {
	token, _, _ := newUser(t, "deep-pager")
	c := shared.clusters[0].Name
	for _, u := range []string{
		proxyURL(c, "/api/v1/namespaces/default/configmaps?pageSize=5000&pageNum=1000"),
		proxyURL(c, "/api/v1/namespaces/default/configmaps?pageSize=4&pageNum=4611686018427387904"),
		shared.url + "/apis/kpanda.io/v1alpha1/clusters/" + c + "/namespaces/default/deployments?pageSize=4&page=4611686018427387904",
		shared.url + "/apis/kpanda.io/v1alpha1/clusters?pageSize=4&page=4611686018427387904",
	} {
		r := want(t, call(t, "GET", u, token, nil), 400)
		if !strings.Contains(string(r.Body), "deepest a list pages") {
			t.Errorf("%s: %s", u, r.Body)
		}
	}
	r := want200(t, call(t, "GET", shared.url+"/api/v1/cube/clusters/info?pageSize=4&pageNum=4611686018427387904", token, nil))
	if !strings.Contains(string(r.Body), `"items":[]`) {
		t.Fatalf("clusters/info past its end: %s", r.Body)
	}
}

// Every scoped credential can log itself out, from wherever it is used.
func TestScopedTokensCanLogOut(t *testing.T) {
	session := newAdmin(t, "leaver")
	for _, scope := range []map[string]any{{"readOnly": true}, {"sources": []string{"127.0.0.2"}}} {
		tok, _, _ := scopedKey(t, session, scope)
		want(t, call(t, "POST", shared.url+"/api/v1/cube/logout", tok, nil), 204)
		want(t, call(t, "GET", shared.url+"/api/v1/cube/whoami", tok, nil), 401)
	}
}

// A credential scoped to some clusters does not learn that the others exist: every
// enumeration of clusters (ours, KubeCube's clusters/info, DCE's kpanda) lists only
// its clusters, and asking for another, registered or not, is the same 403. Where a
// cluster's API server is, only administrators see.
func TestScopedCredentialsSeeOnlyTheirClusters(t *testing.T) {
	session, _, _ := newUser(t, "narrow-viewer")
	c0, c1 := shared.clusters[0].Name, shared.clusters[1].Name
	scoped, _, _ := scopedKey(t, session, map[string]any{"clusters": []string{c0}})

	names := func(items []any, field func(map[string]any) (name, server string)) []string {
		var out []string
		for _, it := range items {
			name, server := field(it.(map[string]any))
			if server != "" {
				t.Errorf("a non-administrator sees where cluster %s is: %q", name, server)
			}
			out = append(out, name)
		}
		return out
	}
	ours := func(m map[string]any) (string, string) { s, _ := m["server"].(string); return m["name"].(string), s }
	cube := func(m map[string]any) (string, string) { return m["clusterName"].(string), m["kubeApiServer"].(string) }
	kpandaName := func(m map[string]any) (string, string) {
		return m["metadata"].(map[string]any)["name"].(string), m["spec"].(map[string]any)["apiEndpoint"].(string)
	}
	for _, tc := range []struct {
		path  string
		items string
		field func(map[string]any) (string, string)
	}{
		{"/api/v1/cube/clusters", "items", ours},
		{"/api/v1/cube/clusters/info", "items", cube},
		{"/apis/kpanda.io/v1alpha1/clusters?pageSize=100", "items", kpandaName},
	} {
		got := names(want200(t, call(t, "GET", shared.url+tc.path, scoped, nil)).JSON(t)[tc.items].([]any), tc.field)
		if len(got) != 1 || got[0] != c0 {
			t.Errorf("%s with a key scoped to %s lists %v", tc.path, c0, got)
		}
		all := names(want200(t, call(t, "GET", shared.url+tc.path, session, nil)).JSON(t)[tc.items].([]any), tc.field)
		if len(all) < 2 {
			t.Errorf("%s with the user's session lists %v, want every cluster", tc.path, all)
		}
	}

	for _, p := range []string{
		"/api/v1/cube/clusters/" + c1, "/api/v1/cube/clusters/" + c1 + "/kubeconfig", "/api/v1/cube/clusters/info?cluster=" + c1,
		"/apis/kpanda.io/v1alpha1/clusters/" + c1,
	} {
		other := want(t, call(t, "GET", shared.url+p, scoped, nil), 403)
		missing := want(t, call(t, "GET", shared.url+strings.Replace(p, c1, "no-such-cluster", 1), scoped, nil), 403)
		if !strings.Contains(string(other.Body), "reaches clusters "+c0) || !strings.Contains(string(missing.Body), "reaches clusters "+c0) {
			t.Errorf("%s: %s / %s", p, other.Body, missing.Body)
		}
	}
	want200(t, call(t, "GET", shared.url+"/api/v1/cube/clusters/"+c0, scoped, nil))

	admin := login(t, "admin", adminPassword)
	if r := want200(t, call(t, "GET", shared.url+"/api/v1/cube/clusters/"+c0, admin, nil)).JSON(t); !strings.HasPrefix(r["server"].(string), "https://") {
		t.Errorf("an administrator does not see the cluster's server: %v", r)
	}
	// An administrator's scoped key cannot administer, and does not see it either.
	adminScoped, _, _ := scopedKey(t, newAdmin(t, "narrow-admin"), map[string]any{"clusters": []string{c0}})
	if r := want200(t, call(t, "GET", shared.url+"/api/v1/cube/clusters/"+c0, adminScoped, nil)).JSON(t); r["server"] != nil {
		t.Errorf("an administrator's scoped key sees the cluster's server: %v", r)
	}
}

// Password guessing and key guessing show in the audit log: a failed login under
// the name it tried, a failed exchange under the access key it tried, both with
// the one generic 401.
func TestFailedLoginsAndExchangesAreAudited(t *testing.T) {
	want(t, call(t, "POST", shared.url+"/api/v1/cube/login", "", map[string]string{"name": "guessed-user", "password": "guess-1"}), 401)
	want(t, call(t, "GET", shared.url+"/api/v1/cube/key/token?accessKey=AKGUESSED&secretKey=guess", "", nil), 401)
	admin := login(t, "admin", adminPassword)
	for _, q := range []string{"user=guessed-user", "accessKey=AKGUESSED"} {
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			var out struct{ Items []map[string]any }
			_ = json.Unmarshal(want200(t, call(t, "GET", shared.url+"/api/v1/cube/audit?"+q, admin, nil)).Body, &out)
			if len(out.Items) > 0 {
				if e := out.Items[0]; e["statusCode"] != float64(401) {
					t.Fatalf("%s audited as %v", q, e)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no audit event for %s", q)
			}
		}
	}
}
