// Package deploy_test checks the Helm chart and the plain manifests: helm lint and
// template pass, the rendered objects are what a cluster accepts (a server-side dry
// run against a real kube-apiserver), the pod runs locked down, and the committed
// manifests are the chart's current rendering.
package deploy_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/kubegate/kubegate/kubeenv"
	"github.com/kubegate/kubegate/kubeenv/kubeenvtest"
)

var cluster *kubeenv.Cluster

func TestMain(m *testing.M) {
	kubeenvtest.Main(m, "deploy", func(c *kubeenv.Cluster) { cluster = c })
}

const chart = "helm/kubegate"

// helm runs the helm that hack/helm.sh builds (make test builds it first).
func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command("bash", "../hack/helm.sh").Output()
	if err != nil {
		t.Fatalf("finding helm (make helm-bin): %v", err)
	}
	cmd := exec.Command(strings.TrimSpace(string(out)), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		return string(b), &exitError{err, stderr.String()}
	}
	return string(b), nil
}

type exitError struct {
	err    error
	stderr string
}

func (e *exitError) Error() string { return e.err.Error() + ": " + e.stderr }

// postgresHA are values for three replicas on PostgreSQL behind TLS.
var postgresHA = []string{
	"--set", "store=postgres", "--set", "replicaCount=3",
	"--set", "postgres.dsnSecret.name=kubegate-postgres", "--set", "encryptionKey.secret.name=kubegate-encryption",
	"--set", "tls.secretName=kubegate-tls", "--set", "metrics.tokenSecret.name=kubegate-metrics",
	"--set", "bootstrapAdminPassword.secret.name=kubegate-admin", "--set", "externalURL=https://kubegate.example.com",
	"--set", "trustedProxies={10.0.0.0/8}",
}

func TestHelmLint(t *testing.T) {
	for _, values := range [][]string{nil, postgresHA} {
		if out, err := helm(t, append([]string{"lint", "--strict", chart}, values...)...); err != nil {
			t.Fatalf("helm lint %v: %v\n%s", values, err, out)
		}
	}
}

func TestHelmTemplateRefusesUnsafeValues(t *testing.T) {
	for msg, values := range map[string][]string{
		"needs store: postgres":         {"--set", "replicaCount=2"},
		"needs postgres.dsnSecret.name": {"--set", "store=postgres"},
		"needs encryptionKey":           {"--set", "store=postgres", "--set", "postgres.dsnSecret.name=x"},
		"store must be sqlite":          {"--set", "store=mysql"},
		`must not grant "secrets"`:      {"--set-json", `listCache.read=[{"apiGroups":[""],"resources":["pods","secrets"]}]`},
		`must not grant "*"`:            {"--set-json", `listCache.read=[{"apiGroups":["apps"],"resources":["*"]}]`},
		"needs apiGroups":               {"--set-json", `listCache.read=[{"resources":["pods"]}]`},
	} {
		if _, err := helm(t, append([]string{"template", "k", chart}, values...)...); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%v: %v, want a refusal saying %q", values, err, msg)
		}
	}
}

// objects splits a rendering into its documents.
func objects(t *testing.T, rendered string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, doc := range strings.Split(rendered, "\n---") {
		var meta struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatal(err)
		}
		if meta.Kind != "" {
			out[meta.Kind+"/"+meta.Metadata.Name] = []byte(doc)
		}
	}
	return out
}

