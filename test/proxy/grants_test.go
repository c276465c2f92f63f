package proxy

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/demo"
	"github.com/kubegate/kubegate/kubeenv"
	"github.com/kubegate/kubegate/test/pgtest"
	"github.com/kubegate/kubegate/test/testbin"
)

// eventually waits up to d for ok, saying how long it took.
func eventually(t *testing.T, what string, d time.Duration, ok func() bool) {
	t.Helper()
	start := time.Now()
	for !ok() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("%s after %s", what, time.Since(start).Round(time.Millisecond))
}

// grantTestRoles makes, in a cluster, the ClusterRole the grants tests give
// (the test bed has no controller-manager to fill the aggregated view role), one
// the gateway may not bind, and lets the gateway bind the first, as an operator
// adding a role to --grantable-roles would.
func grantTestRoles(t *testing.T, cs kubernetes.Interface) {
	t.Helper()
	ctx := context.Background()
	for _, obj := range []*rbacv1.ClusterRole{
		{ObjectMeta: metav1.ObjectMeta{Name: "grants-test-reader"}, Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list", "watch"}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "grants-test-secrets"}, Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"*"}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "kubegate-grants-test"}, Rules: []rbacv1.PolicyRule{{APIGroups: []string{rbacv1.GroupName}, Resources: []string{"clusterroles"}, Verbs: []string{"bind"}, ResourceNames: []string{"grants-test-reader"}}}},
	} {
		if _, err := cs.RbacV1().ClusterRoles().Create(ctx, obj, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	_, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "kubegate-grants-test"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "kubegate-grants-test"},
		Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: demo.GatewayUser}}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

func createNamespaces(t *testing.T, cs kubernetes.Interface, names ...string) {
	t.Helper()
	for _, ns := range names {
		if _, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// grantStatus returns a grant's state in each cluster, as the API shows it.
func grantStatus(t *testing.T, url, token, id string) map[string]map[string]any {
	t.Helper()
	g := want(t, call(t, "GET", url+"/api/v1/cube/grants/"+id, token, nil), 200).JSON(t)
	out := map[string]map[string]any{}
	for _, s := range g["status"].([]any) {
		st := s.(map[string]any)
		out[st["cluster"].(string)] = st
	}
	return out
}

func stateIs(t *testing.T, url, token, id, cluster, state string) func() bool {
	return func() bool { return grantStatus(t, url, token, id)[cluster]["state"] == state }
}

// A team granted a role on namespace x of both clusters, through two replicas on
// the real PostgreSQL: the member's key lists x in both and is refused on y;
// leaving the team refuses the same token within a second. The grant's bindings
// are repaired when deleted or changed by hand, a binding made by hand is never
// touched, a role the gateway may not bind fails with the cluster's message,
// cluster-admin is refused unless the operator allows it, and deleting the grant
// removes its bindings from both clusters.
func TestGrantsAcrossClusters(t *testing.T) {
	const x, y = "grant-x", "grant-y"
	ctx := context.Background()
	clients := map[string]kubernetes.Interface{}
	for _, c := range shared.clusters {
		cs, err := c.Clientset()
		if err != nil {
			t.Fatal(err)
		}
		clients[c.Name] = cs
		grantTestRoles(t, cs)
		createNamespaces(t, cs, x, y)
		if _, err := cs.RbacV1().RoleBindings(x).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "hand-made"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "grants-test-reader"},
			Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "someone-else"}}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	handMade := func(cluster string) string {
		rb, err := clients[cluster].RbacV1().RoleBindings(x).Get(ctx, "hand-made", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return rb.ResourceVersion
	}
	handMadeVersions := map[string]string{}
	for name := range clients {
		handMadeVersions[name] = handMade(name)
	}

	dsn, keyFile := pgtest.Schema(t, "kggrants"), pgtest.SharedKeyFile(t)
	var urls [2]string
	var procs [2]*testbin.Process
	for i := range urls {
		procs[i], urls[i] = tlsGateway(t, append([]string{"--store=postgres", "--postgres-dsn=" + dsn, "--encryption-key-file=" + keyFile,
			"--grantable-roles=view,edit,grants-test-reader,grants-test-secrets"}, shared.clusterArgs...)...)
	}
	a, b := urls[0], urls[1]
	admin := want(t, call(t, "POST", a+"/api/v1/cube/login", "", map[string]string{"name": "admin", "password": adminPassword}), 200).JSON(t)["token"].(string)
	want(t, call(t, "POST", a+"/api/v1/cube/users", admin, map[string]any{"name": "granted", "password": "granted-password"}), 201)
	want(t, call(t, "POST", a+"/api/v1/cube/teams", admin, map[string]any{"name": "readers", "members": []string{"granted"}}), 201)
	session := want(t, call(t, "POST", a+"/api/v1/cube/login", "", map[string]string{"name": "granted", "password": "granted-password"}), 200).JSON(t)["token"].(string)
	key := want(t, call(t, "POST", a+"/api/v1/cube/key/create", session, nil), 200).JSON(t)
	token := want(t, call(t, "GET", b+"/api/v1/cube/key/token?accessKey="+key["accessKey"].(string)+"&secretKey="+key["secretKey"].(string), "", nil), 200).JSON(t)["token"].(string)
	list := func(url, cluster, ns string) int {
		return call(t, "GET", url+"/api/v1/cube/proxy/clusters/"+cluster+"/api/v1/namespaces/"+ns+"/configmaps", token, nil).Code
	}
	for name := range clients {
		if code := list(b, name, x); code != 403 {
			t.Fatalf("before the grant, %s/%s: %d", name, x, code)
		}
	}

	// The operator decides what may be granted; an administrator cannot go past it.
	r := want(t, call(t, "POST", a+"/api/v1/cube/grants", admin, map[string]any{
		"subject": map[string]string{"kind": "Team", "name": "readers"}, "role": "cluster-admin", "clusters": []string{"*"}, "clusterWide": true}), 400)
	if !strings.Contains(string(r.Body), "--grantable-roles") || !strings.Contains(string(r.Body), `"kind":"Status"`) {
		t.Fatalf("cluster-admin: %s", r.Body)
	}
	for _, bad := range []map[string]any{
		{"subject": map[string]string{"kind": "Team", "name": "nobody"}, "role": "view", "clusters": []string{"*"}, "namespaces": []string{x}},
		{"subject": map[string]string{"kind": "Group", "name": "readers"}, "role": "view", "clusters": []string{"*"}, "namespaces": []string{x}},
		{"subject": map[string]string{"kind": "Team", "name": "readers"}, "role": "view", "clusters": []string{}, "namespaces": []string{x}},
		{"subject": map[string]string{"kind": "Team", "name": "readers"}, "role": "view", "clusters": []string{"*"}},
		{"subject": map[string]string{"kind": "Team", "name": "readers"}, "role": "view", "clusters": []string{"*"}, "namespaces": []string{"Not_A_Namespace"}},
	} {
		want(t, call(t, "POST", a+"/api/v1/cube/grants", admin, bad), 400)
	}
	// Only an administrator's session grants.
	want(t, call(t, "POST", a+"/api/v1/cube/grants", session, map[string]any{
		"subject": map[string]string{"kind": "Team", "name": "readers"}, "role": "view", "clusters": []string{"*"}, "namespaces": []string{x}}), 403)

	g := want(t, call(t, "POST", a+"/api/v1/cube/grants", admin, map[string]any{
		"subject": map[string]string{"kind": "Team", "name": "readers"}, "role": "grants-test-reader", "clusters": []string{"*"}, "namespaces": []string{x}}), 201).JSON(t)
	id, binding := g["id"].(string), g["bindingName"].(string)
	for name := range clients {
		eventually(t, "the grant applied in "+name, 15*time.Second, stateIs(t, b, admin, id, name, "Applied"))
		// The apiserver's RBAC authorizer sees a new binding from its own informer, a moment later.
		eventually(t, "granted, "+name+"/"+x+" lists", 5*time.Second, func() bool { return list(b, name, x) == 200 })
		if code := list(b, name, y); code != 403 {
			t.Fatalf("granted x only, %s/%s: %d", name, y, code)
		}
		rb, err := clients[name].RbacV1().RoleBindings(x).Get(ctx, binding, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if rb.Labels[kubegate.ManagedByLabel] != "kubegate" || rb.Labels[kubegate.GrantLabel] != id || rb.RoleRef.Name != "grants-test-reader" ||
			len(rb.Subjects) != 1 || rb.Subjects[0].Kind != "Group" || rb.Subjects[0].Name != kubegate.TeamGroup("readers") {
			t.Fatalf("the binding in %s: %+v", name, rb)
		}
		// One writer: the leading replica.
		for _, f := range rb.ManagedFields {
			if f.Manager != "kubegate" {
				t.Fatalf("binding written by %q too", f.Manager)
			}
		}
	}
	// The member sees the grant that gives them access; a user gets a 404 for one
	// that does not concern them.
	mine := want(t, call(t, "GET", b+"/api/v1/cube/grants", token, nil), 200).JSON(t)
	if mine["total"].(float64) != 1 {
		t.Fatalf("the member's grants: %v", mine)
	}

	// Leaving the team refuses the same token within a second.
	want(t, call(t, "DELETE", a+"/api/v1/cube/teams/readers/members/granted", admin, nil), 200)
	eventually(t, "refused after leaving", time.Second, func() bool { return list(b, shared.clusters[0].Name, x) == 403 })
	want(t, call(t, "PUT", b+"/api/v1/cube/teams/readers/members/granted", admin, nil), 200)
	eventually(t, "allowed after joining again", time.Second, func() bool { return list(a, shared.clusters[1].Name, x) == 200 })

	// Deleted by hand: back. Changed by hand: restored.
	c0 := clients[shared.clusters[0].Name]
	if err := c0.RbacV1().RoleBindings(x).Delete(ctx, binding, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the deleted binding back", 10*time.Second, func() bool {
		_, err := c0.RbacV1().RoleBindings(x).Get(ctx, binding, metav1.GetOptions{})
		return err == nil
	})
	rb, err := c0.RbacV1().RoleBindings(x).Get(ctx, binding, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rb.Subjects = []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "intruder"}}
	if _, err := c0.RbacV1().RoleBindings(x).Update(ctx, rb, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the changed binding restored", 10*time.Second, func() bool {
		rb, err := c0.RbacV1().RoleBindings(x).Get(ctx, binding, metav1.GetOptions{})
		return err == nil && len(rb.Subjects) == 1 && rb.Subjects[0].Name == kubegate.TeamGroup("readers")
	})

	// A role the gateway may not bind: Kubernetes' escalation check refuses, and
	// the grant says so, per cluster, in the cluster's words.
	secrets := want(t, call(t, "POST", a+"/api/v1/cube/grants", admin, map[string]any{
		"subject": map[string]string{"kind": "User", "name": "granted"}, "role": "grants-test-secrets", "clusters": []string{shared.clusters[0].Name}, "namespaces": []string{y}}), 201).JSON(t)
	eventually(t, "the unbindable grant failed", 15*time.Second, stateIs(t, a, admin, secrets["id"].(string), shared.clusters[0].Name, "Failed"))
	st := grantStatus(t, a, admin, secrets["id"].(string))
	if msg, _ := st[shared.clusters[0].Name]["message"].(string); !strings.Contains(msg, "forbidden") || !strings.Contains(msg, "grant-y") {
		t.Fatalf("the failure's message: %q", msg)
	}
	if len(st) != 1 {
		t.Fatalf("status for clusters the grant does not name: %v", st)
	}

	// Deleting the grant removes its bindings from both clusters.
	want(t, call(t, "DELETE", b+"/api/v1/cube/grants/"+id, admin, nil), 200)
	want(t, call(t, "DELETE", b+"/api/v1/cube/grants/"+id, admin, nil), 404)
	for name, cs := range clients {
		eventually(t, "the binding gone from "+name, 10*time.Second, func() bool {
			_, err := cs.RbacV1().RoleBindings(x).Get(ctx, binding, metav1.GetOptions{})
			return apierrors.IsNotFound(err)
		})
		if v := handMade(name); v != handMadeVersions[name] {
			t.Fatalf("the hand-made binding in %s was touched: version %s, was %s", name, v, handMadeVersions[name])
		}
	}
	eventually(t, "refused once the grant is gone", 2*time.Second, func() bool { return list(b, shared.clusters[1].Name, x) == 403 })

	// Grant changes are in the audit, with who made them and the outcome.
	eventually(t, "the grant's creation and deletion audited", 5*time.Second, func() bool {
		body := string(want(t, call(t, "GET", a+"/api/v1/cube/audit?user=admin&pageSize=200", admin, nil), 200).Body)
		return strings.Contains(body, `"path":"/api/v1/cube/grants"`) && strings.Contains(body, `"path":"/api/v1/cube/grants/`+id+`"`)
	})

	// The leader dies: the other replica takes over and reconciles.
	leads := regexp.MustCompile(`this replica leads`)
	leader, follower := 0, 1
	if !leads.MatchString(procs[0].Output()) {
		leader, follower = 1, 0
	}
	if leads.MatchString(procs[follower].Output()) {
		t.Fatal("both replicas lead")
	}
	procs[leader].Kill()
	again := want(t, call(t, "POST", urls[follower]+"/api/v1/cube/grants", admin, map[string]any{
		"subject": map[string]string{"kind": "Team", "name": "readers"}, "role": "grants-test-reader", "clusters": []string{"*"}, "namespaces": []string{y}}), 201).JSON(t)
	for name := range clients {
		eventually(t, "applied by the new leader in "+name, 15*time.Second, stateIs(t, urls[follower], admin, again["id"].(string), name, "Applied"))
	}
	eventually(t, "granted by the new leader", 5*time.Second, func() bool { return list(urls[follower], shared.clusters[0].Name, y) == 200 })
}

