// Package proxy tests the cluster proxy end to end: the built kubegate binary in
// front of two real clusters, with kubectl and client-go as the clients.
package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubegate/kubegate/demo"
	"github.com/kubegate/kubegate/kubeenv"
	"github.com/kubegate/kubegate/test/testbin"
	"github.com/kubegate/kubegate/test/testhttp"
)

const adminPassword = "proxy-admin-password"

// env is what every test shares: two clusters and one gateway in front of them.
type env struct {
	bin      string // directory holding the kubegate binary (on PATH for kubectl)
	clusters []*kubeenv.Cluster
	gw       *testbin.Process
	url      string
	client   *http.Client // trusts the gateway's CA
	caFile   string
	// clusterArgs are the --cluster flags that reach the clusters as the gateway.
	clusterArgs []string
}

var shared env

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "kubegate-proxy-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	shared.bin = dir
	if _, err := testbin.Build(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// kubectl finds the exec credential plugin on PATH, as users' kubectl would.
	os.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))

	shared.clusters, err = kubeenv.StartN(ctx, 2, "proxy", kubeenv.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		for _, c := range shared.clusters {
			_ = c.Stop()
		}
	}()
	// kubectl sends credentials only over TLS: the gateway serves HTTPS with a CA
	// of the test's own, which generated kubeconfigs embed.
	ca, err := kubeenv.NewAuthority("gateway")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	crt, key, err := ca.IssueServing("kubegate")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	shared.caFile = filepath.Join(dir, "ca.crt")
	for name, data := range map[string][]byte{"ca.crt": ca.CertPEM(), "tls.crt": crt, "tls.key": key} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CertPEM())
	shared.client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, MaxIdleConnsPerHost: 32, ForceAttemptHTTP2: true}}
	args := []string{"serve", "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"), "--log-format", "json",
		"--cluster-dial-timeout", "2s", "--tls-cert-file", filepath.Join(dir, "tls.crt"), "--tls-key-file", filepath.Join(dir, "tls.key"),
		"--external-ca-file", shared.caFile,
		// The shared gateway's tests write straight on the clusters and list at once;
		// the cache's behaviour is tested on gateways of its own.
		"--list-cache=false"}
	for _, c := range shared.clusters {
		path, err := demo.PrepareCluster(ctx, c, dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		args = append(args, "--cluster", c.Name+"="+path)
		shared.clusterArgs = append(shared.clusterArgs, "--cluster", c.Name+"="+path)
	}
	shared.gw, shared.url, err = startGateway(args...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer shared.gw.Kill()
	return m.Run()
}

// startGateway runs the kubegate binary with args and the test's admin password,
// and returns it with its URL once it serves.
func startGateway(args ...string) (*testbin.Process, string, error) {
	return startGatewayEnv(nil, args...)
}

// startGatewayEnv is startGateway with more environment variables.
func startGatewayEnv(env []string, args ...string) (*testbin.Process, string, error) {
	p, err := testbin.Start(filepath.Join(shared.bin, "kubegate"), append([]string{"KUBEGATE_BOOTSTRAP_ADMIN_PASSWORD=" + adminPassword}, env...), args...)
	if err != nil {
		return nil, "", err
	}
	url, err := p.WaitURL(time.Minute)
	if err != nil {
		p.Kill()
		return nil, "", fmt.Errorf("%w\n%s", err, p.Output())
	}
	return p, url, nil
}

type reply = testhttp.Reply

// tlsGateway starts a gateway of the test's own: HTTPS with the shared
// certificate, a data directory of its own, and args after those. It is killed
// when the test ends, its output logged first if the test failed.
func tlsGateway(t *testing.T, args ...string) (*testbin.Process, string) {
	t.Helper()
	p, url, err := startGateway(append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--log-format", "json",
		"--tls-cert-file", filepath.Join(shared.bin, "tls.crt"), "--tls-key-file", filepath.Join(shared.bin, "tls.key")}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("gateway %s output:\n%s", url, p.Output())
		}
	})
	return p, url
}

// http1Client is a client of the gateway that speaks HTTP/1.1 only (shared.client
// speaks HTTP/2), for what only HTTP/1.1 carries (hop-by-hop headers), or
// dialing with dial when it is set.
func http1Client(dial func(ctx context.Context, network, addr string) (net.Conn, error)) *http.Client {
	cfg := shared.client.Transport.(*http.Transport).TLSClientConfig.Clone() //nolint:forcetypeassert // set up by run
	cfg.NextProtos = []string{"http/1.1"}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, DialContext: dial, TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}}
}

func call(t *testing.T, method, url, token string, body any, headers ...string) reply {
	t.Helper()
	return testhttp.Call(t, shared.client, method, url, token, body, headers...)
}

func want(t *testing.T, r reply, code int) reply {
	t.Helper()
	return testhttp.Want(t, r, code)
}

func login(t *testing.T, name, password string) string {
	t.Helper()
	return want(t, call(t, "POST", shared.url+"/api/v1/cube/login", "", map[string]string{"name": name, "password": password}), 200).JSON(t)["token"].(string)
}

// newUser creates a user and returns a token of theirs and an access key pair.
func newUser(t *testing.T, name string) (token, ak, sk string) {
	t.Helper()
	admin := login(t, "admin", adminPassword)
	want(t, call(t, "POST", shared.url+"/api/v1/cube/users", admin, map[string]any{"name": name, "password": name + "-password"}), 201)
	token = login(t, name, name+"-password")
	k := want(t, call(t, "POST", shared.url+"/api/v1/cube/key/create", token, nil), 200).JSON(t)
	return token, k["accessKey"].(string), k["secretKey"].(string)
}

func proxyURL(cluster, path string) string {
	return shared.url + "/api/v1/cube/proxy/clusters/" + cluster + path
}

// kubeconfigFor downloads the gateway's kubeconfig for cluster.
func kubeconfigFor(t *testing.T, token, cluster string) string {
	t.Helper()
	r := want(t, call(t, "GET", shared.url+"/api/v1/cube/clusters/"+cluster+"/kubeconfig", token, nil), 200)
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, r.Body, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// kubectl runs kubectl with the generated kubeconfig and the user's key pair.
func kubectl(t *testing.T, kubeconfig, ak, sk string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(shared.clusters[0].Kubectl, append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Env = append(os.Environ(), "KUBEGATE_ACCESS_KEY="+ak, "KUBEGATE_SECRET_KEY="+sk, "XDG_CACHE_HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}
