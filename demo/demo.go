// Package demo runs `kubegate demo`: two real local clusters (pivot-cluster and
// member-1) seeded with sample workloads, and the gateway on embedded SQLite in front
// of them, until interrupted.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/kubegate/kubegate/internal/app"
	"github.com/kubegate/kubegate/internal/config"
	"github.com/kubegate/kubegate/kubeenv"
)

// ClusterNames are the demo's clusters, named as in the KubeCube guide.
var ClusterNames = [...]string{"pivot-cluster", "member-1"} //nolint:gochecknoglobals // constant names.

// Run starts the demo and blocks until ctx is done, then stops everything it
// started. cfg is the demo command's configuration; the gateway runs with one
// derived from it. getenv is the process environment.
func Run(ctx context.Context, cfg *config.Config, logger *slog.Logger, out io.Writer, getenv func(string) string) error {
	binDir := cfg.KubeBinDir
	if binDir == "" {
		binDir = kubeenv.DefaultBinDir(getenv)
	}
	if err := ensureBinaries(ctx, binDir, out, getenv); err != nil {
		return err
	}

	fmt.Fprintf(out, "Starting clusters %s (etcd + kube-apiserver %s)...\n", strings.Join(ClusterNames[:], ", "), kubeenv.Version)
	clusters, err := startClusters(ctx, binDir)
	defer func() {
		for _, c := range clusters {
			if c != nil {
				if err := c.Stop(); err != nil {
					logger.Warn("stopping demo cluster", "cluster", c.Name, "err", err)
				}
			}
		}
	}()
	if err != nil {
		return err
	}

	kubeconfigs := map[string]string{}
	for _, c := range clusters {
		cs, err := c.Clientset()
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "Seeding %s with sample workloads...\n", c.Name)
		if err := Seed(ctx, cs, c.Name); err != nil {
			return err
		}
		// Kubeconfigs go to the data dir, where users find them by a stable path.
		dataDir, err := filepath.Abs(cfg.DataDir)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return err
		}
		path := filepath.Join(dataDir, "kubeconfig-"+c.Name)
		data, err := os.ReadFile(c.Kubeconfig)
		if err != nil {
			return err
		}
		if err := os.WriteFile(path, data, 0o600); err != nil { //nolint:gosec // the operator chose --data-dir.
			return err
		}
		kubeconfigs[c.Name] = path
	}

	// The gateway's configuration is the demo's plus what the demo sets up: its
	// clusters and, unless given, TLS.
	gw := *cfg
	gw.Clusters = slices.Clone(cfg.Clusters)
	// kubectl sends credentials only over TLS, so the demo serves HTTPS with a CA
	// of its own, which generated kubeconfigs embed.
	if gw.TLSCertFile == "" {
		if err := demoTLS(&gw); err != nil {
			return err
		}
	}
	// The gateway reaches each cluster as an identity that may impersonate and,
	// for the list cache, list and watch what people list (never Secrets); the
	// gateway's admins are cluster-admin there.
	for _, c := range clusters {
		path, err := PrepareCluster(ctx, c, filepath.Dir(kubeconfigs[c.Name]))
		if err != nil {
			return err
		}
		if gw.ListCache {
			if err := GrantCacheReader(ctx, c); err != nil {
				return err
			}
		}
		gw.Clusters = append(gw.Clusters, config.ClusterFlag{Name: c.Name, Kubeconfig: path})
	}
	if err := gw.Validate(); err != nil {
		return err
	}
	a, err := app.New(ctx, &gw, logger)
	if err != nil {
		return err
	}
	// The listener is bound already, so the banner can be printed before serving
	// starts without interleaving with the server's log lines.
	password := cfg.BootstrapAdminPassword
	if password == "" {
		password = a.GeneratedAdminPassword()
	}
	if password == "" {
		password = "(the password set when " + cfg.DataDir + " was first used)"
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	if err := banner.Execute(out, map[string]any{
		"URL": a.URL(), "Password": password, "Clusters": clusters, "Kubeconfigs": kubeconfigs,
		"CA": gw.ExternalCAFile, "BinDir": filepath.Dir(exe), "Kubectl": filepath.Join(binDir, "kubectl"), "DataDir": filepath.Dir(kubeconfigs[clusters[0].Name]),
	}); err != nil {
		return err
	}
	err = a.Run(ctx)
	fmt.Fprintln(out, "Stopping the demo clusters...")
	return err
}

func startClusters(ctx context.Context, binDir string) ([]*kubeenv.Cluster, error) {
	clusters := make([]*kubeenv.Cluster, len(ClusterNames))
	errs := make([]error, len(ClusterNames))
	var wg sync.WaitGroup
	for i, name := range ClusterNames {
		wg.Add(1)
		go func() {
			defer wg.Done()
			clusters[i], errs[i] = kubeenv.Start(ctx, kubeenv.Options{Name: name, BinDir: binDir, ControllerManager: true})
		}()
	}
	wg.Wait()
	return clusters, errors.Join(errs...)
}

