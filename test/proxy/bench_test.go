package proxy

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/kubegate/kubegate/test/testhttp"
)

// BenchmarkPassThrough compares GET of one ConfigMap straight from the apiserver
// (admin client certificate) with the same GET through the gateway (bearer token,
// authentication, impersonation, proxy), both over TLS with parallel clients. A third
// variant goes straight to the apiserver with impersonation headers, to separate the
// apiserver's cost of impersonation from the gateway's own.
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

	// What each process spends on one request: the gateway's own share is
	// what it takes from the apiserver on a machine they share.
	pids := map[string]int{"etcd": c.PIDs()[0], "apiserver": c.PIDs()[1]}
	b.Run("baseline", func(b *testing.B) {
		testhttp.ReportCPU(b, pids, func() { testhttp.ParallelGET(b, direct, c.URL+path, "") })
	})
	b.Run("direct-impersonating", func(b *testing.B) {
		testhttp.ReportCPU(b, pids, func() { testhttp.ParallelGET(b, impersonating, c.URL+path, "") })
	})
	pids["gateway"] = shared.gw.Cmd.Process.Pid
	b.Run("gateway", func(b *testing.B) {
		testhttp.ReportCPU(b, pids, func() { testhttp.ParallelGET(b, shared.client, proxyURL(c.Name, path), token) })
	})
}
