package proxy

import (
	"context"
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