func TestPodIsLockedDownAndProbed(t *testing.T) {
	for _, values := range [][]string{nil, postgresHA} {
		rendered, err := helm(t, append([]string{"template", "kubegate", chart, "-n", "kubegate"}, values...)...)
		if err != nil {
			t.Fatal(err)
		}
		objs := objects(t, rendered)
		var d appsv1.Deployment
		if err := yaml.Unmarshal(objs["Deployment/kubegate"], &d); err != nil {
			t.Fatal(err)
		}
		pod := d.Spec.Template.Spec
		c := pod.Containers[0]
		sc := c.SecurityContext
		if pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot || *pod.SecurityContext.RunAsUser == 0 ||
			sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
			len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
			t.Fatalf("%v: pod not locked down: %+v %+v", values, pod.SecurityContext, sc)
		}
		if c.LivenessProbe.HTTPGet.Path != "/livez" || c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.Resources.Requests.Memory().IsZero() {
			t.Fatalf("%v: probes or resources missing: %+v", values, c)
		}
		args := strings.Join(c.Args, " ")
		if values != nil {
			if *d.Spec.Replicas != 3 || !strings.Contains(args, "--store=postgres") || !strings.Contains(args, "--encryption-key-file=") ||
				!strings.Contains(args, "--tls-cert-file=") || c.ReadinessProbe.HTTPGet.Scheme != corev1.URISchemeHTTPS {
				t.Fatalf("postgres HA: %d replicas, args %s", *d.Spec.Replicas, args)
			}
			if c.Env[0].Name != "KUBEGATE_POSTGRES_DSN" || c.Env[0].ValueFrom.SecretKeyRef.Name != "kubegate-postgres" {
				t.Fatalf("the DSN must come from its Secret: %+v", c.Env)
			}
		} else if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType || objs["PersistentVolumeClaim/kubegate-data"] == nil {
			t.Fatal("sqlite: one pod at a time on a persistent volume")
		}
		// The ClusterRole grants what the gateway uses and no more: impersonation
		// of users and groups.
		var role rbacv1.ClusterRole
		if err := yaml.Unmarshal(objs["ClusterRole/kubegate"], &role); err != nil {
			t.Fatal(err)
		}
		if len(role.Rules) != 1 || strings.Join(role.Rules[0].Verbs, ",") != "impersonate" || strings.Join(role.Rules[0].Resources, ",") != "users,groups" {
			t.Fatalf("ClusterRole grants more than impersonating users and groups: %+v", role.Rules)
		}
		// /metrics is on a port of its own that the Service does not expose: it
		// names the clusters and their traffic.
		var metricsPort int32
		for _, p := range c.Ports {
			if p.Name == "metrics" {
				metricsPort = p.ContainerPort
			}
		}
		if metricsPort == 0 || !strings.Contains(args, "--metrics-listen=:"+strconv.Itoa(int(metricsPort))) {
			t.Fatalf("/metrics is not on a port of its own: ports %+v, args %s", c.Ports, args)
		}
		var svc corev1.Service
		if err := yaml.Unmarshal(objs["Service/kubegate"], &svc); err != nil {
			t.Fatal(err)
		}
		for _, p := range svc.Spec.Ports {
			if p.TargetPort.String() == "metrics" || p.TargetPort.IntValue() == int(metricsPort) {
				t.Fatalf("the Service exposes /metrics: %+v", svc.Spec.Ports)
			}
		}
		// The cache's memory bound sits well under the pod's limit, or the pod is
		// killed before the cache evicts.
		var cacheLimit int64
		for _, a := range c.Args {
			if v, ok := strings.CutPrefix(a, "--cache-memory-limit="); ok {
				cacheLimit, _ = strconv.ParseInt(v, 10, 64)
			}
		}
		if podLimit := c.Resources.Limits.Memory().Value(); cacheLimit <= 0 || cacheLimit > podLimit*3/4 {
			t.Fatalf("--cache-memory-limit=%d against a pod limit of %d bytes", cacheLimit, podLimit)
		}
	}
}

