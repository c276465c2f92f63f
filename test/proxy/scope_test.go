package proxy

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubegate/kubegate/test/testhttp"
)

// scopedToken creates a key with scope (from the admin's session) and returns a
// token exchanged from it, and the key.
func scopedToken(t *testing.T, admin string, scope map[string]any) (token, ak string) {
	t.Helper()
	k := want(t, call(t, "POST", shared.url+"/api/v1/cube/key/create", admin, map[string]any{"description": "scoped", "scope": scope}), 200).JSON(t)
	ak = k["accessKey"].(string)
	tok := want200(t, call(t, "GET", shared.url+"/api/v1/cube/key/token?accessKey="+ak+"&secretKey="+k["secretKey"].(string), "", nil)).JSON(t)["token"].(string)
	return tok, ak
}

// refusedBy checks a 403 from the gateway naming the scope's part.
func refusedBy(t *testing.T, r reply, part string) {
	t.Helper()
	want(t, r, 403)
	if !strings.Contains(string(r.Body), "refused by the credential's scope ("+part+")") {
		t.Fatalf("403 not naming the %s scope: %s", part, r.Body)
	}
}

// Scoped credentials, on two real clusters: the gateway refuses what the scope
// does not allow before anything reaches a cluster, naming the scope.
func TestScopedCredentials(t *testing.T) {
	// An administrator of its own (cluster-admin in both clusters), with a key budget of its own.
	root := login(t, "admin", adminPassword)
	want(t, call(t, "POST", shared.url+"/api/v1/cube/users", root, map[string]any{"name": "scoper", "password": "scoper-password", "admin": true}), 201)
	admin := login(t, "scoper", "scoper-password")
	a, b := shared.clusters[0].Name, shared.clusters[1].Name
	cm := func(name string) map[string]any {
		return map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": name}}
	}
	cs, err := shared.clusters[0].Clientset()
	if err != nil {
		t.Fatal(err)
	}

	// Read-only: lists, but a create is a 403 from the gateway and reaches nothing.
	ro, _ := scopedToken(t, admin, map[string]any{"readOnly": true})
	want200(t, call(t, "GET", proxyURL(a, "/api/v1/namespaces/default/configmaps"), ro, nil))
	refusedBy(t, call(t, "POST", proxyURL(a, "/api/v1/namespaces/default/configmaps"), ro, cm("ro-made")), "readOnly")
	if _, err := cs.CoreV1().ConfigMaps("default").Get(context.Background(), "ro-made", metav1.GetOptions{}); err == nil {
		t.Fatal("a refused create reached the cluster")
	}

	// One cluster.
	onlyA, _ := scopedToken(t, admin, map[string]any{"clusters": []string{a}})
	want200(t, call(t, "GET", proxyURL(a, "/version"), onlyA, nil))
	refusedBy(t, call(t, "GET", proxyURL(b, "/version"), onlyA, nil), "clusters")
	refusedBy(t, call(t, "GET", shared.url+"/apis/kpanda.io/v1alpha1/clusters/"+b+"/deployments", onlyA, nil), "clusters")

	// One namespace: another namespace and a cluster-wide list are refused.
	ns, _ := scopedToken(t, admin, map[string]any{"namespaces": []string{"default"}})
	want200(t, call(t, "GET", proxyURL(a, "/api/v1/namespaces/default/configmaps"), ns, nil))
	refusedBy(t, call(t, "GET", proxyURL(a, "/api/v1/namespaces/kube-system/configmaps"), ns, nil), "namespaces")
	r := call(t, "GET", proxyURL(a, "/api/v1/configmaps"), ns, nil)
	refusedBy(t, r, "namespaces")
	if !strings.Contains(string(r.Body), "cluster-wide requests are refused") {
		t.Fatalf("cluster-wide: %s", r.Body)
	}
	want200(t, call(t, "GET", proxyURL(a, "/version"), ns, nil)) // not a resource: discovery still works

	// A source address: refused from 127.0.0.1, served from 127.0.0.2.
	src, _ := scopedToken(t, admin, map[string]any{"sources": []string{"127.0.0.2"}})
	refusedBy(t, call(t, "GET", proxyURL(a, "/version"), src, nil), "sources")
	from2 := http1Client((&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 5 * time.Second}).DialContext)
	testhttp.Want(t, testhttp.Call(t, from2, "GET", proxyURL(a, "/version"), src, nil), 200)

	// A personal access token, scoped the same ways at once.
	pat := want200(t, call(t, "POST", shared.url+"/apis/ghippo.io/v1alpha1/current-user/accesstoken", admin, map[string]any{
		"name": "scoped", "scope": map[string]any{"clusters": []string{a}, "namespaces": []string{a + "/default"}, "readOnly": true},
	})).JSON(t)["token"].(string)
	want200(t, call(t, "GET", proxyURL(a, "/api/v1/namespaces/default/configmaps"), pat, nil))
	refusedBy(t, call(t, "GET", proxyURL(b, "/api/v1/namespaces/default/configmaps"), pat, nil), "clusters")
	refusedBy(t, call(t, "GET", proxyURL(a, "/api/v1/namespaces/kube-system/configmaps"), pat, nil), "namespaces")
	refusedBy(t, call(t, "DELETE", proxyURL(a, "/api/v1/namespaces/default/configmaps/x"), pat, nil), "readOnly")
	list := want200(t, call(t, "GET", shared.url+"/apis/ghippo.io/v1alpha1/current-user/accesstokens", admin, nil))
	if !strings.Contains(string(list.Body), `"readOnly":true`) {
		t.Fatalf("the token list does not show the scope: %s", list.Body)
	}

	// Narrowing a key's scope applies to its token already issued, within a second.
	free, ak := scopedToken(t, admin, nil)
	want200(t, call(t, "GET", proxyURL(b, "/version"), free, nil))
	want200(t, call(t, "PATCH", shared.url+"/api/v1/cube/key?accessKey="+ak, admin, map[string]any{"scope": map[string]any{"clusters": []string{a}}}))
	deadline := time.Now().Add(time.Second)
	for call(t, "GET", proxyURL(b, "/version"), free, nil).Code != 403 {
		if time.Now().After(deadline) {
			t.Fatal("a narrowed scope did not apply to the existing token within a second")
		}
		time.Sleep(20 * time.Millisecond)
	}
	want200(t, call(t, "GET", proxyURL(a, "/version"), free, nil)) // still allowed where the scope reaches
	keys := want200(t, call(t, "GET", shared.url+"/api/v1/cube/key", admin, nil))
	if !strings.Contains(string(keys.Body), `"scope":{"clusters":["`+a+`"]}`) {
		t.Fatalf("the key list does not show the scope: %s", keys.Body)
	}

	// The audit records each scoped credential's decision.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var out struct {
			Items []struct{ AccessKey, Scope string }
		}
		_ = json.Unmarshal(want200(t, call(t, "GET", shared.url+"/api/v1/cube/audit?user=scoper&pageSize=200", admin, nil)).Body, &out)
		var allowed, refused bool
		for _, e := range out.Items {
			if e.AccessKey == ak {
				allowed = allowed || e.Scope == "allowed"
				refused = refused || e.Scope == "refused: clusters"
			}
		}
		if allowed && refused {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("audit lacks the scope decisions of key %s", ak)
		}
	}
}
