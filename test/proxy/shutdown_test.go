package proxy

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/kubegate/kubegate/test/testhttp"
)

// SIGTERM while a slow proxied request is in flight: the request completes and
// kubegate exits 0.
func TestSIGTERMLetsASlowRequestFinish(t *testing.T) {
	entered := make(chan struct{}, 1)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/version" {
			_, _ = w.Write([]byte(`{"gitVersion":"v1.37.2-slow"}`))
			return
		}
		if r.URL.Path != "/api/v1/pods" {
			w.WriteHeader(http.StatusNotFound) // whatever else the gateway may ask
			_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","code":404}`))
			return
		}
		entered <- struct{}{}
		time.Sleep(1500 * time.Millisecond)
		_, _ = w.Write([]byte(`{"kind":"PodList","items":[]}`))
	}))
	defer slow.Close()
	kc := filepath.Join(t.TempDir(), "slow.kubeconfig")
	if err := os.WriteFile(kc, []byte("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: "+slow.URL+
		"\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\nusers:\n- name: u\n  user: {token: t}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd, url, err := startGateway("serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--log-format", "json", "--cluster", "slow="+kc)
	if err != nil {
		t.Fatal(err)
	}
	defer cmd.Kill()
	token := testhttp.Call(t, http.DefaultClient, "POST", url+"/api/v1/cube/login", "", map[string]string{"name": "admin", "password": adminPassword}).JSON(t)["token"].(string)

	type result struct {
		code int
		body string
		err  error
	}
	res := make(chan result, 1)
	go func() {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, url+"/api/v1/cube/proxy/clusters/slow/api/v1/pods", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			res <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		res <- result{resp.StatusCode, string(b), err}
	}()
	<-entered
	if err := cmd.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	r := <-res
	if r.err != nil || r.code != 200 || r.body != `{"kind":"PodList","items":[]}` {
		t.Fatalf("in-flight request after SIGTERM = %d %q %v", r.code, r.body, r.err)
	}
	if code, err := cmd.Wait(20 * time.Second); err != nil || code != 0 {
		t.Fatalf("exit after SIGTERM: code %d, %v; want 0", code, err)
	}
}