// ensureBinaries builds the Kubernetes binaries when missing, with the build's
// progress shown, using hack/kube/build.sh from the kubegate source tree.
func ensureBinaries(ctx context.Context, dir string, out io.Writer, getenv func(string) string) error {
	missing := kubeenv.MissingBinaries(dir)
	if len(missing) == 0 {
		return nil
	}
	script := "hack/kube/build.sh"
	if src := getenv("KUBEGATE_SOURCE_DIR"); src != "" {
		script = filepath.Join(src, script)
	}
	if _, err := os.Stat(script); err != nil {
		return fmt.Errorf("%s missing from %s and %s not found: run `make kube-bin` in a kubegate checkout (or set KUBEGATE_SOURCE_DIR)", strings.Join(missing, ", "), dir, script)
	}
	fmt.Fprintf(out, "Building %s %s into %s (first run only; kube-apiserver takes several minutes)...\n", strings.Join(missing, ", "), kubeenv.Version, dir)
	start := time.Now()
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Env = append(os.Environ(), "KUBEGATE_KUBE_BIN="+dir)
	cmd.Stdout = io.Discard
	cmd.Stderr = out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building the Kubernetes binaries: %w", err)
	}
	fmt.Fprintf(out, "Built in %s.\n", time.Since(start).Round(time.Second))
	return nil
}

//nolint:gochecknoglobals // parsed once, read-only.
var banner = template.Must(template.New("banner").Parse(`
kubegate demo is running. Press Ctrl-C to stop everything.

  Console:      {{.URL}}/   (log in, then the user menu at the top right → Access keys)
  Admin login:  admin / {{.Password}}
  Gateway:      {{.URL}}   (CA: {{.CA}})
  API docs:     {{.URL}}/swagger/index.html

  Try the OpenAPI flow (KubeCube dialect, DCE's token call, the proxy, kubectl):
    export CURL_CA_BUNDLE={{.CA}}
    TOKEN=$(curl -s -X POST {{.URL}}/api/v1/cube/login -H 'Content-Type: application/json' \
      -d '{"name":"admin","password":"{{.Password}}"}' | sed -E 's/.*"token":"([^"]+)".*/\1/')
    KEY=$(curl -s -X POST {{.URL}}/api/v1/cube/key/create -H "Authorization: Bearer $TOKEN")
    AK=$(echo "$KEY" | sed -E 's/.*"accessKey":"([^"]+)".*/\1/'); SK=$(echo "$KEY" | sed -E 's/.*"secretKey":"([^"]+)".*/\1/')
    curl -s "{{.URL}}/api/v1/cube/key/token?accessKey=$AK&secretKey=$SK"
    curl -s "{{.URL}}/apis/ghippo.io/v1alpha1/token?ak=$AK&sk=$SK&cycle=7"
    curl -s {{.URL}}/api/v1/cube/key -H "Authorization: Bearer $TOKEN"
    curl -s "{{.URL}}/api/v1/cube/proxy/clusters/pivot-cluster/apis/apps/v1/namespaces/demo/deployments?selector=metadata.labels.tier=frontend&sortName=spec.replicas&sortFunc=number&sortOrder=desc&pageSize=3" -H "Authorization: Bearer $TOKEN"
    curl -s {{.URL}}/api/v1/cube/clusters/member-1/kubeconfig -H "Authorization: Bearer $TOKEN" > {{.DataDir}}/gateway-member-1.yaml
    PATH={{.BinDir}}:$PATH KUBEGATE_ACCESS_KEY=$AK KUBEGATE_SECRET_KEY=$SK \
      {{.Kubectl}} --kubeconfig {{.DataDir}}/gateway-member-1.yaml get deployments -n demo -l tier=frontend

  Each cluster directly, as its admin:
{{range .Clusters}}
  Cluster {{.Name}}: {{.URL}}
    {{$.Kubectl}} --kubeconfig {{index $.Kubeconfigs .Name}} get deployments -n demo
    {{$.Kubectl}} --kubeconfig {{index $.Kubeconfigs .Name}} get deployments -A -l tier=frontend
{{end}}
`))

// demoTLS writes a CA and a serving certificate for 127.0.0.1 and localhost into
// the data directory and points gw at them.
func demoTLS(gw *config.Config) error {
	dir, err := filepath.Abs(gw.DataDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	ca, err := kubeenv.NewAuthority("kubegate-demo")
	if err != nil {
		return err
	}
	crt, key, err := ca.IssueServing("kubegate-demo")
	if err != nil {
		return err
	}
	files := map[string][]byte{"demo-ca.crt": ca.CertPEM(), "demo-tls.crt": crt, "demo-tls.key": key}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return err
		}
	}
	gw.TLSCertFile, gw.TLSKeyFile = filepath.Join(dir, "demo-tls.crt"), filepath.Join(dir, "demo-tls.key")
	gw.ExternalCAFile = filepath.Join(dir, "demo-ca.crt")
	return nil
}
