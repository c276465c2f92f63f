package proxy

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/kubegate/kubegate/test/testhttp"
)

// Inside a pod, kubegate registers the cluster it runs in as "local" with its
// service account: here a real bound token from the TokenRequest API, in a file
// that is rotated the way the kubelet rotates it (a new token renamed into place)
// while the old one stops working (its bound Secret deleted).
func TestInClusterRegistrationFollowsTheRotatingToken(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := shared.clusters[0]
	cs, err := c.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	const ns, sa = "kubegate-system", "kubegate"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The chart's ClusterRole, as PrepareCluster created it for the demo identity.
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "kubegate-in-cluster"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "kubegate-impersonator"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa, Namespace: ns}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A token bound to a Secret dies with it, as a pod's token dies with the pod.
	boundToken := func(secret string) string {
		t.Helper()
		s, err := cs.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: secret}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		exp := int64(3600)
		tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
			ExpirationSeconds: &exp,
			BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Secret", APIVersion: "v1", Name: s.Name, UID: s.UID},
		}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return tr.Status.Token
	}
	dir := t.TempDir()
	writeToken := func(tok string) {
		t.Helper()
		tmp := filepath.Join(dir, ".token.tmp")
		if err := os.WriteFile(tmp, []byte(tok), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "token")); err != nil {
			t.Fatal(err)
		}
	}
	oldToken := boundToken("token-one")
	writeToken(oldToken)
	if err := os.WriteFile(filepath.Join(dir, "ca.crt"), c.Config.CAData, 0o600); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(c.URL)
	gw, base, err := startGatewayEnv([]string{"KUBERNETES_SERVICE_HOST=" + u.Hostname(), "KUBERNETES_SERVICE_PORT=" + u.Port()},
		"serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--log-format", "json", "--service-account-dir", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Kill()
	admin := testhttp.Call(t, http.DefaultClient, "POST", base+"/api/v1/cube/login", "", map[string]string{"name": "admin", "password": adminPassword}).JSON(t)["token"].(string)
	health := testhttp.Want(t, testhttp.Call(t, http.DefaultClient, "GET", base+"/api/v1/cube/clusters/local", admin, nil), 200).JSON(t)["health"].(map[string]any)
	if health["status"] != "Ready" {
		t.Fatalf("local cluster health = %v", health)
	}
	nsURL := base + "/api/v1/cube/proxy/clusters/local/api/v1/namespaces/" + ns
	testhttp.Want(t, testhttp.Call(t, http.DefaultClient, "GET", nsURL, admin, nil), 200)

	writeToken(boundToken("token-two"))
	if err := cs.CoreV1().Secrets(ns).Delete(ctx, "token-one", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// The old token is refused now (checked straight at the apiserver)...
	direct, err := rest.HTTPClientFor(&rest.Config{Host: c.URL, BearerToken: oldToken, TLSClientConfig: rest.TLSClientConfig{CAData: c.Config.CAData}})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); testhttp.Call(t, direct, "GET", c.URL+"/api/v1/namespaces/"+ns, "", nil).Code != 401; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the old token still works after its Secret was deleted")
		}
	}
	// ...and the gateway moves to the new one (it reads the file again when
	// the cluster answers 401, and every few seconds).
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		r := testhttp.Call(t, http.DefaultClient, "GET", nsURL, admin, nil)
		if r.Code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the gateway did not pick up the rotated token: %d %s\n%s", r.Code, r.Body, gw.Output())
		}
	}
}
