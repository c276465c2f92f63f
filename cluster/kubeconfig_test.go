package cluster_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/cluster"
)

// kubeconfig returns a kubeconfig whose cluster and user carry the given extra
// YAML lines.
func kubeconfig(clusterLines, userLines string) string {
	return `apiVersion: v1
kind: Config
current-context: c
contexts:
- name: c
  context: {cluster: c, user: u}
clusters:
- name: c
  cluster:
    server: https://10.0.0.1:6443
` + clusterLines + `
users:
- name: u
  user:
` + userLines + "\n"
}

func TestUploadedKubeconfigsRefuseFileReferences(t *testing.T) {
	for field, kc := range map[string]string{
		"certificate-authority": kubeconfig("    certificate-authority: /var/lib/kubegate/encryption.key", "    token: t"),
		"client-certificate":    kubeconfig("", "    client-certificate: /etc/ssl/private/x.crt\n    client-key-data: a2V5"),
		"client-key":            kubeconfig("", "    client-certificate-data: Y2VydA==\n    client-key: /etc/ssl/private/x.key"),
		"tokenFile":             kubeconfig("", "    tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token"),
	} {
		_, err := cluster.FromUploadedKubeconfig("up", []byte(kc), "")
		if kubegate.ErrorCode(err) != kubegate.EInvalid || !strings.Contains(err.Error(), "field "+field+" names a file") {
			t.Errorf("%s: err = %v, want a 400 naming the field", field, err)
		}
	}
	c, err := cluster.FromUploadedKubeconfig("up", []byte(kubeconfig("    certificate-authority-data: Y2E=", "    client-certificate-data: Y2VydA==\n    client-key-data: a2V5")), "")
	if err != nil || string(c.CAData) != "ca" || string(c.Credentials.ClientCertData) != "cert" || string(c.Credentials.ClientKeyData) != "key" {
		t.Fatalf("inline kubeconfig: %+v, %v", c, err)
	}
}

func TestOperatorKubeconfigsReadFilesRelativeToThemselves(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{"ca.crt": "ca", "client.crt": "cert", "client.key": "key", "token": "secret-token"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "kubeconfig")
	kc := kubeconfig("    certificate-authority: ca.crt", "    client-certificate: client.crt\n    client-key: client.key\n    tokenFile: token")
	if err := os.WriteFile(path, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir()) // relative to the kubeconfig, not the working directory
	c, err := cluster.FromOperatorKubeconfig("op", path, "")
	if err != nil {
		t.Fatal(err)
	}
	if string(c.CAData) != "ca" || string(c.Credentials.ClientCertData) != "cert" || string(c.Credentials.ClientKeyData) != "key" || c.Credentials.BearerToken != "secret-token" {
		t.Fatalf("files not read: %+v", c)
	}
	if _, err := cluster.FromOperatorKubeconfig("op", filepath.Join(dir, "missing"), ""); kubegate.ErrorCode(err) != kubegate.EInvalid {
		t.Fatalf("a missing kubeconfig: %v", err)
	}
}
