package console

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubegate/kubegate/demo"
)

// An administrator creates a team, adds a user, grants the team a role on a
// namespace of the cluster, and sees the grant Applied there; the user logs in
// and sees it in the My access grid; the admin pages are a 403 for the user.
// Both languages, with screenshots.
func TestTeamsGrantsAndMyAccessInChromium(t *testing.T) {
	ctx := context.Background()
	cs, err := cluster.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	// The test bed has no controller-manager to fill the aggregated view role: a
	// role of the test's own, which the gateway may bind.
	for _, obj := range []*rbacv1.ClusterRole{
		{ObjectMeta: metav1.ObjectMeta{Name: "console-reader"}, Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps", "pods"}, Verbs: []string{"get", "list", "watch"}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "kubegate-console-grants"}, Rules: []rbacv1.PolicyRule{{APIGroups: []string{rbacv1.GroupName}, Resources: []string{"clusterroles"}, Verbs: []string{"bind"}, ResourceNames: []string{"console-reader"}}}},
	} {
		if _, err := cs.RbacV1().ClusterRoles().Create(ctx, obj, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "kubegate-console-grants"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "kubegate-console-grants"},
		Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: demo.GatewayUser}}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "payments"}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	url, _ := gateway(t, "--grantable-roles=view,edit,console-reader")
	b := browser(t)
	login := func(name, password string) {
		t.Helper()
		run(t, b, chromedp.Navigate(url+"/login"), chromedp.WaitVisible(chromedp.CSS("#login-form")),
			chromedp.SendKeys(chromedp.CSS("#login-name"), name), chromedp.SendKeys(chromedp.CSS("#login-password"), password),
			chromedp.Click(chromedp.CSS("#login-submit")), chromedp.WaitVisible(chromedp.CSS("#user-menu-button")))
	}
	login("admin", adminPassword)
	run(t, b, chromedp.Navigate(url+"/users"), chromedp.WaitVisible(chromedp.CSS("#add-user")),
		chromedp.Click(chromedp.CSS("#add-user")), chromedp.WaitVisible(chromedp.CSS("#new-user-name")),
		chromedp.SendKeys(chromedp.CSS("#new-user-name"), "erin"), chromedp.SendKeys(chromedp.CSS("#new-user-password"), "erin-first-password"),
		chromedp.Click(chromedp.CSS("#new-user-create")), chromedp.WaitVisible(chromedp.CSS(`tr[data-user="erin"]`)))

	// Teams: create one, then add the member from its row.
	run(t, b, chromedp.Click(chromedp.CSS("#nav-teams")), chromedp.WaitVisible(chromedp.CSS("#teams-empty")),
		chromedp.Click(chromedp.CSS("#add-team")), chromedp.WaitVisible(chromedp.CSS("#new-team-name")),
		chromedp.SendKeys(chromedp.CSS("#new-team-name"), "Payments Team"), chromedp.Click(chromedp.CSS("#new-team-create")),
		chromedp.WaitVisible(chromedp.CSS("#new-team-error")))
	if msg := text(t, b, "#new-team-error"); !strings.Contains(msg, "team name") {
		t.Errorf("a bad team name: %q", msg)
	}
	viewScreenshot(t, b, "team-name-error-en")
	value(t, b, chromedp.Evaluate[string](`document.querySelector("#new-team-name").value = ""`))
	run(t, b, chromedp.SendKeys(chromedp.CSS("#new-team-name"), "payments"), chromedp.SendKeys(chromedp.CSS("#new-team-description"), "Runs the payment services"),
		chromedp.Click(chromedp.CSS("#new-team-create")), chromedp.WaitVisible(chromedp.CSS(`tr[data-team="payments"]`)),
		chromedp.Click(chromedp.CSS(`tr[data-team="payments"] button[data-action=add-member]`)), chromedp.WaitVisible(chromedp.CSS("#member-user")),
		chromedp.SendKeys(chromedp.CSS("#member-user"), "erin"), chromedp.Click(chromedp.CSS("#member-submit")),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-team="payments"] .chip[data-member="erin"]`)))
	screenshot(t, b, "teams-en")

	// Access: grant the team the role on payments, in every cluster.
	run(t, b, chromedp.Click(chromedp.CSS("#nav-grants")), chromedp.WaitVisible(chromedp.CSS("#grants-empty")))
	screenshot(t, b, "grants-empty-en")
	run(t, b, chromedp.Click(chromedp.CSS("#add-grant")), chromedp.WaitVisible(chromedp.CSS("#new-grant-subject")),
		chromedp.SendKeys(chromedp.CSS("#new-grant-subject"), "payments"),
		chromedp.SetValue(chromedp.CSS("#new-grant-role"), "console-reader"),
		chromedp.SendKeys(chromedp.CSS("#new-grant-namespaces"), "payments"))
	viewScreenshot(t, b, "grant-dialog-en")
	run(t, b, chromedp.Click(chromedp.CSS("#new-grant-create")), chromedp.WaitVisible(chromedp.CSS("#grants-table")))
	applied := `#grants-table .status[data-cluster="` + cluster.Name + `"][data-state="Applied"]`
	for deadline := time.Now().Add(20 * time.Second); ; {
		if value(t, b, chromedp.Evaluate[bool](`document.querySelector('`+applied+`') !== null`)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the grant never showed Applied: %s", text(t, b, "#grants-table"))
		}
		run(t, b, chromedp.Sleep(300*time.Millisecond), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#grants-table")))
	}
	screenshot(t, b, "grants-en")
	for _, pg := range []struct{ path, ready, heading string }{{"/teams", "#teams-table", "团队"}, {"/grants", "#grants-table", "授权"}} {
		run(t, b, chromedp.Navigate(url+pg.path+"?lang=zh-CN"), chromedp.WaitVisible(chromedp.CSS(pg.ready)))
		if got := text(t, b, "h1"); got != pg.heading {
			t.Errorf("%s in zh-CN: heading %q, want %q", pg.path, got, pg.heading)
		}
		screenshot(t, b, strings.TrimPrefix(pg.path, "/")+"-zh")
	}
	run(t, b, chromedp.Navigate(url+"/grants?lang=en"), chromedp.WaitVisible(chromedp.CSS("#grants-table")),
		chromedp.Click(chromedp.CSS("#user-menu-button")), chromedp.WaitVisible(chromedp.CSS("#menu-logout")),
		chromedp.Click(chromedp.CSS("#menu-logout")), chromedp.WaitVisible(chromedp.CSS("#login-form")))

	// The member sees the grant in the grid, and nothing in namespaces it does not reach.
	login("erin", "erin-first-password")
	run(t, b, chromedp.Click(chromedp.CSS("#nav-access")), chromedp.WaitVisible(chromedp.CSS("#access-grid")))
	cell := `#access-grid tr[data-namespace="payments"] .level`
	// The cluster's RBAC authorizer sees the binding a moment after Applied.
	for deadline := time.Now().Add(10 * time.Second); value(t, b, chromedp.Evaluate[string](`document.querySelector('`+cell+`').dataset.level`)) != "read"; {
		if time.Now().After(deadline) {
			t.Fatalf("payments never showed read: %s", text(t, b, "#access-grid"))
		}
		run(t, b, chromedp.Sleep(300*time.Millisecond), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#access-grid")))
	}
	if got := text(t, b, `#access-grid tr[data-namespace="payments"]`); !strings.Contains(got, "console-reader") {
		t.Errorf("payments does not name the grant: %q", got)
	}
	// Erin may not list namespaces: the grid shows what the grants name, not the cluster's list.
	if n := value(t, b, chromedp.Evaluate[int](`document.querySelectorAll("#access-grid tbody tr").length`)); n != 1 {
		t.Errorf("erin's grid has %d rows, want the granted namespace only", n)
	}
	screenshot(t, b, "access-en")
	run(t, b, chromedp.Navigate(url+"/access?lang=zh-CN"), chromedp.WaitVisible(chromedp.CSS("#access-grid")))
	if got := text(t, b, "h1"); got != "我的权限" {
		t.Errorf("/access in zh-CN: heading %q", got)
	}
	screenshot(t, b, "access-zh")
	for _, path := range []string{"/teams", "/grants", "/access?user=admin"} {
		run(t, b, chromedp.Navigate(url+path), chromedp.WaitReady(chromedp.CSS("body")))
		if got := value(t, b, chromedp.Evaluate[string](`document.body.innerText`)); !strings.Contains(got, `"code":403`) {
			t.Errorf("%s as a user: %q, want a 403", path, got)
		}
	}
	if n := value(t, b, chromedp.Evaluate[int](`document.querySelectorAll("#nav-teams, #nav-grants").length`)); n != 0 {
		t.Errorf("a user sees %d admin links", n)
	}
}