func TestManifestsAreTheChartsRendering(t *testing.T) {
	committed, err := os.ReadFile(filepath.Join("kubernetes", "kubegate.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	rendered, err := helm(t, "template", "kubegate", chart, "--namespace", "kubegate")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(committed), rendered) {
		t.Fatal("deploy/kubernetes/kubegate.yaml is not the chart's rendering: run make manifests")
	}
}

// A real kube-apiserver accepts every object, in both the default and the HA
// rendering and the plain manifests (a server-side dry run validates each one
// against the API's schemas and admission).
func TestServerSideDryRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cs, err := cluster.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kubegate"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	plain, err := os.ReadFile(filepath.Join("kubernetes", "kubegate.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ha, err := helm(t, append([]string{"template", "kubegate", chart, "-n", "kubegate"}, postgresHA...)...)
	if err != nil {
		t.Fatal(err)
	}
	for name, manifest := range map[string]string{"plain manifests": string(plain), "postgres HA": ha} {
		cmd := exec.CommandContext(ctx, cluster.Kubectl, "--kubeconfig", cluster.Kubeconfig, "apply", "--dry-run=server", "-n", "kubegate", "-f", "-")
		cmd.Stdin = strings.NewReader(manifest)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
		for _, want := range []string{"deployment.apps/kubegate created (server dry run)", "clusterrole.rbac.authorization.k8s.io/kubegate created (server dry run)",
			// what the list cache, on by default, reads as the gateway
			"clusterrole.rbac.authorization.k8s.io/kubegate-cache-reader created (server dry run)",
			"clusterrolebinding.rbac.authorization.k8s.io/kubegate-cache-reader created (server dry run)",
			// what grants need: bindings, and bind on the grantable roles only
			"clusterrole.rbac.authorization.k8s.io/kubegate-grants created (server dry run)",
			"clusterrolebinding.rbac.authorization.k8s.io/kubegate-grants created (server dry run)"} {
			if !strings.Contains(string(out), want) {
				t.Fatalf("%s: %q missing from\n%s", name, want, out)
			}
		}
	}
}

// make image writes an OCI image without a daemon: the test loads the tarball,
// checks its config, and runs the binary inside.
func TestImage(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command("bash", "../hack/image.sh", dir)
	cmd.Env = append(os.Environ(), "VERSION=v9.8.7")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make image: %v\n%s", err, out)
	}
	img := readImage(t, filepath.Join(dir, "kubegate-image.tar"))
	if img.tag != "ghcr.io/kubegate/kubegate:v9.8.7" {
		t.Fatalf("tag = %q", img.tag)
	}
	c := img.config.Config
	if c.User != "65532:65532" || strings.Join(c.Entrypoint, " ") != "/kubegate" || img.config.OS != "linux" ||
		c.Labels["org.opencontainers.image.version"] != "v9.8.7" {
		t.Fatalf("image config = %+v", img.config)
	}
	bin, ok := img.files["kubegate"]
	if !ok || img.modes["kubegate"]&0o111 == 0 {
		t.Fatalf("no executable /kubegate in the image: %v", img.modes)
	}
	if _, ok := img.files["etc/ssl/certs/ca-certificates.crt"]; !ok {
		t.Fatal("no CA bundle for clusters with public certificates")
	}
	path := filepath.Join(dir, "kubegate-from-image")
	if err := os.WriteFile(path, bin, 0o700); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(path, "version").Output()
	if err != nil || strings.TrimSpace(string(out)) != "kubegate v9.8.7" {
		t.Fatalf("the image's binary says %q, %v", out, err)
	}
}

type image struct {
	tag    string
	config struct {
		OS     string `json:"os"`
		Config struct {
			User       string            `json:"User"`
			Entrypoint []string          `json:"Entrypoint"`
			Labels     map[string]string `json:"Labels"`
		} `json:"config"`
	}
	files map[string][]byte
	modes map[string]int64
}

// readImage reads a docker-archive tarball (what tarball.Write produces):
// manifest.json names the config and the (gzipped) layers.
func readImage(t *testing.T, path string) image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	entries := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		entries[h.Name] = b
	}
	var manifest []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	if err := json.Unmarshal(entries["manifest.json"], &manifest); err != nil || len(manifest) != 1 {
		t.Fatalf("manifest.json: %v", err)
	}
	img := image{tag: manifest[0].RepoTags[0], files: map[string][]byte{}, modes: map[string]int64{}}
	if err := json.Unmarshal(entries[manifest[0].Config], &img.config); err != nil {
		t.Fatal(err)
	}
	for _, l := range manifest[0].Layers {
		zr, err := gzip.NewReader(bytes.NewReader(entries[l]))
		if err != nil {
			t.Fatal(err)
		}
		lr := tar.NewReader(zr)
		for {
			h, err := lr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(lr)
			img.files[h.Name], img.modes[h.Name] = b, h.Mode
		}
	}
	return img
}
