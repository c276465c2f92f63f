package console

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubegate/kubegate/demo"
	"github.com/kubegate/kubegate/kubeenv"
)

func createDeployment(t *testing.T, cs kubernetes.Interface, name string, labels map[string]string) {
	t.Helper()
	sel := map[string]string{"app": name}
	for k, v := range sel {
		labels[k] = v
	}
	if _, err := cs.AppsV1().Deployments("default").Create(context.Background(), &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: sel},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: sel}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img"}}}},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// The Search page finds Deployments by label across the clusters, with a
// column saying each one's cluster and the curl call that asks the same of the
// API; ticking a cluster narrows the set; a bad selector is shown, naming the
// problem. Both languages, with screenshots.
func TestSearchAcrossClustersInChromium(t *testing.T) {
	ctx := context.Background()
	second, err := kubeenv.Start(ctx, kubeenv.Options{Name: "console-b"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = second.Stop() })
	kc2, err := demo.PrepareCluster(ctx, second, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cs1, err := cluster.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	cs2, err := second.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	createDeployment(t, cs1, "search-web", map[string]string{"team": "search"})
	createDeployment(t, cs2, "search-api", map[string]string{"team": "search", "tier": "backend"})
	createDeployment(t, cs2, "billing", map[string]string{"team": "billing"})

	url, _ := gateway(t, "--cluster", "console-b="+kc2)
	b := browser(t)
	run(t, b, chromedp.Navigate(url+"/login"), chromedp.WaitVisible(chromedp.CSS("#login-form")),
		chromedp.SendKeys(chromedp.CSS("#login-name"), "admin"), chromedp.SendKeys(chromedp.CSS("#login-password"), adminPassword),
		chromedp.Click(chromedp.CSS("#login-submit")), chromedp.WaitVisible(chromedp.CSS("#user-menu-button")))

	rows := func() []string {
		t.Helper()
		return value(t, b, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#search-table tbody tr")].map(r => r.dataset.cluster + "/" + r.dataset.name)`))
	}
	// The page lists at once; each search is a new page: the old table goes
	// first, so that waiting for one waits for the new.
	submit := func() {
		t.Helper()
		value(t, b, chromedp.Evaluate[bool](`document.querySelector("#search-table")?.remove() === undefined`))
		run(t, b, chromedp.Click(chromedp.CSS("#search-run")), chromedp.WaitVisible(chromedp.CSS("#search-table")))
	}
	run(t, b, chromedp.Click(chromedp.CSS("#nav-search")), chromedp.WaitVisible(chromedp.CSS("#search-table")),
		chromedp.SendKeys(chromedp.CSS("#search-selector"), "metadata.labels.team=search"))
	submit()
	if got := rows(); strings.Join(got, " ") != "console-b/search-api "+cluster.Name+"/search-web" {
		t.Fatalf("search by label across clusters: %v", got)
	}
	if s := text(t, b, "#search-summary"); !strings.Contains(s, "2 found") || !strings.Contains(s, "console-b: 1") || !strings.Contains(s, cluster.Name+": 1") {
		t.Fatalf("summary: %q", s)
	}
	curl := text(t, b, "#search-curl")
	if !strings.Contains(curl, url+"/api/v1/cube/proxy/clusters/*/apis/apps/v1/deployments?") || !strings.Contains(curl, "selector=metadata.labels.team%3Dsearch") {
		t.Fatalf("the curl call: %s", curl)
	}
	screenshot(t, b, "search-en")

	// Newest first, in the second cluster only: its two Deployments.
	run(t, b, chromedp.Clear(chromedp.CSS("#search-selector")),
		chromedp.Click(chromedp.CSS(`input[name="cluster"][value="console-b"]`)),
		chromedp.SetValue(chromedp.CSS("#search-sort"), "created"), chromedp.SetValue(chromedp.CSS("#search-order"), "desc"))
	submit()
	if got := rows(); strings.Join(got, " ") != "console-b/billing console-b/search-api" {
		t.Fatalf("one cluster ticked, newest first: %v", got)
	}
	if curl := text(t, b, "#search-curl"); !strings.Contains(curl, "/clusters/console-b/apis/apps/v1/deployments?") {
		t.Fatalf("the curl call for one cluster: %s", curl)
	}

	// A bad selector is a 400 on the page, naming it, the form kept.
	run(t, b, chromedp.SendKeys(chromedp.CSS("#search-selector"), "metadata.labels.rank<x"),
		chromedp.Click(chromedp.CSS("#search-run")), chromedp.WaitVisible(chromedp.CSS(".error")))
	if msg := text(t, b, ".error"); !strings.Contains(msg, "neither a number nor an RFC 3339 time") {
		t.Fatalf("a bad selector: %q", msg)
	}
	if v := value(t, b, chromedp.Evaluate[string](`document.querySelector("#search-selector").value`)); v != "metadata.labels.rank<x" {
		t.Fatalf("the form lost the selector: %q", v)
	}

	// Chinese.
	run(t, b, chromedp.Navigate(url+"/search?selector=metadata.labels.team%3Dsearch&lang=zh"), chromedp.WaitVisible(chromedp.CSS("#search-table")))
	if h := text(t, b, "h1"); h != "跨集群搜索" {
		t.Fatalf("zh title: %q", h)
	}
	if s := text(t, b, "#search-summary"); !strings.Contains(s, "共 2 个") {
		t.Fatalf("zh summary: %q", s)
	}
	screenshot(t, b, "search-zh")
}
