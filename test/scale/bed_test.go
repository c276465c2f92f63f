// Package scale benchmarks list queries on a real test-bed cluster holding 30k,
// 100k (and, with KUBEGATE_BENCH_300K=1, 300k) Deployments across 100
// namespaces: from the gateway's list cache, through its streaming upstream
// path, by KubeCube's method, and straight from the apiserver. It has no tests:
// clusters start only when its benchmarks run (make bench).
package scale

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/kubegate/kubegate/demo"
	"github.com/kubegate/kubegate/kubeenv"
	"github.com/kubegate/kubegate/test/testbin"
	"github.com/kubegate/kubegate/test/testhttp"
)

const adminPassword = "scale-admin-password"

// seedFormat names the shape of the seeded objects: change it when deployment()
// changes, so a cached seed of the old shape is not reused.
const seedFormat = "v1"

// bed is one seeded cluster with two gateways in front of it: one with the list
// cache, one without.
type bed struct {
	n        int
	cluster  *kubeenv.Cluster
	direct   *http.Client // admin client certificate, straight to the apiserver
	cs       *kubernetes.Clientset
	client   *http.Client // to the gateways (HTTPS on loopback, HTTP/2)
	cached   string       // gateway URLs
	uncached string
	token    string // the admin's, on the cached gateway
	// uncachedToken is the admin's on the uncached gateway (its own store and keys).
	uncachedToken string
	procs         []*testbin.Process
	dir           string
}

// beds are started on first use and kept for every run of the benchmarks
// (-count), then stopped by TestMain.
var (
	bedsMu sync.Mutex
	beds   = map[int]*bed{}
	binDir string
)

func TestMain(m *testing.M) {
	// client-go's own log lines (a background writer's request cut short when
	// it stops) would land inside the benchmark result lines the report parses.
	klog.LogToStderr(false)
	klog.SetOutput(io.Discard)
	code := m.Run()
	for _, b := range beds {
		b.stop()
	}
	if acrossRun != nil {
		acrossRun.stop()
	}
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func (b *bed) stop() {
	for _, p := range b.procs {
		p.Kill()
	}
	if b.cluster != nil {
		_ = b.cluster.Stop()
	}
	_ = os.RemoveAll(b.dir)
}

// bedOf returns the bed of n objects, starting it (from a cached seed when there
// is one) on first use.
func bedOf(tb testing.TB, n int) *bed {
	tb.Helper()
	bedsMu.Lock()
	defer bedsMu.Unlock()
	if b, ok := beds[n]; ok {
		return b
	}
	// One bed at a time: the last one's apiserver would take memory and CPU.
	for k, b := range beds {
		b.stop()
		delete(beds, k)
	}
	b, err := startBed(n)
	if err != nil {
		if b != nil {
			b.stop()
		}
		tb.Fatal(err)
	}
	beds[n] = b
	return b
}

// buildOnce builds the kubegate binary into binDir, the first time.
func buildOnce() error {
	if binDir != "" {
		return nil
	}
	d, err := os.MkdirTemp("", "kubegate-scale-")
	if err != nil {
		return err
	}
	binDir = d
	_, err = testbin.Build(d)
	return err
}

func startBed(n int) (*bed, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	if err := buildOnce(); err != nil {
		return nil, err
	}
	b := &bed{n: n}
	var err error
	if b.dir, err = os.MkdirTemp("", "kubegate-scale-bed-"); err != nil {
		return nil, err
	}
	seedDir, err := ensureSeed(ctx, n)
	if err != nil {
		return b, err
	}
	opts := kubeenv.Options{Name: fmt.Sprintf("scale-%dk", n/1000), StartTimeout: 5 * time.Minute, EtcdData: seedDir}
	if b.cluster, err = kubeenv.Start(ctx, opts); err != nil {
		return b, err
	}
	cs, err := fastClient(b.cluster)
	if err != nil {
		return b, err
	}
	if b.direct, err = rest.HTTPClientFor(b.cluster.Config); err != nil {
		return b, err
	}
	kubeconfig, err := demo.PrepareCluster(ctx, b.cluster, b.dir)
	if err != nil {
		return b, err
	}
	if err := grantCacheReader(ctx, cs); err != nil {
		return b, err
	}
	b.cs = cs
	tlsArgs, pool, err := serving(b.dir)
	if err != nil {
		return b, err
	}
	b.client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 64}}
	common := append([]string{"serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--cluster", b.cluster.Name + "=" + kubeconfig}, tlsArgs...)
	for _, gw := range []struct {
		url  *string
		args []string
	}{
		{&b.cached, []string{"--list-cache", "--cache-memory-limit", strconv.Itoa(8 << 30)}},
		{&b.uncached, nil},
	} {
		args := append(append(append([]string{}, common...), "--data-dir", filepath.Join(b.dir, fmt.Sprintf("data-%d", len(b.procs)))), gw.args...)
		p, err := testbin.Start(filepath.Join(binDir, "kubegate"), []string{"KUBEGATE_BOOTSTRAP_ADMIN_PASSWORD=" + adminPassword}, args...)
		if err != nil {
			return b, err
		}
		b.procs = append(b.procs, p)
		if *gw.url, err = p.WaitURL(time.Minute); err != nil {
			return b, fmt.Errorf("%w\n%s", err, p.Output())
		}
	}
	// The admin on each gateway, which has its own store and keys.
	if b.token, err = b.login(b.cached); err != nil {
		return b, err
	}
	b.uncachedToken, err = b.login(b.uncached)
	return b, err
}

