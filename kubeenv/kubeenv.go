// Package kubeenv runs real Kubernetes control planes (etcd + kube-apiserver, built by
// hack/kube/build.sh) for tests and for `kubegate demo`, as controller-runtime's
// envtest does: a library, so the binary never links a test harness. Each cluster gets free
// loopback ports, etcd data on /dev/shm, its own CA, an admin client certificate in
// system:masters, a rest.Config and a kubeconfig file.
//
// Processes never outlive their owner: they run in their own process group with
// PR_SET_PDEATHSIG=SIGKILL, so a test binary that fails, panics or times out takes its
// clusters with it, and Stop kills the whole group.
package kubeenv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Version is the Kubernetes version hack/kube/build.sh builds the binaries at.
const Version = "v1.37.2"

// Binaries names the three programs a cluster needs.
var binaries = [...]string{"etcd", "kube-apiserver", "kube-controller-manager", "kubectl"} //nolint:gochecknoglobals // a constant list.

// DefaultBinDir is where hack/kube/build.sh puts the binaries: $KUBEGATE_KUBE_BIN or
// $XDG_CACHE_HOME (~/.cache)/kubegate/kube-v1.37.2, read through getenv.
func DefaultBinDir(getenv func(string) string) string {
	if d := getenv("KUBEGATE_KUBE_BIN"); d != "" {
		return d
	}
	cache := getenv("XDG_CACHE_HOME")
	if cache == "" {
		home := getenv("HOME")
		if home == "" {
			home = "."
		}
		cache = home + "/.cache"
	}
	return cache + "/kubegate/kube-" + Version
}

// MissingBinaries lists the binaries absent from dir.
func MissingBinaries(dir string) []string {
	var missing []string
	for _, b := range binaries {
		if st, err := os.Stat(filepath.Join(dir, b)); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			missing = append(missing, b)
		}
	}
	return missing
}

// Options configures a cluster.
type Options struct {
	// Name identifies the cluster (kubeconfig context, directory prefix).
	Name string
	// BinDir holds etcd, kube-apiserver and kubectl; DefaultBinDir(os.Getenv) when empty.
	BinDir string
	// StartTimeout bounds how long Start waits for /readyz; 90s when zero.
	StartTimeout time.Duration
	// ExtraAPIServerArgs are appended to the apiserver's flags.
	ExtraAPIServerArgs []string
	// EtcdData, when set, is an etcd data directory (saved by SaveEtcdData) the
	// cluster starts from: a seeded cluster reused without seeding again.
	EtcdData string
	// ControllerManager also runs kube-controller-manager (BinDir must hold it),
	// so that Deployments get ReplicaSets and Pods, garbage is collected and
	// the aggregated roles (view, edit, admin) get their rules, as in a real
	// cluster. Pods stay Pending: there is no scheduler or kubelet.
	ControllerManager bool
}

// Cluster is one running control plane.
type Cluster struct {
	Name string
	// Dir holds certificates, logs and etcd data; removed by Stop.
	Dir string
	// URL is the apiserver's https URL on 127.0.0.1.
	URL string
	// Config authenticates as an admin in system:masters.
	Config *rest.Config
	// Kubeconfig is the path of an admin kubeconfig file for kubectl.
	Kubeconfig string
	// Kubectl is the path of the kubectl binary built with the cluster's.
	Kubectl string

	opts          Options
	ca            *Authority
	apiserverArgs []string
	etcdArgs      []string
	etcdURL       string

	mu                sync.Mutex
	ports             *PortLease
	etcd              *process
	apiserver         *process
	controllerManager *process
}

// Start starts one cluster and waits until its apiserver is ready.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if opts.Name == "" {
		opts.Name = "kubeenv"
	}
	if opts.BinDir == "" {
		opts.BinDir = DefaultBinDir(os.Getenv)
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 90 * time.Second
	}
	if missing := MissingBinaries(opts.BinDir); len(missing) > 0 {
		return nil, fmt.Errorf("kubeenv: %s missing from %s: run `make kube-bin` (or hack/kube/build.sh) first", strings.Join(missing, ", "), opts.BinDir)
	}
	// Ports come from a range the kernel never hands out on its own and are locked
	// across processes (see reservePorts), so test packages starting clusters at
	// once cannot collide; a program outside kubeenv binding one of them still
	// could, and a retry then picks new ones.
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		c, err := start(ctx, opts)
		if err == nil {
			return c, nil
		}
		lastErr = err
		if ctx.Err() != nil || !errors.Is(err, errPortInUse) {
			break
		}
	}
	return nil, lastErr
}

