package proxy

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubegate/kubegate/test/testhttp"
)

// A kpanda list reaches a cluster like a proxied call: the one request
// classification names its cluster for the metrics and for audit.
func TestKpandaListIsCountedAndAudited(t *testing.T) {
	token, _, _ := newUser(t, "kpanda-counted")
	c := shared.clusters[1].Name
	counter := `kubegate_proxy_requests_total{cluster="` + c + `",code="403"}`
	before := metricValue(t, counter)
	// The user may not list deployments there: the cluster's own 403 is counted.
	want(t, call(t, "GET", shared.url+"/apis/kpanda.io/v1alpha1/clusters/"+c+"/namespaces/default/deployments?pageSize=5", token, nil), 403)
	if after := metricValue(t, counter); after != before+1 {
		t.Fatalf("%s went from %v to %v", counter, before, after)
	}
	if m := string(want(t, call(t, "GET", shared.url+"/metrics", "", nil), 200).Body); !strings.Contains(m, `kubegate_http_requests_total{code="403",method="GET",route="adapter"}`) {
		t.Fatal("/metrics lacks the kpanda request under route=adapter")
	}

	admin := login(t, "admin", adminPassword)
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := want(t, call(t, "GET", shared.url+"/api/v1/cube/audit?user=kpanda-counted&cluster="+c, admin, nil), 200)
		var out struct {
			Items []struct {
				Cluster, Path string
				StatusCode    int
			} `json:"items"`
		}
		if err := json.Unmarshal(r.Body, &out); err != nil {
			t.Fatal(err)
		}
		if len(out.Items) == 1 {
			if e := out.Items[0]; e.Cluster != c || e.StatusCode != 403 || !strings.HasPrefix(e.Path, "/apis/kpanda.io/v1alpha1/clusters/"+c+"/") {
				t.Fatalf("audit event = %+v", e)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the kpanda list was not audited with its cluster: %s", r.Body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// metricValue reads one sample from /metrics, 0 when absent.
func metricValue(t *testing.T, series string) float64 {
	t.Helper()
	return metricAt(t, shared.url, series)
}

// metricAt reads one sample from the /metrics of the gateway at url, 0 when absent.
func metricAt(t *testing.T, url, series string) float64 {
	t.Helper()
	return metricAtWith(t, shared.client, url, series)
}

// metricAtWith is metricAt read with client.
func metricAtWith(t *testing.T, client *http.Client, url, series string) float64 {
	t.Helper()
	body := string(want(t, testhttp.Call(t, client, "GET", url+"/metrics", "", nil), 200).Body)
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			var f float64
			if err := json.Unmarshal([]byte(v), &f); err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	return 0
}

// A kubeconfig sent through the API cannot make the gateway read its own files;
// the operator's --cluster kubeconfig still may refer to files.
func TestKubeconfigFileReferences(t *testing.T) {
	admin := login(t, "admin", adminPassword)
	c := shared.clusters[0]
	cfg, err := clientcmd.LoadFromFile(c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	// Spread the admin kubeconfig's inline credentials over files.
	dir := t.TempDir()
	cl := cfg.Clusters[cfg.Contexts[cfg.CurrentContext].Cluster]
	user := cfg.AuthInfos[cfg.Contexts[cfg.CurrentContext].AuthInfo]
	write := func(name string, data []byte) string {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
		return name // relative: resolved against the kubeconfig's directory
	}
	cl.CertificateAuthority, cl.CertificateAuthorityData = write("ca.crt", cl.CertificateAuthorityData), nil
	user.ClientCertificate, user.ClientCertificateData = write("admin.crt", user.ClientCertificateData), nil
	user.ClientKey, user.ClientKeyData = write("admin.key", user.ClientKeyData), nil
	withFiles := filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, withFiles); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(withFiles)
	if err != nil {
		t.Fatal(err)
	}
	// Through the API, each kind of file reference alone is refused, by name.
	base := strings.NewReplacer("certificate-authority: ca.crt", "insecure-skip-tls-verify: true",
		"client-certificate: admin.crt", "token: t", "client-key: admin.key", "").Replace(string(data))
	for field, kc := range map[string]string{
		"certificate-authority": strings.Replace(base, "insecure-skip-tls-verify: true", "certificate-authority: /var/lib/kubegate/encryption.key", 1),
		"client-certificate":    strings.Replace(base, "token: t", "client-certificate: admin.crt\n    client-key-data: a2V5", 1),
		"client-key":            strings.Replace(base, "token: t", "client-certificate-data: Y2VydA==\n    client-key: admin.key", 1),
		"tokenFile":             strings.Replace(base, "token: t", "tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token", 1),
	} {
		r := want(t, call(t, "POST", shared.url+"/api/v1/cube/clusters", admin, map[string]any{"name": "from-files", "kubeconfig": kc}), 400)
		if msg := r.JSON(t)["message"].(string); !strings.Contains(msg, "field "+field+" names a file") {
			t.Fatalf("%s: message = %q\n%s", field, msg, kc)
		}
	}
	want(t, call(t, "GET", shared.url+"/api/v1/cube/clusters/from-files", admin, nil), 404)

	cmd, url, err := startGateway("serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--log-format", "json", "--cluster", "from-files="+withFiles)
	if err != nil {
		t.Fatal(err)
	}
	defer cmd.Kill()
	tok := testhttp.Call(t, http.DefaultClient, "POST", url+"/api/v1/cube/login", "", map[string]string{"name": "admin", "password": adminPassword}).JSON(t)["token"].(string)
	v := testhttp.Want(t, testhttp.Call(t, http.DefaultClient, "GET", url+"/api/v1/cube/proxy/clusters/from-files/version", tok, nil), 200).JSON(t)
	if !strings.HasPrefix(v["gitVersion"].(string), "v1.37") {
		t.Fatalf("version through a --cluster kubeconfig with file references = %v", v)
	}
}
