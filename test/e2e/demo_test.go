package e2e

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubegate/kubegate/kubeenv"
	"github.com/kubegate/kubegate/test/testhttp"
)

// The demo brings up both clusters and the gateway, and what it prints works when
// pasted: kubectl against each cluster directly shows the seeded Deployments.
func TestDemoRunsClustersAndGateway(t *testing.T) {
	if missing := kubeenv.MissingBinaries(kubeenv.DefaultBinDir(os.Getenv)); len(missing) > 0 {
		t.Fatalf("kube binaries missing (%v): run make kube-bin", missing)
	}
	dataDir := t.TempDir()
	p := startKubegate(t, "demo", "--listen", "127.0.0.1:0", "--data-dir", dataDir)
	p.waitLine(t, regexp.MustCompile(`(kubegate demo is running)`), 3*time.Minute)
	time.Sleep(100 * time.Millisecond) // the rest of the banner follows the first line.
	out := p.Output()

	gw := regexp.MustCompile(`Gateway:\s+(https://\S+)\s+\(CA: (\S+)\)`).FindStringSubmatch(out)
	if gw == nil {
		t.Fatalf("no gateway URL and CA in the banner:\n%s", out)
	}
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, gw[1]+"/healthz", nil)
	resp, err := tlsClient(t, gw[2]).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("gateway healthz = %d", resp.StatusCode)
	}

	// The printed OpenAPI calls work when pasted into a shell.
	block := regexp.MustCompile(`(?s)Try the OpenAPI flow[^\n]*\n(.*?)\n\n`).FindStringSubmatch(out)
	if block == nil || !strings.Contains(block[1], "admin") {
		t.Fatalf("no example calls in the banner:\n%s", out)
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is needed to run the demo's example calls (make test installs it)")
	}
	script := "set -euo pipefail\n" + block[1]
	calls, err := exec.Command("bash", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("example calls failed: %v\n%s", err, calls)
	}
	// Two token exchanges, the key list, a page of Deployments through the proxy,
	// and kubectl through the gateway showing the frontend Deployments.
	for _, want := range []string{`"total":1`, "DeploymentList", `"total":20`, "NAME", "web-00"} {
		if !strings.Contains(string(calls), want) {
			t.Fatalf("example calls lack %q:\n%s", want, calls)
		}
	}
	if n := strings.Count(string(calls), `"token":"`); n != 2 {
		t.Fatalf("example calls printed %d tokens:\n%s", n, calls)
	}

	// The list cache is on, and the demo lets the gateway watch what it caches:
	// the guide's worked example is answered from the cache.
	token := regexp.MustCompile(`"token":"([^"]+)"`).FindStringSubmatch(string(calls))[1]
	worked := gw[1] + "/api/v1/cube/proxy/clusters/pivot-cluster/apis/apps/v1/namespaces/demo/deployments?sortName=metadata.creationTimestamp&sortOrder=desc&pageSize=20&pageNum=2"
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		r := testhttp.Want(t, testhttp.Call(t, tlsClient(t, gw[2]), "GET", worked, token, nil), 200)
		if r.Header.Get("X-Kubegate-List-Source") == "cache" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo's worked example never came from the cache:\n%s", p.Output())
		}
	}
	metrics := string(testhttp.Want(t, testhttp.Call(t, tlsClient(t, gw[2]), "GET", gw[1]+"/metrics", "", nil), 200).Body)
	if !regexp.MustCompile(`(?m)^kubegate_list_queries_total\{source="cache"\} [1-9]`).MatchString(metrics) {
		t.Fatalf("the cache metric does not count the worked example:\n%s", metrics)
	}

	kubectl := filepath.Join(kubeenv.DefaultBinDir(os.Getenv), "kubectl")
	// The demo's clusters run kube-controller-manager: Deployments get
	// ReplicaSets and Pods, as in a real cluster.
	if m := regexp.MustCompile(`kubectl --kubeconfig (\S+kubeconfig-pivot-cluster) get deployments -n demo`).FindStringSubmatch(out); m != nil {
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(time.Second) {
			pods, _ := exec.Command(kubectl, "--kubeconfig", m[1], "get", "pods", "-n", "demo", "-o", "name").Output()
			if strings.Count(string(pods), "pod/") > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("no Pods in the demo's namespace a minute after start: no controller-manager made them")
			}
		}
	}
	for _, cluster := range []string{"pivot-cluster", "member-1"} {
		m := regexp.MustCompile(`kubectl --kubeconfig (\S+kubeconfig-` + cluster + `) get deployments -n demo`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no kubectl example for %s in the banner:\n%s", cluster, out)
		}
		got, err := exec.Command(kubectl, "--kubeconfig", m[1], "get", "deployments", "-n", "demo", "-o", "name").CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl against %s: %v\n%s", cluster, err, got)
		}
		if n := strings.Count(string(got), "deployment.apps/"); n < 50 {
			t.Fatalf("%s has %d deployments in namespace demo, want at least 50", cluster, n)
		}
		ctx, err := exec.Command(kubectl, "--kubeconfig", m[1], "config", "current-context").Output()
		if err != nil || strings.TrimSpace(string(ctx)) != cluster {
			t.Fatalf("kubeconfig context = %q, %v; want %s", ctx, err, cluster)
		}
		labelled, err := exec.Command(kubectl, "--kubeconfig", m[1], "get", "deployments", "-A", "-l", "tier=frontend", "-o", "name").Output()
		if err != nil || strings.Count(string(labelled), "\n") == 0 {
			t.Fatalf("labelled deployments = %q, %v", labelled, err)
		}
	}

	if err := p.Cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, time.Minute); code != 0 {
		t.Fatalf("demo exit code after Ctrl-C = %d, want 0", code)
	}
	// Nothing the demo started survives it.
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		for _, c := range []string{"kubegate-pivot-cluster-", "kubegate-member-1-"} {
			if strings.Contains(string(cmdline), c) {
				t.Fatalf("process %s of the demo still runs: %q", e.Name(), cmdline)
			}
		}
	}
}