// StartN starts n clusters concurrently, named prefix-1..prefix-n. On failure, the
// ones that started are stopped.
func StartN(ctx context.Context, n int, prefix string, opts Options) ([]*Cluster, error) {
	clusters := make([]*Cluster, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := opts
			o.Name = fmt.Sprintf("%s-%d", prefix, i+1)
			clusters[i], errs[i] = Start(ctx, o)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, c := range clusters {
			if c != nil {
				_ = c.Stop()
			}
		}
		return nil, err
	}
	return clusters, nil
}

var errPortInUse = errors.New("port in use")

func start(ctx context.Context, opts Options) (*Cluster, error) {
	base := "/dev/shm"
	if st, statErr := os.Stat(base); statErr != nil || !st.IsDir() {
		base = os.TempDir()
	}
	dir, err := os.MkdirTemp(base, "kubegate-"+sanitize(opts.Name)+"-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{Name: opts.Name, Dir: dir, opts: opts, Kubectl: filepath.Join(opts.BinDir, "kubectl")}
	// c, not a named result: a failed start must clean up what it began, whatever
	// it returns.
	if err := c.start(ctx); err != nil {
		_ = c.Stop()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) start(ctx context.Context) error {
	opts, dir := c.opts, c.Dir
	ports, err := ReservePorts(3)
	if err != nil {
		return err
	}
	c.ports = ports
	etcdClient, etcdPeer, apiPort := ports.Ports[0], ports.Ports[1], ports.Ports[2]

	if err := c.writeCerts(); err != nil {
		return err
	}

	etcdURL := "http://127.0.0.1:" + strconv.Itoa(etcdClient)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(etcdPeer)
	if opts.EtcdData != "" {
		if err := copyDir(filepath.Join(dir, "etcd"), opts.EtcdData); err != nil {
			return fmt.Errorf("kubeenv: copying the etcd data: %w", err)
		}
	}
	c.etcdArgs = []string{
		"--name=" + sanitize(opts.Name),
		"--data-dir=" + filepath.Join(dir, "etcd"),
		"--listen-client-urls=" + etcdURL,
		"--advertise-client-urls=" + etcdURL,
		"--listen-peer-urls=" + peerURL,
		"--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=" + sanitize(opts.Name) + "=" + peerURL,
		"--unsafe-no-fsync", // test data on tmpfs; durability is not what is tested.
		"--log-level=warn",
	}
	c.etcdURL = etcdURL
	if err := c.startEtcd(ctx); err != nil {
		return err
	}

	c.URL = "https://127.0.0.1:" + strconv.Itoa(apiPort)
	c.apiserverArgs = append([]string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(apiPort),
		"--cert-dir=" + filepath.Join(dir, "apiserver-certs"),
		"--tls-cert-file=" + filepath.Join(dir, "serving.crt"),
		"--tls-private-key-file=" + filepath.Join(dir, "serving.key"),
		"--client-ca-file=" + filepath.Join(dir, "ca.crt"),
		"--endpoint-reconciler-type=none",
		"--service-cluster-ip-range=10.96.0.0/16",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + filepath.Join(dir, "sa.key"),
		"--service-account-signing-key-file=" + filepath.Join(dir, "sa.key"),
		"--authorization-mode=RBAC",
		// No controller-manager creates default service accounts, so pods could not
		// be admitted with the ServiceAccount plugin on.
		"--disable-admission-plugins=ServiceAccount",
		"--allow-privileged=true",
		"--profiling=false",
	}, opts.ExtraAPIServerArgs...)

	c.Config = &rest.Config{
		Host: c.URL,
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   c.ca.certPEM,
			CertFile: filepath.Join(dir, "admin.crt"),
			KeyFile:  filepath.Join(dir, "admin.key"),
		},
		QPS:   1000,
		Burst: 2000,
	}
	if err := c.StartAPIServer(ctx); err != nil {
		return err
	}
	c.Kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := c.writeKubeconfig(c.Kubeconfig); err != nil {
		return err
	}
	if opts.ControllerManager {
		return c.startControllerManager()
	}
	return nil
}