// fastClient is a clientset of c's admin without client-side rate limits.
func fastClient(c *kubeenv.Cluster) (*kubernetes.Clientset, error) {
	cfg := rest.CopyConfig(c.Config)
	cfg.QPS, cfg.Burst = -1, 0 // as fast as the apiserver takes it
	return kubernetes.NewForConfig(cfg)
}

// ensureSeed returns the saved etcd data of a cluster seeded with n
// Deployments, seeding one and saving it first when there is none.
func ensureSeed(ctx context.Context, n int) (string, error) {
	dir := filepath.Join(kubeenv.DefaultBinDir(os.Getenv), fmt.Sprintf("seed-%s-deployments-%d", seedFormat, n))
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	}
	c, err := kubeenv.Start(ctx, kubeenv.Options{Name: fmt.Sprintf("seed-%dk", n/1000), StartTimeout: 5 * time.Minute})
	if err != nil {
		return "", err
	}
	defer func() { _ = c.Stop() }()
	cs, err := fastClient(c)
	if err != nil {
		return "", err
	}
	start := time.Now()
	if err := seed(ctx, cs, n); err != nil {
		return "", fmt.Errorf("seeding %d deployments: %w", n, err)
	}
	fmt.Fprintf(os.Stderr, "seeded %d deployments in %s\n", n, time.Since(start).Round(time.Second))
	if err := c.SaveEtcdData(ctx, dir); err != nil {
		return "", fmt.Errorf("saving the seed: %w", err)
	}
	return dir, nil
}

// serving writes a serving certificate for the gateways, from a CA of the
// bed's own: the gateway flags that serve it, and the pool that trusts it.
func serving(dir string) (args []string, pool *x509.CertPool, err error) {
	ca, err := kubeenv.NewAuthority("scale-gateway")
	if err != nil {
		return nil, nil, err
	}
	crt, key, err := ca.IssueServing("kubegate")
	if err != nil {
		return nil, nil, err
	}
	for name, data := range map[string][]byte{"tls.crt": crt, "tls.key": key} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return nil, nil, err
		}
	}
	pool = x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CertPEM())
	return []string{"--tls-cert-file", filepath.Join(dir, "tls.crt"), "--tls-key-file", filepath.Join(dir, "tls.key")}, pool, nil
}

// grantCacheReader lets the gateway's own identity list and watch Deployments,
// what its cache needs (docs/configuration.md).
func grantCacheReader(ctx context.Context, cs *kubernetes.Clientset) error {
	if _, err := cs.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "kubegate-cache-reader"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"list", "watch"}}},
	}, metav1.CreateOptions{}); err != nil {
		return err
	}
	_, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "kubegate-cache-reader"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "kubegate-cache-reader"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: demo.GatewayUser}},
	}, metav1.CreateOptions{})
	return err
}

// seed creates n Deployments across 100 namespaces with varied labels, with 32
// clients at once.
func seed(ctx context.Context, cs *kubernetes.Clientset, n int) error {
	for i := range 100 {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: nsName(i)}}, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	jobs := make(chan int)
	errs := make(chan error, 32)
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				d := deployment(i)
				if _, err := cs.AppsV1().Deployments(d.Namespace).Create(ctx, d, metav1.CreateOptions{}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var err error
feed:
	for i := range n {
		select {
		case jobs <- i:
		case err = <-errs:
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errs:
		default:
		}
	}
	return err
}

func nsName(i int) string { return fmt.Sprintf("ns-%03d", i) }

var apps = []string{"web", "api", "worker", "cache", "db", "queue", "auth", "search", "billing", "mail"}

// deployment is the i-th seeded Deployment: a realistic spec (one container
// with ports, resources, env and probes), labels that vary by app, tier, team,
// environment and version.
func deployment(i int) *appsv1.Deployment {
	app := apps[i%len(apps)]
	name := fmt.Sprintf("%s-%06d", app, i)
	labels := map[string]string{
		"app":                          app,
		"app.kubernetes.io/name":       name,
		"tier":                         []string{"frontend", "backend", "data"}[i%3],
		"team":                         fmt.Sprintf("team-%d", i%7),
		"env":                          []string{"prod", "staging"}[i%2],
		"version":                      fmt.Sprintf("v%d", i%5+1),
		"app.kubernetes.io/managed-by": "scale-bench",
	}
	replicas := int32(i % 5)
	port := corev1.ContainerPort{Name: "http", ContainerPort: 8080}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: nsName(i % 100), Labels: labels,
			Annotations: map[string]string{"kubegate.io/seeded": "true"}},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app, "app.kubernetes.io/name": name}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name:  app,
					Image: fmt.Sprintf("registry.example.com/team-%d/%s:1.%d.%d", i%7, app, i%10, i%3),
					Ports: []corev1.ContainerPort{port},
					Env:   []corev1.EnvVar{{Name: "LOG_LEVEL", Value: "info"}, {Name: "INSTANCE", Value: name}},
					Resources: corev1.ResourceRequirements{
						Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
						Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
					},
					ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}}},
				}}},
			},
		},
	}
}

// login logs the admin in at a gateway and returns the bearer token.
func (b *bed) login(gateway string) (string, error) {
	r, err := testhttp.Try(b.client, "POST", gateway+"/api/v1/cube/login", "", map[string]string{"name": "admin", "password": adminPassword})
	if err != nil {
		return "", err
	}
	var body struct{ Token string }
	if r.Code != http.StatusOK || json.Unmarshal(r.Body, &body) != nil || body.Token == "" {
		return "", fmt.Errorf("login: %d %s", r.Code, r.Body)
	}
	return body.Token, nil
}
