package proxy

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/kubegate/kubegate/test/testbin"
	"github.com/kubegate/kubegate/test/testhttp"
)

// BenchmarkPassThrough compares GET of one ConfigMap, over TLS:
//   - apiserver: straight from the apiserver (admin client certificate, the
//     baseline), and straight with the gateway's identity impersonating as the
//     gateway does (the apiserver's own cost of impersonation);
//   - 8-clients and 1-client: through the floor (the baseline: a bare
//     httputil.ReverseProxy with TLS on both legs and the same impersonation
//     headers, hack/floorproxy) and through the gateway (bearer token,
//     authentication, scopes, impersonation, limits, access log, metrics,
//     audit). proxy-cpu-µs/req is the proxy process's own CPU per request, from
//     /proc; the added latency is the gateway's p50 less the floor's.
func BenchmarkPassThrough(b *testing.B) {
	c := shared.clusters[0]
	cs, err := c.Clientset()
	if err != nil {
		b.Fatal(err)
	}
	_, err = cs.CoreV1().ConfigMaps("default").Create(context.Background(), &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "bench"}, Data: map[string]string{"k": "v"},
	}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		b.Fatal(err)
	}
	direct, err := rest.HTTPClientFor(c.Config)
	if err != nil {
		b.Fatal(err)
	}
	// The same identity the gateway uses, impersonating as the gateway does: what
	// the apiserver itself spends on impersonation, without the gateway.
	gwCfg, err := c.UserConfig("kubegate-gateway")
	if err != nil {
		b.Fatal(err)
	}
	gwCfg.Impersonate = rest.ImpersonationConfig{UserName: "admin", Groups: []string{"kubegate:users", "kubegate:admins"}}
	impersonating, err := rest.HTTPClientFor(gwCfg)
	if err != nil {
		b.Fatal(err)
	}
	t := &testing.T{}
	token := login(t, "admin", adminPassword)
	path := "/api/v1/namespaces/default/configmaps/bench"
	floor, floorURL := startFloor(b, c.Name)

	// What each process spends on one request: the gateway's own share is
	// what it takes from the apiserver on a machine they share.
	pids := map[string]int{"etcd": c.PIDs()[0], "apiserver": c.PIDs()[1]}
	b.Run("apiserver/baseline", func(b *testing.B) {
		testhttp.ReportCPU(b, pids, func() { testhttp.ParallelGET(b, direct, c.URL+path, "") })
	})
	b.Run("apiserver/impersonating", func(b *testing.B) {
		testhttp.ReportCPU(b, pids, func() { testhttp.ParallelGET(b, impersonating, c.URL+path, "") })
	})
	proxies := []struct {
		name  string
		pid   int
		url   string
		token string
	}{
		{"baseline", floor.Cmd.Process.Pid, floorURL + path, ""},
		{"gateway", shared.gw.Cmd.Process.Pid, proxyURL(c.Name, path), token},
	}
	for _, p := range proxies {
		pids := map[string]int{"etcd": pids["etcd"], "apiserver": pids["apiserver"], "proxy": p.pid}
		b.Run("8-clients/"+p.name, func(b *testing.B) {
			testhttp.ReportCPU(b, pids, func() { testhttp.ParallelGET(b, shared.client, p.url, p.token) })
		})
	}
	for _, p := range proxies {
		pids := map[string]int{"proxy": p.pid}
		b.Run("1-client/"+p.name, func(b *testing.B) {
			testhttp.ReportCPU(b, pids, func() { testhttp.SequentialGET(b, shared.client, p.url, p.token) })
		})
	}
}

// startFloor builds and starts hack/floorproxy in front of cluster, with the
// gateway's kubeconfig and serving certificate.
func startFloor(b *testing.B, cluster string) (*testbin.Process, string) {
	b.Helper()
	kubeconfig := ""
	for i := 0; i+1 < len(shared.clusterArgs); i += 2 {
		if name, path, ok := strings.Cut(shared.clusterArgs[i+1], "="); ok && name == cluster {
			kubeconfig = path
		}
	}
	bin := filepath.Join(b.TempDir(), "floorproxy")
	if out, err := exec.Command("go", "build", "-o", bin, "../../hack/floorproxy").CombinedOutput(); err != nil {
		b.Fatalf("building the floor: %v\n%s", err, out)
	}
	p, err := testbin.Start(bin, nil, "-kubeconfig", kubeconfig,
		"-tls-cert-file", filepath.Join(shared.bin, "tls.crt"), "-tls-key-file", filepath.Join(shared.bin, "tls.key"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.Kill)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, u, ok := strings.Cut(p.Output(), "serving "); ok {
			return p, strings.TrimSpace(strings.SplitN(u, "\n", 2)[0])
		}
		if time.Now().After(deadline) {
			b.Fatalf("the floor did not start:\n%s", p.Output())
		}
	}
}
