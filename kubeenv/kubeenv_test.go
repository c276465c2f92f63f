package kubeenv_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubegate/kubegate/kubeenv"
	"github.com/kubegate/kubegate/kubeenv/kubeenvtest"
)

var shared *kubeenv.Cluster

const helperEnv = "KUBEENV_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		helperStartAndHang()
		return
	}
	kubeenvtest.Main(m, "kubeenv-test", func(c *kubeenv.Cluster) { shared = c })
}

func TestRealAPIServerServesWorkloads(t *testing.T) {
	ctx := context.Background()
	cs, err := shared.Clientset()
	if err != nil {
		t.Fatal(err)
	}

	info, err := cs.Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if info.GitVersion != "v1.37.2" || info.Major != "1" || info.Minor != "37" {
		t.Fatalf("/version = %+v, want v1.37.2 (1.37)", info)
	}

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	replicas := int32(3)
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "cart", Namespace: "shop", Labels: map[string]string{"app": "cart"}},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "cart"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "cart"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "cart", Image: "cart:1"}}},
			},
		},
	}
	if _, err := cs.AppsV1().Deployments("shop").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	nss, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/metadata.name=shop"})
	if err != nil || len(nss.Items) != 1 {
		t.Fatalf("namespace list = %v, %v", nss, err)
	}
	deps, err := cs.AppsV1().Deployments("shop").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(deps.Items) != 1 || deps.Items[0].Name != "cart" || *deps.Items[0].Spec.Replicas != 3 {
		t.Fatalf("deployments = %+v", deps.Items)
	}
}

func TestRBACIsEnforcedForNonAdminUsers(t *testing.T) {
	cfg, err := shared.UserConfig("alice", "developers")
	if err != nil {
		t.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(cfg)
	_, err = cs.CoreV1().Namespaces().List(context.Background(), metav1.ListOptions{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("alice without RBAC listing namespaces: err = %v, want Forbidden", err)
	}
	if !strings.Contains(err.Error(), `"alice"`) {
		t.Fatalf("the apiserver saw another identity: %v", err)
	}
}

func TestAPIServerCanBeStoppedAndRestarted(t *testing.T) {
	ctx := context.Background()
	cs, err := shared.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "survivor"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := shared.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.Discovery().ServerVersion(); err == nil {
		t.Fatal("apiserver still answers after StopAPIServer")
	}
	if err := shared.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "survivor", metav1.GetOptions{}); err != nil {
		t.Fatalf("data kept in etcd across an apiserver restart: %v", err)
	}
}

func TestThreeClustersLeaveNoProcessBehind(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	clusters, err := kubeenv.StartN(ctx, 3, "trio", kubeenv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	var dirs []string
	for i, c := range clusters {
		// Each is a separate, working cluster.
		cs, err := c.Clientset()
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("only-in-%d", i)
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		for j, other := range clusters {
			ocs, _ := other.Clientset()
			_, err := ocs.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
			if (i == j) != (err == nil) {
				t.Fatalf("namespace %s in cluster %d: err=%v (clusters must not share etcd)", name, j, err)
			}
		}
		got := c.PIDs()
		if len(got) != 2 {
			t.Fatalf("cluster %s has PIDs %v, want etcd and apiserver", c.Name, got)
		}
		pids = append(pids, got...)
		dirs = append(dirs, c.Dir)
	}
	for _, pid := range pids {
		if !alive(pid) {
			t.Fatalf("process %d is not running before Stop", pid)
		}
	}

	for _, c := range clusters {
		if err := c.Stop(); err != nil {
			t.Fatal(err)
		}
	}
	assertGone(t, pids, dirs, 0)
}

// A test binary that dies without stopping its clusters (a failed or timed-out
// test panics and exits) must take them with it.
func TestClustersDieWithTheirOwner(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()

	sc := bufio.NewScanner(stdout)
	var pids []int
	var dir string
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "PIDS "); ok {
			fields := strings.Fields(rest)
			dir = fields[0]
			for _, f := range fields[1:] {
				n, _ := strconv.Atoi(f)
				pids = append(pids, n)
			}
			break
		}
	}
	if len(pids) != 2 {
		t.Fatalf("helper reported PIDs %v", pids)
	}
	for _, pid := range pids {
		if !alive(pid) {
			t.Fatalf("helper's cluster process %d is not running", pid)
		}
	}
	// SIGKILL: no deferred cleanup runs in the owner, as with a test timeout.
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	// The directory cannot be cleaned by a killed owner; only processes must go.
	assertGone(t, pids, []string{dir}, 5*time.Second)
	_ = os.RemoveAll(dir)
}

