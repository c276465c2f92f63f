package proxy

import (
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/kubegate/kubegate/test/testhttp"
)

// A client-go program through the gateway speaks HTTP/2: twenty informers list
// and watch over one TCP connection (the gateway's count of open connections),
// and their watches deliver events.
func TestInformersShareOneHTTP2Connection(t *testing.T) {
	session := newAdmin(t, "informer")
	token, _, _ := scopedKey(t, session, nil)
	ca, err := os.ReadFile(shared.caFile)
	if err != nil {
		t.Fatal(err)
	}
	c := shared.clusters[0]
	cfg := &rest.Config{Host: proxyURL(c.Name, ""), BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAData: ca}}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Its own HTTP/1.1 client, so that reading the metric opens no connection the
	// informers would be charged with.
	metricsClient := http1Client(nil)
	open := func() float64 {
		return metricAtWith(t, metricsClient, shared.url, "kubegate_http_open_connections")
	}
	before := open()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := informers.NewSharedInformerFactory(cs, 0)
	var added = make(chan string, 16)
	informersOf := []cache.SharedIndexInformer{
		f.Core().V1().Pods().Informer(), f.Core().V1().Services().Informer(), f.Core().V1().Secrets().Informer(),
		f.Core().V1().ServiceAccounts().Informer(), f.Core().V1().Namespaces().Informer(), f.Core().V1().Nodes().Informer(),
		f.Core().V1().Endpoints().Informer(), f.Core().V1().Events().Informer(), f.Core().V1().PersistentVolumeClaims().Informer(),
		f.Core().V1().PersistentVolumes().Informer(), f.Core().V1().LimitRanges().Informer(), f.Core().V1().ResourceQuotas().Informer(),
		f.Core().V1().ReplicationControllers().Informer(), f.Apps().V1().Deployments().Informer(), f.Apps().V1().StatefulSets().Informer(),
		f.Apps().V1().DaemonSets().Informer(), f.Apps().V1().ReplicaSets().Informer(), f.Batch().V1().Jobs().Informer(),
		f.Batch().V1().CronJobs().Informer(),
	}
	cms := f.Core().V1().ConfigMaps().Informer()
	if _, err := cms.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: func(obj any) {
		if cm, ok := obj.(*corev1.ConfigMap); ok && strings.HasPrefix(cm.Name, "h2-") {
			added <- cm.Name
		}
	}}); err != nil {
		t.Fatal(err)
	}
	informersOf = append(informersOf, cms)
	f.Start(ctx.Done())
	for typ, ok := range f.WaitForCacheSync(ctx.Done()) {
		if !ok {
			t.Fatalf("the %v informer did not sync", typ)
		}
	}
	if len(informersOf) != 20 {
		t.Fatalf("%d informers", len(informersOf))
	}
	if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "h2-event"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cs.CoreV1().ConfigMaps("default").Delete(context.Background(), "h2-event", metav1.DeleteOptions{})
	})
	select {
	case name := <-added:
		if name != "h2-event" {
			t.Fatalf("the watch delivered %s", name)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the configmap informer's watch delivered no event")
	}
	// Started at once, the informers may dial a few connections before the first
	// says it speaks HTTP/2; the client closes the spares, and all run over one.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		n := open() - before
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("20 informers hold %v connections to the gateway open, want 1 (HTTP/2)", n)
		}
	}
}

// Cleartext is HTTP/1.1 unless the operator asks for h2c (a TLS-terminating
// proxy in front that speaks it): then a prior-knowledge HTTP/2 client is
// served, proxied lists included, and HTTP/1.1 clients still are.
func TestH2CIsOptIn(t *testing.T) {
	h2c := new(http.Protocols)
	h2c.SetUnencryptedHTTP2(true)
	h2cClient := &http.Client{Transport: &http.Transport{Protocols: h2c}, Timeout: 10 * time.Second}
	plain := &http.Client{Timeout: 10 * time.Second}
	start := func(extra ...string) string {
		p, u, err := startGateway(append(append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--log-format", "json", "--list-cache=false"}, extra...), shared.clusterArgs...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Kill)
		return u
	}

	off := start()
	if resp, err := h2cClient.Get(off + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatalf("without --h2c an h2c client was answered %s", resp.Proto)
	}

	on := start("--h2c")
	token := testhttp.Want(t, testhttp.Call(t, plain, "POST", on+"/api/v1/cube/login", "", map[string]string{"name": "admin", "password": adminPassword}), 200).JSON(t)["token"].(string)
	for name, c := range map[string]*http.Client{"h2c": h2cClient, "HTTP/1.1": plain} {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, on+"/api/v1/cube/proxy/clusters/"+shared.clusters[0].Name+"/api/v1/namespaces?pageSize=1", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		wantProto := map[string]int{"h2c": 2, "HTTP/1.1": 1}[name]
		if resp.StatusCode != 200 || resp.ProtoMajor != wantProto || !strings.Contains(string(body), `"total"`) {
			t.Fatalf("%s: %s %d: %s", name, resp.Proto, resp.StatusCode, body)
		}
	}
}
