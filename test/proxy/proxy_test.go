package proxy

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestClustersAreRegisteredAndHealthy(t *testing.T) {
	token, _, _ := newUser(t, "viewer")
	list := want(t, call(t, "GET", shared.url+"/api/v1/cube/clusters", token, nil), 200)
	for _, c := range shared.clusters {
		if !strings.Contains(string(list.Body), `"name":"`+c.Name+`"`) {
			t.Fatalf("cluster %s not listed: %s", c.Name, list.Body)
		}
	}
	if !strings.Contains(string(list.Body), `"status":"Ready"`) || !strings.Contains(string(list.Body), `"version":"v1.37.2"`) {
		t.Fatalf("health not shown: %s", list.Body)
	}
	for _, secret := range []string{"BEGIN", "clientKey", "bearerToken", "credentials"} {
		if strings.Contains(string(list.Body), secret) {
			t.Fatalf("the cluster list leaks %q: %s", secret, list.Body)
		}
	}
	kp := want(t, call(t, "GET", shared.url+"/apis/kpanda.io/v1alpha1/clusters", token, nil), 200).JSON(t)
	if kp["pagination"].(map[string]any)["total"].(float64) != 2 {
		t.Fatalf("kpanda clusters = %v", kp)
	}
	// Registering is for admins.
	want(t, call(t, "POST", shared.url+"/api/v1/cube/clusters", token, map[string]string{"name": "x", "kubeconfig": "x"}), 403)
}

// A user without RBAC gets the cluster's own 403; after a RoleBinding made directly
// in the cluster, the same call succeeds. Each cluster's RBAC decides.
func TestClusterRBACDecides(t *testing.T) {
	token, ak, sk := newUser(t, "alice")
	c := shared.clusters[0]
	path := "/api/v1/namespaces/default/configmaps"

	r := want(t, call(t, "GET", proxyURL(c.Name, path), token, nil), 403)
	st := r.JSON(t)
	if st["kind"] != "Status" || !strings.Contains(st["message"].(string), `User "alice"`) {
		t.Fatalf("not the cluster's Status for alice: %s", r.Body)
	}

	cs, _ := c.Clientset()
	ctx := context.Background()
	_, err := cs.RbacV1().Roles("default").Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "cm-reader"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list", "watch"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cs.RbacV1().RoleBindings("default").Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "alice-cm-reader"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "cm-reader"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "alice"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		r = call(t, "GET", proxyURL(c.Name, path), token, nil)
		if r.Code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %d after the RoleBinding: %s", r.Code, r.Body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The other cluster has no such binding: still forbidden there.
	want(t, call(t, "GET", proxyURL(shared.clusters[1].Name, path), token, nil), 403)

	// kubectl auth whoami through the gateway shows the user and their groups.
	kc := kubeconfigFor(t, token, c.Name)
	out, err := kubectl(t, kc, ak, sk, "auth", "whoami", "-o", "json")
	if err != nil {
		t.Fatalf("kubectl auth whoami: %v\n%s", err, out)
	}
	if !strings.Contains(out, `"username": "alice"`) || !strings.Contains(out, "kubegate:users") {
		t.Fatalf("whoami through the gateway = %s", out)
	}
}