// A grant on all clusters and all namespaces reaches a namespace created later
// and a cluster registered later; a cluster that is down shows the grant
// Pending, and gets it once it is back.
func TestGrantsReachLaterClustersAndNamespaces(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	first := shared.clusters[0]
	cs0, err := first.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	grantTestRoles(t, cs0)
	_, gw := tlsGateway(t, "--grantable-roles=grants-test-reader", shared.clusterArgs[0], shared.clusterArgs[1])
	admin := want(t, call(t, "POST", gw+"/api/v1/cube/login", "", map[string]string{"name": "admin", "password": adminPassword}), 200).JSON(t)["token"].(string)
	want(t, call(t, "POST", gw+"/api/v1/cube/users", admin, map[string]any{"name": "everywhere", "password": "everywhere-password"}), 201)
	g := want(t, call(t, "POST", gw+"/api/v1/cube/grants", admin, map[string]any{
		"subject": map[string]string{"kind": "User", "name": "everywhere"}, "role": "grants-test-reader", "clusters": []string{"*"}, "namespaces": []string{"*"}}), 201).JSON(t)
	id, binding := g["id"].(string), g["bindingName"].(string)
	eventually(t, "applied in "+first.Name, 15*time.Second, stateIs(t, gw, admin, id, first.Name, "Applied"))
	hasBinding := func(cs kubernetes.Interface, ns string) func() bool {
		return func() bool {
			rb, err := cs.RbacV1().RoleBindings(ns).Get(ctx, binding, metav1.GetOptions{})
			return err == nil && len(rb.Subjects) == 1 && rb.Subjects[0].Kind == "User" && rb.Subjects[0].Name == "everywhere"
		}
	}
	if !hasBinding(cs0, "default")() {
		t.Fatal("no binding in default")
	}
	createNamespaces(t, cs0, "grant-later")
	eventually(t, "a namespace created later covered", 10*time.Second, hasBinding(cs0, "grant-later"))

	late, err := kubeenv.Start(ctx, kubeenv.Options{Name: "grant-late"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = late.Stop() })
	kubeconfig, err := demo.PrepareCluster(ctx, late, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	csLate, err := late.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	grantTestRoles(t, csLate)
	kc, err := os.ReadFile(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	want(t, call(t, "POST", gw+"/api/v1/cube/clusters", admin, map[string]string{"name": "grant-late", "kubeconfig": string(kc)}), 201)
	eventually(t, "a cluster registered later covered", 15*time.Second, hasBinding(csLate, "default"))
	eventually(t, "applied in the later cluster", 10*time.Second, stateIs(t, gw, admin, id, "grant-late", "Applied"))

	// Down: a new grant waits, saying why; back: applied.
	if err := late.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	g2 := want(t, call(t, "POST", gw+"/api/v1/cube/grants", admin, map[string]any{
		"subject": map[string]string{"kind": "User", "name": "everywhere"}, "role": "grants-test-reader", "clusters": []string{"grant-late"}, "namespaces": []string{"kube-public"}}), 201).JSON(t)
	id2 := g2["id"].(string)
	eventually(t, "pending while the cluster is down, with the reason", 15*time.Second, func() bool {
		st := grantStatus(t, gw, admin, id2)["grant-late"]
		msg, _ := st["message"].(string)
		return st["state"] == "Pending" && strings.Contains(msg, "connection refused")
	})
	if err := late.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, "applied once the cluster is back", 60*time.Second, stateIs(t, gw, admin, id2, "grant-late", "Applied"))
	if !hasBinding(csLate, "kube-public")() {
		t.Fatal("applied without the binding")
	}
	// A namespace the grant names that the cluster lacks keeps it Pending, naming it.
	g3 := want(t, call(t, "POST", gw+"/api/v1/cube/grants", admin, map[string]any{
		"subject": map[string]string{"kind": "User", "name": "everywhere"}, "role": "grants-test-reader", "clusters": []string{first.Name}, "namespaces": []string{"grant-not-yet"}}), 201).JSON(t)
	eventually(t, "pending for a missing namespace", 10*time.Second, func() bool {
		st := grantStatus(t, gw, admin, g3["id"].(string))[first.Name]
		msg, _ := st["message"].(string)
		return st["state"] == "Pending" && strings.Contains(msg, "grant-not-yet")
	})
	createNamespaces(t, cs0, "grant-not-yet")
	eventually(t, "applied once the namespace exists", 10*time.Second, stateIs(t, gw, admin, g3["id"].(string), first.Name, "Applied"))

	// A disabled user's grants go, and their bindings with them.
	want(t, call(t, "POST", gw+"/api/v1/cube/users", admin, map[string]any{"name": "leaver", "password": "leaver-password"}), 201)
	leaver := want(t, call(t, "POST", gw+"/api/v1/cube/grants", admin, map[string]any{
		"subject": map[string]string{"kind": "User", "name": "leaver"}, "role": "grants-test-reader", "clusters": []string{first.Name}, "clusterWide": true}), 201).JSON(t)
	eventually(t, "the cluster-wide grant applied", 10*time.Second, stateIs(t, gw, admin, leaver["id"].(string), first.Name, "Applied"))
	crb, err := cs0.RbacV1().ClusterRoleBindings().Get(ctx, leaver["bindingName"].(string), metav1.GetOptions{})
	if err != nil || crb.Subjects[0].Name != "leaver" {
		t.Fatalf("the ClusterRoleBinding: %+v, %v", crb, err)
	}
	want(t, call(t, "PATCH", gw+"/api/v1/cube/users/leaver", admin, map[string]any{"enabled": false}), 200)
	eventually(t, "a disabled user's binding gone", 10*time.Second, func() bool {
		_, err := cs0.RbacV1().ClusterRoleBindings().Get(ctx, leaver["bindingName"].(string), metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
	want(t, call(t, "GET", gw+"/api/v1/cube/grants/"+leaver["id"].(string), admin, nil), 404)

	// A deleted user's grants go, and their bindings with them.
	want(t, call(t, "DELETE", gw+"/api/v1/cube/users/everywhere", admin, nil), 200)
	eventually(t, "a deleted user's bindings gone", 10*time.Second, func() bool {
		_, err := cs0.RbacV1().RoleBindings("default").Get(ctx, binding, metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
	if left := want(t, call(t, "GET", gw+"/api/v1/cube/grants", admin, nil), 200).JSON(t)["items"].([]any); len(left) != 0 {
		t.Fatalf("grants of a deleted user: %v", left)
	}
}

// What a user may actually do, per cluster and namespace, from the cluster's own
// RBAC: access from a kubegate grant (naming the grant) and from a RoleBinding
// made by hand show alike, and nothing the cluster would refuse — checked
// against kubectl auth can-i --as.
func TestEffectiveAccessShowsGrantsAndHandMadeBindings(t *testing.T) {
	const x, z = "access-x", "access-z"
	ctx := context.Background()
	c0 := shared.clusters[0]
	cs, err := c0.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	grantTestRoles(t, cs)
	createNamespaces(t, cs, x, z)
	if _, err := cs.RbacV1().RoleBindings(z).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "by-hand"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "grants-test-secrets"},
		Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "looker"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, gw := tlsGateway(t, append([]string{"--grantable-roles=grants-test-reader"}, shared.clusterArgs...)...)
	admin := want(t, call(t, "POST", gw+"/api/v1/cube/login", "", map[string]string{"name": "admin", "password": adminPassword}), 200).JSON(t)["token"].(string)
	want(t, call(t, "POST", gw+"/api/v1/cube/users", admin, map[string]any{"name": "looker", "password": "looker-password"}), 201)
	want(t, call(t, "POST", gw+"/api/v1/cube/users", admin, map[string]any{"name": "other", "password": "other-password"}), 201)
	g := want(t, call(t, "POST", gw+"/api/v1/cube/grants", admin, map[string]any{
		"subject": map[string]string{"kind": "User", "name": "looker"}, "role": "grants-test-reader", "clusters": []string{c0.Name}, "namespaces": []string{x}}), 201).JSON(t)
	eventually(t, "the grant applied", 15*time.Second, stateIs(t, gw, admin, g["id"].(string), c0.Name, "Applied"))

	// Every namespace of the cluster, a page at a time; the cluster's RBAC
	// authorizer sees the new binding a moment after the grant is Applied.
	seen := map[string]map[string]any{}
	eventually(t, "the access view shows the grant", 5*time.Second, func() bool {
		seen = map[string]map[string]any{}
		for page := 1; page < 100; page++ {
			r := want(t, call(t, "GET", gw+"/api/v1/cube/users/looker/access?clusters="+c0.Name+"&pageSize=50&page="+strconv.Itoa(page), admin, nil), 200).JSON(t)
			cl := r["clusters"].([]any)[0].(map[string]any)
			if cl["error"] != nil {
				t.Fatalf("cluster error: %v", cl["error"])
			}
			nss := cl["namespaces"].([]any)
			for _, n := range nss {
				seen[n.(map[string]any)["namespace"].(string)] = n.(map[string]any)
			}
			if len(nss) < 50 {
				break
			}
		}
		return seen[x]["level"] == "read"
	})
	rules := func(ns string) string {
		b, _ := json.Marshal(seen[ns]["rules"])
		return string(b)
	}
	grantsIn := func(ns string) []any { return seen[ns]["grants"].([]any) }
	if seen[x]["level"] != "read" || !strings.Contains(rules(x), "configmaps") || len(grantsIn(x)) != 1 || grantsIn(x)[0].(map[string]any)["id"] != g["id"] {
		t.Fatalf("%s (granted): %v", x, seen[x])
	}
	if seen[z]["level"] != "write" || !strings.Contains(rules(z), "secrets") || len(grantsIn(z)) != 0 {
		t.Fatalf("%s (bound by hand): %v", z, seen[z])
	}
	if seen["default"]["level"] != "none" || rules("default") != "[]" {
		t.Fatalf("default: %v", seen["default"])
	}
	canI := func(verb, resource, ns string) bool {
		out, _ := exec.Command(c0.Kubectl, "--kubeconfig", c0.Kubeconfig, "auth", "can-i", verb, resource, "-n", ns,
			"--as", "looker", "--as-group", kubegate.GroupUsers).Output()
		return strings.TrimSpace(string(out)) == "yes"
	}
	for _, c := range []struct {
		verb, resource, ns string
		shown              bool
	}{
		{"list", "configmaps", x, strings.Contains(rules(x), "configmaps")},
		{"list", "configmaps", z, strings.Contains(rules(z), "configmaps")},
		{"get", "secrets", z, strings.Contains(rules(z), "secrets")},
		{"get", "secrets", x, strings.Contains(rules(x), "secrets")},
		{"list", "configmaps", "default", strings.Contains(rules("default"), "configmaps")},
	} {
		if got := canI(c.verb, c.resource, c.ns); got != c.shown {
			t.Errorf("can-i %s %s -n %s: %v, the access view shows %v", c.verb, c.resource, c.ns, got, c.shown)
		}
	}

	// A user asks for themselves; only administrators ask for others.
	session := want(t, call(t, "POST", gw+"/api/v1/cube/login", "", map[string]string{"name": "looker", "password": "looker-password"}), 200).JSON(t)["token"].(string)
	mine := want(t, call(t, "GET", gw+"/api/v1/cube/access?pageSize=50&clusters="+c0.Name, session, nil), 200).JSON(t)
	if mine["user"] != "looker" || len(mine["clusters"].([]any)) != 1 {
		t.Fatalf("my access: %v", mine)
	}
	// A user who may not list namespaces sees those their grants name, not the
	// cluster's whole list.
	var own []string
	for _, n := range mine["clusters"].([]any)[0].(map[string]any)["namespaces"].([]any) {
		own = append(own, n.(map[string]any)["namespace"].(string))
	}
	if len(own) != 1 || own[0] != x {
		t.Fatalf("the user's own view shows namespaces %v, want only %s", own, x)
	}
	want(t, call(t, "GET", gw+"/api/v1/cube/users/other/access?pageSize=5", session, nil), 403)
	want(t, call(t, "GET", gw+"/api/v1/cube/access?pageSize=500", session, nil), 400)
	want(t, call(t, "GET", gw+"/api/v1/cube/access?clusters=no-such-cluster", session, nil), 404)
}

// A binding this installation made for a grant that went while no replica led
// is found and removed when a replica leads again, even in a cluster no grant
// covers now; another installation's binding is left alone.
func TestLeftOverBindingsGoWhenAReplicaLeads(t *testing.T) {
	ctx := context.Background()
	c0 := shared.clusters[0]
	cs, err := c0.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	args := []string{"--data-dir", data, shared.clusterArgs[0], shared.clusterArgs[1]}
	p, _ := tlsGateway(t, args...)
	leads := regexp.MustCompile(`this replica leads.*"instance":"([0-9a-f]+)"`)
	eventually(t, "leading", 30*time.Second, func() bool { return leads.MatchString(p.Output()) })
	instance := leads.FindStringSubmatch(p.Output())[1]
	p.Kill()
	for name, inst := range map[string]string{"kubegate-gleftover": instance, "kubegate-gtheirs": "0123456789abcdef"} {
		if _, err := cs.RbacV1().RoleBindings("default").Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name,
			Labels: map[string]string{kubegate.ManagedByLabel: kubegate.ManagedBy, kubegate.InstanceLabel: inst, kubegate.GrantLabel: strings.TrimPrefix(name, "kubegate-")}},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
			Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "nobody"}}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	tlsGateway(t, args...) // the same installation, leading again
	eventually(t, "the left-over binding removed", 15*time.Second, func() bool {
		_, err := cs.RbacV1().RoleBindings("default").Get(ctx, "kubegate-gleftover", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
	if _, err := cs.RbacV1().RoleBindings("default").Get(ctx, "kubegate-gtheirs", metav1.GetOptions{}); err != nil {
		t.Fatalf("another installation's binding: %v", err)
	}
}