// startControllerManager runs kube-controller-manager as the admin, without
// leader election or a serving port; the service account token controller
// signs with the apiserver's key.
func (c *Cluster) startControllerManager() error {
	bin := filepath.Join(c.opts.BinDir, "kube-controller-manager")
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("kubeenv: %s is missing: run make kube-bin", bin)
	}
	p, err := startProcess(bin, []string{
		"--kubeconfig=" + c.Kubeconfig,
		"--leader-elect=false",
		"--secure-port=0",
		"--use-service-account-credentials=false",
		"--service-account-private-key-file=" + filepath.Join(c.Dir, "sa.key"),
		"--root-ca-file=" + filepath.Join(c.Dir, "ca.crt"),
	}, filepath.Join(c.Dir, "kube-controller-manager.log"))
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.controllerManager = p
	c.mu.Unlock()
	return nil
}

func (c *Cluster) writeCerts() error {
	ca, err := NewAuthority(c.Name)
	if err != nil {
		return err
	}
	c.ca = ca
	servingCrt, servingKey, err := ca.issue("kube-apiserver", nil, true)
	if err != nil {
		return err
	}
	adminCrt, adminKey, err := ca.issue("kubeenv-admin", []string{"system:masters"}, false)
	if err != nil {
		return err
	}
	saKey, err := newECKeyPEM()
	if err != nil {
		return err
	}
	files := map[string][]byte{
		"ca.crt": ca.certPEM, "serving.crt": servingCrt, "serving.key": servingKey,
		"admin.crt": adminCrt, "admin.key": adminKey, "sa.key": saKey,
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(c.Dir, name), data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// startEtcd starts etcd and waits until it is healthy.
func (c *Cluster) startEtcd(ctx context.Context) error {
	var err error
	c.etcd, err = startProcess(filepath.Join(c.opts.BinDir, "etcd"), c.etcdArgs, filepath.Join(c.Dir, "etcd.log"))
	if err != nil {
		return err
	}
	if err := waitFor(ctx, c.opts.StartTimeout, c.etcd, func(ctx context.Context) bool {
		return httpOK(ctx, http.DefaultClient, c.etcdURL+"/health")
	}); err != nil {
		return c.startError("etcd", err, c.etcd)
	}
	return nil
}

// SaveEtcdData copies the cluster's etcd data directory to dst (replacing it)
// for Options.EtcdData: it stops the apiserver and etcd for a consistent copy,
// then starts them again.
func (c *Cluster) SaveEtcdData(ctx context.Context, dst string) error {
	if err := c.StopAPIServer(); err != nil {
		return err
	}
	c.mu.Lock()
	err := c.etcd.stop(10 * time.Second)
	c.mu.Unlock()
	if err != nil {
		return err
	}
	tmp := dst + ".tmp"
	_ = os.RemoveAll(tmp)
	if err := copyDir(tmp, filepath.Join(c.Dir, "etcd")); err != nil {
		return err
	}
	_ = os.RemoveAll(dst)
	if err := os.Rename(tmp, dst); err != nil {
		return err
	}
	c.mu.Lock()
	err = c.startEtcd(ctx)
	c.mu.Unlock()
	if err != nil {
		return err
	}
	return c.StartAPIServer(ctx)
}

// copyDir copies the directory tree src to dst, private to its owner as etcd
// wants its data.
func copyDir(dst, src string) error {
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		return err
	}
	root, err := os.OpenRoot(dst)
	if err != nil {
		return err
	}
	defer root.Close()
	return fs.WalkDir(root.FS(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		mode := os.FileMode(0o600)
		if d.IsDir() {
			mode = 0o700 // its owner lists it
		}
		return root.Chmod(path, mode)
	})
}

// StartAPIServer (re)starts the apiserver on the same port and etcd, waiting until
// it is ready. Tests use it with StopAPIServer to take a cluster down and back.
func (c *Cluster) StartAPIServer(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.apiserver != nil && !c.apiserver.exited() {
		return errors.New("kubeenv: apiserver already running")
	}
	p, err := startProcess(filepath.Join(c.opts.BinDir, "kube-apiserver"), c.apiserverArgs, filepath.Join(c.Dir, "kube-apiserver.log"))
	if err != nil {
		return err
	}
	c.apiserver = p
	client, err := rest.HTTPClientFor(c.Config)
	if err != nil {
		return err
	}
	defer client.CloseIdleConnections()
	if err := waitFor(ctx, c.opts.StartTimeout, p, func(ctx context.Context) bool {
		return httpOK(ctx, client, c.URL+"/readyz")
	}); err != nil {
		return c.startError("kube-apiserver", err, p)
	}
	return nil
}

// StopAPIServer stops the apiserver and leaves etcd running.
func (c *Cluster) StopAPIServer() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.apiserver == nil {
		return nil
	}
	return c.apiserver.stop(10 * time.Second)
}