func helperStartAndHang() {
	c, err := kubeenv.Start(context.Background(), kubeenv.Options{Name: "orphan"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("PIDS %s %d %d\n", c.Dir, c.PIDs()[0], c.PIDs()[1])
	select {}
}

// assertGone waits up to grace for the processes to disappear, then checks that no
// process anywhere still refers to the clusters' directories.
func assertGone(t *testing.T, pids []int, dirs []string, grace time.Duration) {
	t.Helper()
	deadline := time.Now().Add(grace)
	for {
		var left []int
		for _, pid := range pids {
			if alive(pid) {
				left = append(left, pid)
			}
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes still running after stop: %v", left)
		}
		time.Sleep(100 * time.Millisecond)
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		for _, d := range dirs {
			if strings.Contains(string(cmdline), d) {
				t.Fatalf("process %d still refers to %s: %q", pid, d, strings.ReplaceAll(string(cmdline), "\x00", " "))
			}
		}
	}
}

// alive reports whether pid is a running (not zombie) process.
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] != 'Z'
}

func TestDefaultBinDir(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	if got := kubeenv.DefaultBinDir(env("HOME", "/home/u")); got != "/home/u/.cache/kubegate/kube-v1.37.2" {
		t.Fatalf("kube bin dir = %q", got)
	}
	if got := kubeenv.DefaultBinDir(env("HOME", "/home/u", "XDG_CACHE_HOME", "/c")); got != "/c/kubegate/kube-v1.37.2" {
		t.Fatalf("XDG_CACHE_HOME ignored: %q", got)
	}
	if got := kubeenv.DefaultBinDir(env("KUBEGATE_KUBE_BIN", "/opt/kube")); got != "/opt/kube" {
		t.Fatalf("KUBEGATE_KUBE_BIN ignored: %q", got)
	}
}

// Clusters started at once, here and in other test processes, each get ports of
// their own: every one becomes ready, on a distinct port.
func TestConcurrentStartsGetDistinctPorts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	clusters, err := kubeenv.StartN(ctx, 4, "concurrent", kubeenv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{shared.URL: true}
	for _, c := range clusters {
		if seen[c.URL] {
			t.Errorf("two clusters on %s", c.URL)
		}
		seen[c.URL] = true
		cs, err := c.Clientset()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cs.Discovery().ServerVersion(); err != nil {
			t.Errorf("%s: %v", c.Name, err)
		}
	}
	for _, c := range clusters {
		if err := c.Stop(); err != nil {
			t.Error(err)
		}
	}
}

// A seeded cluster's etcd data, saved, starts another cluster holding the same
// objects: what make bench does to seed 100k objects once.
func TestASavedEtcdDataDirectoryStartsASeededCluster(t *testing.T) {
	ctx := context.Background()
	c, err := kubeenv.Start(ctx, kubeenv.Options{Name: "seed"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Stop() }()
	cs, err := c.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "seeded"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	seed := filepath.Join(t.TempDir(), "seed")
	if err := c.SaveEtcdData(ctx, seed); err != nil {
		t.Fatal(err)
	}
	// The saved cluster runs on.
	if _, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "seeded", metav1.GetOptions{}); err != nil {
		t.Fatalf("after saving: %v", err)
	}
	c2, err := kubeenv.Start(ctx, kubeenv.Options{Name: "seed", EtcdData: seed})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c2.Stop() }()
	cs2, err := c2.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs2.CoreV1().ConfigMaps("default").Get(ctx, "seeded", metav1.GetOptions{}); err != nil {
		t.Fatalf("the cluster started from the seed: %v", err)
	}
}
