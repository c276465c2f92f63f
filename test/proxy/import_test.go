package proxy

import (
	"context"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/kubegate/kubegate/test/testhttp"
)

// kubecubeCRD is KubeCube's CRD for kind (user.kubecube.io/v1, cluster-scoped),
// with the schema left open as KubeCube's own allows its fields.
func kubecubeCRD(kind, plural string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": plural + ".user.kubecube.io"},
		"spec": map[string]any{
			"group": "user.kubecube.io", "scope": "Cluster",
			"names": map[string]any{"kind": kind, "listKind": kind + "List", "plural": plural, "singular": strings.ToLower(kind)},
			"versions": []any{map[string]any{
				"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
			}},
		},
	}}
}

// `kubegate import kubecube` brings KubeCube's users and keys over from a real
// cluster holding KubeCube's CRDs; each imported pair exchanges for a token at
// KubeCube's own endpoint, and a second import changes nothing.
func TestImportKubeCube(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := shared.clusters[1]
	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	crds := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	for _, crd := range []*unstructured.Unstructured{kubecubeCRD("User", "users"), kubecubeCRD("Key", "keys")} {
		if _, err := dyn.Resource(crds).Create(ctx, crd, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	create := func(resource string, obj map[string]any) {
		t.Helper()
		gvr := schema.GroupVersionResource{Group: "user.kubecube.io", Version: "v1", Resource: resource}
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) { // until the CRD serves
			_, err := dyn.Resource(gvr).Create(ctx, &unstructured.Unstructured{Object: obj}, metav1.CreateOptions{})
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatal(err)
			}
		}
	}
	user := func(name, state string, admin bool) map[string]any {
		return map[string]any{"apiVersion": "user.kubecube.io/v1", "kind": "User", "metadata": map[string]any{"name": name},
			"spec":   map[string]any{"password": "5f4dcc3b5aa765d61d8327deb882cf99", "displayName": "Dev " + name, "email": name + "@example.com", "loginType": "normal", "state": state},
			"status": map[string]any{"platformAdmin": admin}}
	}
	key := func(ak, sk, owner string) map[string]any {
		md := map[string]any{"name": ak}
		if len(owner) <= 63 { // a label value's limit
			md["labels"] = map[string]any{"kubecube.io/user": owner}
		}
		return map[string]any{"apiVersion": "user.kubecube.io/v1", "kind": "Key", "metadata": md,
			"spec": map[string]any{"secretKey": sk, "user": owner}}
	}
	create("users", user("kc-alice", "normal", false))
	create("users", user("kc-bob", "forbidden", false))
	long := "kc-" + strings.Repeat("x", 70) // a valid KubeCube name, longer than kubegate's 63
	create("users", user(long, "normal", false))
	pairs := [][2]string{{"0a1b2c3d4e5f60718293a4b5c6d7e8f9", "f9e8d7c6b5a4938271605f4e3d2c1b0a"}, {"11112222333344445555666677778888", "88887777666655554444333322221111"}}
	create("keys", key(pairs[0][0], pairs[0][1], "kc-alice"))
	create("keys", key(pairs[1][0], pairs[1][1], "kc-alice"))
	create("keys", key("99998888777766665555444433332222", "22223333444455556666777788889999", long))

	dataDir := t.TempDir()
	run := func(extra ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, filepath.Join(shared.bin, "kubegate"), append([]string{"import", "kubecube", "--kubeconfig", c.Kubeconfig, "--data-dir", dataDir}, extra...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("import: %v\n%s", err, out)
		}
		return string(out)
	}
	if out := run("--dry-run"); !strings.Contains(out, "3 would import") && !strings.Contains(out, "4 would import") {
		t.Fatalf("dry run:\n%s", out)
	}
	first := run()
	for _, want := range []string{"imported user kc-alice", "imported user kc-bob (disabled, as in KubeCube)", "skipped user " + long,
		"imported key " + pairs[0][0] + " of kc-alice", "skipped key 99998888777766665555444433332222 of " + long + ": its user was not imported", "4 imported, 2 skipped"} {
		if !strings.Contains(first, want) {
			t.Fatalf("first import lacks %q:\n%s", want, first)
		}
	}
	if second := run(); !strings.Contains(second, "0 imported, 6 skipped") {
		t.Fatalf("a second import changed something:\n%s", second)
	}

	gw, url, err := startGateway("serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir, "--log-format", "json")
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Kill()
	for _, p := range pairs {
		tok := testhttp.Want(t, testhttp.Call(t, http.DefaultClient, "GET", url+"/api/v1/cube/key/token?accessKey="+p[0]+"&secretKey="+p[1], "", nil), 200).JSON(t)["token"].(string)
		if me := testhttp.Want(t, testhttp.Call(t, http.DefaultClient, "GET", url+"/api/v1/cube/whoami", tok, nil), 200).JSON(t); me["name"] != "kc-alice" {
			t.Fatalf("whoami = %v", me)
		}
	}
	// No password came over: the user cannot log in until an admin sets one, and
	// the answer is the one every failed login gets (it must not tell which
	// imported users exist).
	r := testhttp.Call(t, http.DefaultClient, "POST", url+"/api/v1/cube/login", "", map[string]string{"name": "kc-alice", "password": "password"})
	if r.Code != 401 || !strings.Contains(string(r.Body), "invalid user name or password") {
		t.Fatalf("login of an imported user: %d %s", r.Code, r.Body)
	}
}
