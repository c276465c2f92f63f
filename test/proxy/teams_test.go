package proxy

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/test/pgtest"
)

// A team's members act in every cluster with the team's group, from the current
// membership on every request: on two replicas sharing the real PostgreSQL, a
// RoleBinding to the team's group on namespace x (made by hand in both clusters)
// lets a member's exchanged token list x in both clusters within a second of
// joining on the other replica, never y, and the same token is refused within a
// second of leaving.
func TestTeamMembershipTravelsWithEveryRequest(t *testing.T) {
	const team, x, y = "search", "team-x", "team-y"
	ctx := context.Background()
	for _, c := range shared.clusters {
		cs, err := c.Clientset()
		if err != nil {
			t.Fatal(err)
		}
		for _, ns := range []string{x, y} {
			if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		// The test bed has no controller-manager to fill the aggregated view role:
		// a Role of its own, bound to the team's group in x.
		if _, err := cs.RbacV1().Roles(x).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "reader"},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list", "watch"}}}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := cs.RbacV1().RoleBindings(x).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "team-search"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "reader"},
			Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: kubegate.TeamGroup(team)}}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	dsn, keyFile := pgtest.Schema(t, "kgteams"), pgtest.SharedKeyFile(t)
	var urls [2]string
	for i := range urls {
		_, urls[i] = tlsGateway(t, append([]string{"--store=postgres", "--postgres-dsn=" + dsn, "--encryption-key-file=" + keyFile}, shared.clusterArgs...)...)
	}
	a, b := urls[0], urls[1]
	admin := want(t, call(t, "POST", a+"/api/v1/cube/login", "", map[string]string{"name": "admin", "password": adminPassword}), 200).JSON(t)["token"].(string)
	want(t, call(t, "POST", a+"/api/v1/cube/users", admin, map[string]any{"name": "searcher", "password": "searcher-password"}), 201)
	session := want(t, call(t, "POST", a+"/api/v1/cube/login", "", map[string]string{"name": "searcher", "password": "searcher-password"}), 200).JSON(t)["token"].(string)
	key := want(t, call(t, "POST", a+"/api/v1/cube/key/create", session, nil), 200).JSON(t)
	token := want(t, call(t, "GET", b+"/api/v1/cube/key/token?accessKey="+key["accessKey"].(string)+"&secretKey="+key["secretKey"].(string), "", nil), 200).JSON(t)["token"].(string)

	list := func(cluster, ns string) int {
		return call(t, "GET", b+"/api/v1/cube/proxy/clusters/"+cluster+"/api/v1/namespaces/"+ns+"/configmaps", token, nil).Code
	}
	for _, c := range shared.clusters {
		if code := list(c.Name, x); code != 403 {
			t.Fatalf("before joining, %s/%s: %d", c.Name, x, code)
		}
	}

	want(t, call(t, "POST", a+"/api/v1/cube/teams", admin, map[string]any{"name": team, "members": []string{"searcher"}}), 201)
	for _, c := range shared.clusters {
		eventually(t, "joined: "+c.Name+"/"+x+" listed", time.Second, func() bool { return list(c.Name, x) == 200 })
		if code := list(c.Name, y); code != 403 {
			t.Fatalf("a member lists %s/%s, which the team was not given: %d", c.Name, y, code)
		}
	}
	whoami := want(t, call(t, "GET", b+"/api/v1/cube/whoami", token, nil), 200).JSON(t)
	if groups, _ := whoami["groups"].([]any); len(groups) == 0 || groups[len(groups)-1] != kubegate.TeamGroup(team) {
		t.Fatalf("whoami groups = %v, want the team's group", whoami["groups"])
	}
	// The users API shows the groups the user acts with, the team's too.
	shown := want(t, call(t, "GET", b+"/api/v1/cube/users/searcher", admin, nil), 200).JSON(t)
	if groups, _ := shown["groups"].([]any); len(groups) == 0 || groups[len(groups)-1] != kubegate.TeamGroup(team) {
		t.Fatalf("the users API's groups = %v, want the team's group", shown["groups"])
	}
	mine := want(t, call(t, "GET", b+"/api/v1/cube/teams", session, nil), 200).JSON(t)
	if mine["total"].(float64) != 1 {
		t.Fatalf("the member's teams: %v", mine)
	}

	want(t, call(t, "DELETE", a+"/api/v1/cube/teams/"+team+"/members/searcher", admin, nil), 200)
	for _, c := range shared.clusters {
		eventually(t, "left: "+c.Name+"/"+x+" refused", time.Second, func() bool { return list(c.Name, x) == 403 })
	}
	if got := want(t, call(t, "GET", b+"/api/v1/cube/teams", session, nil), 200).JSON(t)["total"].(float64); got != 0 {
		t.Fatalf("after leaving, the member sees %v teams", got)
	}
	want(t, call(t, "GET", b+"/api/v1/cube/teams/"+team, session, nil), 404)
	want(t, call(t, "POST", b+"/api/v1/cube/teams", session, map[string]any{"name": "mine"}), 403)
}