// Stop stops the apiserver, then etcd (the other order makes the apiserver hang on
// its storage), and removes the cluster's directory. It is safe to call twice.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	if c.controllerManager != nil {
		errs = append(errs, c.controllerManager.stop(10*time.Second))
	}
	if c.apiserver != nil {
		errs = append(errs, c.apiserver.stop(10*time.Second))
	}
	if c.etcd != nil {
		errs = append(errs, c.etcd.stop(10*time.Second))
	}
	if c.Dir != "" {
		errs = append(errs, os.RemoveAll(c.Dir))
	}
	c.ports.Release()
	c.ports = nil
	return errors.Join(errs...)
}

// PIDs returns the process IDs of the cluster's etcd and apiserver, for tests that
// check nothing is left behind.
func (c *Cluster) PIDs() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var pids []int
	for _, p := range []*process{c.etcd, c.apiserver, c.controllerManager} {
		if p != nil {
			pids = append(pids, p.pid)
		}
	}
	return pids
}

// Clientset returns an admin clientset.
func (c *Cluster) Clientset() (*kubernetes.Clientset, error) {
	return kubernetes.NewForConfig(c.Config)
}

// UserConfig returns a rest.Config that authenticates as user with groups, through
// a client certificate signed by the cluster's CA.
func (c *Cluster) UserConfig(user string, groups ...string) (*rest.Config, error) {
	crt, key, err := c.ca.issue(user, groups, false)
	if err != nil {
		return nil, err
	}
	return &rest.Config{
		Host:            c.URL,
		TLSClientConfig: rest.TLSClientConfig{CAData: c.ca.certPEM, CertData: crt, KeyData: key},
		QPS:             1000,
		Burst:           2000,
	}, nil
}

// writeKubeconfig writes the admin kubeconfig with embedded credentials to path.
func (c *Cluster) writeKubeconfig(path string) error {
	crt, err := os.ReadFile(c.Config.CertFile)
	if err != nil {
		return err
	}
	key, err := os.ReadFile(c.Config.KeyFile)
	if err != nil {
		return err
	}
	admin := rest.CopyConfig(c.Config)
	admin.CertFile, admin.KeyFile, admin.CertData, admin.KeyData = "", "", crt, key
	return c.WriteKubeconfig(path, admin, "admin")
}

// WriteKubeconfig writes a kubeconfig for cfg (one of this cluster's configs, with
// embedded certificate data) to path, its context named after the cluster.
func (c *Cluster) WriteKubeconfig(path string, cfg *rest.Config, user string) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters[c.Name] = &clientcmdapi.Cluster{Server: c.URL, CertificateAuthorityData: c.ca.certPEM}
	kc.AuthInfos[c.Name+"-"+user] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts[c.Name] = &clientcmdapi.Context{Cluster: c.Name, AuthInfo: c.Name + "-" + user}
	kc.CurrentContext = c.Name
	return clientcmd.WriteToFile(*kc, path)
}

func (c *Cluster) startError(what string, err error, p *process) error {
	return fmt.Errorf("kubeenv: cluster %s: %s did not become ready: %w\n--- last lines of %s ---\n%s", c.Name, what, err, p.logPath, tail(p.logPath, 25))
}

// waitFor polls ready until it returns true, the process exits, or the time is up.
func waitFor(ctx context.Context, timeout time.Duration, p *process, ready func(context.Context) bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if ready(ctx) {
			return nil
		}
		select {
		case <-p.done:
			if strings.Contains(tail(p.logPath, 50), "address already in use") {
				return errPortInUse
			}
			return fmt.Errorf("process exited: %w", p.err)
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func httpOK(ctx context.Context, client *http.Client, url string) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusOK
}

func tail(path string, n int) string {
	data, err := os.ReadFile(path) //nolint:gosec // our own log file.
	if err != nil {
		return err.Error()
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func sanitize(name string) string {
	var b strings.Builder
	for _, r := range name {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteRune('-')
		}
	}
	return b.String()
}