// The real kubectl, with the gateway's kubeconfig and the exec plugin, can get,
// apply, delete and watch.
func TestKubectlThroughTheGateway(t *testing.T) {
	admin := login(t, "admin", adminPassword)
	k := want(t, call(t, "POST", shared.url+"/api/v1/cube/key/create", admin, nil), 200).JSON(t)
	ak, sk := k["accessKey"].(string), k["secretKey"].(string)
	c := shared.clusters[1]
	kc := kubeconfigFor(t, admin, c.Name)

	out, err := kubectl(t, kc, ak, sk, "get", "namespaces", "-o", "name")
	if err != nil || !strings.Contains(out, "namespace/default") {
		t.Fatalf("kubectl get namespaces: %v\n%s", err, out)
	}
	manifest := filepath.Join(t.TempDir(), "cm.yaml")
	_ = os.WriteFile(manifest, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: via-gateway\n  namespace: default\ndata:\n  k: v\n"), 0o600)
	if out, err := kubectl(t, kc, ak, sk, "apply", "-f", manifest); err != nil || !strings.Contains(out, "created") {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	cs, _ := c.Clientset()
	cm, err := cs.CoreV1().ConfigMaps("default").Get(context.Background(), "via-gateway", metav1.GetOptions{})
	if err != nil || cm.Data["k"] != "v" {
		t.Fatalf("applied object in the cluster: %v %v", cm, err)
	}
	if out, err := kubectl(t, kc, ak, sk, "apply", "-f", manifest); err != nil || !strings.Contains(out, "unchanged") {
		t.Fatalf("kubectl apply again: %v\n%s", err, out)
	}

	// get -w shows an object created after the watch started.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w := exec.CommandContext(ctx, c.Kubectl, "--kubeconfig", kc, "get", "configmaps", "-n", "default", "-w", "-o", "name")
	w.Env = append(os.Environ(), "KUBEGATE_ACCESS_KEY="+ak, "KUBEGATE_SECRET_KEY="+sk, "XDG_CACHE_HOME="+t.TempDir())
	stdout, _ := w.StdoutPipe()
	w.Stderr = os.Stderr
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = w.Wait() }()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	waitFor := func(want string) {
		t.Helper()
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("watch ended before %s", want)
				}
				if l == want {
					return
				}
			case <-ctx.Done():
				t.Fatalf("watch did not show %s", want)
			}
		}
	}
	waitFor("configmap/via-gateway") // the initial list
	if _, err := cs.CoreV1().ConfigMaps("default").Create(context.Background(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "created-later"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor("configmap/created-later")

	if out, err := kubectl(t, kc, ak, sk, "delete", "-f", manifest); err != nil || !strings.Contains(out, "deleted") {
		t.Fatalf("kubectl delete: %v\n%s", err, out)
	}
	if out, err := kubectl(t, kc, ak, sk, "get", "configmap", "via-gateway", "-n", "default"); err == nil || !strings.Contains(out, "NotFound") {
		t.Fatalf("deleted object still there: %v\n%s", err, out)
	}
}

// The KubeCube guide's example: a Kubernetes error body passes through unchanged.
func TestKubernetesErrorsPassThrough(t *testing.T) {
	admin := login(t, "admin", adminPassword)
	r := want(t, call(t, "GET", proxyURL(shared.clusters[0].Name, "/api/v1/namespaces/default/pods/kubecube"), admin, nil), 404)
	st := r.JSON(t)
	if st["kind"] != "Status" || st["message"] != `pods "kubecube" not found` || st["reason"] != "NotFound" {
		t.Fatalf("error body = %s", r.Body)
	}
	// Unknown clusters are a gateway 404.
	r = want(t, call(t, "GET", proxyURL("no-such-cluster", "/api/v1/pods"), admin, nil), 404)
	if !strings.Contains(string(r.Body), `cluster \"no-such-cluster\" not found`) {
		t.Fatalf("unknown cluster = %s", r.Body)
	}
	// Anonymous callers never reach a cluster.
	want(t, call(t, "GET", proxyURL(shared.clusters[0].Name, "/api/v1/pods"), "", nil), 401)
}

// Stopping one cluster's apiserver makes its calls 503 within the dial timeout
// while the other keeps answering; restarting it restores service.
func TestUnreachableClusterIs503AndRecovers(t *testing.T) {
	admin := login(t, "admin", adminPassword)
	down, up := shared.clusters[1], shared.clusters[0]
	if err := down.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	defer func() {
		if !restarted {
			_ = down.StartAPIServer(context.Background())
		}
	}()
	start := time.Now()
	r := want(t, call(t, "GET", proxyURL(down.Name, "/version"), admin, nil), 503)
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("503 took %v, over the 2s dial timeout", took)
	}
	if st := r.JSON(t); st["kind"] != "Status" || !strings.Contains(st["message"].(string), "unreachable") {
		t.Fatalf("503 body = %s", r.Body)
	}
	want(t, call(t, "GET", proxyURL(up.Name, "/version"), admin, nil), 200)

	if err := down.StartAPIServer(context.Background()); err != nil {
		t.Fatal(err)
	}
	restarted = true
	deadline := time.Now().Add(10 * time.Second)
	for call(t, "GET", proxyURL(down.Name, "/version"), admin, nil).Code != 200 {
		if time.Now().After(deadline) {
			t.Fatal("the restarted cluster is not served again")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestProxyPassesQueryAndBodies(t *testing.T) {
	admin := login(t, "admin", adminPassword)
	c := shared.clusters[0]
	for i := range 3 {
		body := map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": fmt.Sprintf("q-%d", i), "labels": map[string]string{"set": "q"}}}
		want(t, call(t, "POST", proxyURL(c.Name, "/api/v1/namespaces/default/configmaps"), admin, body), 201)
	}
	r := want(t, call(t, "GET", proxyURL(c.Name, "/api/v1/namespaces/default/configmaps?labelSelector=set%3Dq&limit=2"), admin, nil), 200)
	m := r.JSON(t)
	if items := m["items"].([]any); len(items) != 2 || m["metadata"].(map[string]any)["continue"] == "" {
		t.Fatalf("limit/continue not forwarded: %s", r.Body)
	}
}

// Every authenticated call is audited: who, which key, which cluster, what, outcome.
func TestCallsAreAudited(t *testing.T) {
	token, ak, sk := newUser(t, "audited")
	c := shared.clusters[0].Name
	tok := want(t, call(t, "GET", shared.url+"/api/v1/cube/key/token?accessKey="+ak+"&secretKey="+sk, "", nil), 200).JSON(t)["token"].(string)
	want(t, call(t, "GET", proxyURL(c, "/api/v1/namespaces/default/secrets?limit=1"), tok, nil), 403)
	want(t, call(t, "GET", proxyURL(c, "/version"), tok, nil), 200)
	want(t, call(t, "GET", shared.url+"/api/v1/cube/audit?user=admin", token, nil), 403) // others' calls are the admins'

	admin := login(t, "admin", adminPassword)
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := want(t, call(t, "GET", shared.url+"/api/v1/cube/audit?user=audited&cluster="+c, admin, nil), 200)
		var out struct {
			Total int `json:"total"`
			Items []struct {
				User, AccessKey, Cluster, Verb, Path, SourceIP string
				StatusCode                                     int
			} `json:"items"`
		}
		if err := json.Unmarshal(r.Body, &out); err != nil {
			t.Fatal(err)
		}
		if out.Total == 2 {
			// The user sees the same two calls of theirs, and nobody else's.
			var own struct {
				Items []struct{ User string } `json:"items"`
			}
			if err := json.Unmarshal(want(t, call(t, "GET", shared.url+"/api/v1/cube/audit?cluster="+c, token, nil), 200).Body, &own); err != nil || len(own.Items) != 2 {
				t.Fatalf("the user's own calls: %v %+v", err, own)
			}
			for _, e := range own.Items {
				if e.User != "audited" {
					t.Fatalf("the user sees %s's call", e.User)
				}
			}
			newest, older := out.Items[0], out.Items[1]
			if newest.Path != "/api/v1/cube/proxy/clusters/"+c+"/version" || newest.StatusCode != 200 || newest.AccessKey != ak ||
				older.StatusCode != 403 || older.Verb != "list" || newest.Verb != "get" || older.SourceIP != "127.0.0.1" {
				t.Fatalf("audit events = %+v", out.Items)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("audit shows %d events for the user on %s: %s", out.Total, c, r.Body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestMetricsCountRequests(t *testing.T) {
	admin := login(t, "admin", adminPassword)
	c := shared.clusters[0].Name
	want(t, call(t, "GET", proxyURL(c, "/version"), admin, nil), 200)
	want(t, call(t, "GET", proxyURL("no-such-cluster", "/version"), admin, nil), 404)
	m := want(t, call(t, "GET", shared.url+"/metrics", "", nil), 200)
	for _, line := range []string{
		`kubegate_proxy_requests_total{cluster="` + c + `",code="200"}`,
		`kubegate_http_requests_total{code="200",method="GET",route="proxy"}`,
		`kubegate_http_requests_total{code="404",method="GET",route="proxy"}`,
		`kubegate_http_request_duration_seconds_bucket{route="proxy",le="0.5"}`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(m.Body), line) {
			t.Fatalf("/metrics lacks %s", line)
		}
	}
	if strings.Contains(string(m.Body), `cluster="no-such-cluster"`) {
		t.Fatal("an unknown cluster name became a label")
	}
}
