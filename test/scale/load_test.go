package scale

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubegate/kubegate/kubeproxy"
)

// loads are the background write rates every cache scenario runs under: none,
// and 10 and 100 writes a second to a Lease — another resource, whose writes
// move the cluster's resource version without an event on the Deployments
// (node heartbeats and leader elections do that in any real cluster).
var loads = []struct {
	name      string
	perSecond int
}{{"quiet", 0}, {"10wps", 10}, {"100wps", 100}}

// writer is a background writer at a fixed rate.
type writer struct {
	cancel context.CancelFunc
	done   chan struct{}
	writes atomic.Int64
	start  time.Time
}

// startWriter patches a Lease perSecond times a second until stopped; up to 8
// writes are in flight at once, so a slow apiserver answer does not lower the
// rate. A rate of 0 writes nothing.
func (bed *bed) startWriter(b *testing.B, perSecond int) *writer {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &writer{cancel: cancel, done: make(chan struct{}), start: time.Now()}
	if perSecond == 0 {
		close(w.done)
		return w
	}
	leases := bed.cs.CoordinationV1().Leases("kube-system")
	name := "scale-bench-writer"
	if _, err := leases.Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		b.Fatal(err)
	}
	go func() {
		defer close(w.done)
		var wg sync.WaitGroup
		defer wg.Wait()
		slots := make(chan struct{}, 8)
		tick := time.NewTicker(time.Second / time.Duration(perSecond))
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			select {
			case slots <- struct{}{}:
			default:
				continue // 8 in flight: this tick's write is not made (the rate shows it)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				patch := fmt.Sprintf(`{"spec":{"leaseDurationSeconds":%d}}`, i%1000+1)
				if _, err := leases.Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err == nil {
					w.writes.Add(1)
				}
			}()
		}
	}()
	return w
}

// stop stops the writer and reports the rate it reached.
func (w *writer) stop(b *testing.B) {
	w.cancel()
	<-w.done
	if n := w.writes.Load(); n > 0 {
		b.ReportMetric(float64(n)/time.Since(w.start).Seconds(), "writes/s")
	}
}

// underLoad runs a sub-benchmark with the background writer at perSecond.
func (bed *bed) underLoad(b *testing.B, name string, perSecond int, f func(b *testing.B)) {
	b.Run(name, func(b *testing.B) {
		w := bed.startWriter(b, perSecond)
		defer w.stop(b)
		f(b)
	})
}

// staleness measures what a user could see: a Deployment created straight on
// the cluster (not through the gateway), then listed through the cached gateway
// with a name filter until it shows; the time from the create's answer to the
// first list that holds it, p50 and p99. The probe is deleted again, so the
// collection keeps its size.
func (bed *bed) staleness(b *testing.B) {
	ctx := context.Background()
	var lat []time.Duration
	hits := 0
	i := 0
	for b.Loop() {
		i++
		d := deployment(0)
		d.Name = fmt.Sprintf("probe-%06d-%d", i, time.Now().UnixNano()%1_000_000)
		d.Namespace = nsName(0)
		d.Spec.Selector.MatchLabels = map[string]string{"app.kubernetes.io/name": d.Name}
		d.Spec.Template.Labels = map[string]string{"app": "web", "app.kubernetes.io/name": d.Name}
		d.Labels = map[string]string{"app": "probe"}
		deployments := bed.cs.AppsV1().Deployments(d.Namespace)
		if _, err := deployments.Create(ctx, d, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		acked := time.Now()
		u := bed.cached + "/api/v1/cube/proxy/clusters/" + bed.cluster.Name + "/apis/apps/v1/namespaces/" + d.Namespace +
			"/deployments?pageSize=1&selector=" + url.QueryEscape("metadata.name~"+d.Name)
		for {
			a := bed.get(b, u, bed.token)
			var p page
			if err := json.Unmarshal(a.Body, &p); err != nil {
				b.Fatal(err)
			}
			if p.Total > 0 {
				lat = append(lat, time.Since(acked))
				if a.Header.Get(kubeproxy.ListSourceHeader) == "cache" {
					hits++
				}
				break
			}
			if time.Since(acked) > time.Minute {
				b.Fatalf("%s did not show through the gateway within a minute", d.Name)
			}
		}
		b.StopTimer()
		if err := deployments.Delete(ctx, d.Name, metav1.DeleteOptions{}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	slices.Sort(lat)
	b.ReportMetric(ms(lat[len(lat)/2]), "staleness-p50-ms")
	b.ReportMetric(ms(lat[min(len(lat)-1, len(lat)*99/100)]), "staleness-p99-ms")
	b.ReportMetric(100*float64(hits)/float64(len(lat)), "from-cache-%")
}
