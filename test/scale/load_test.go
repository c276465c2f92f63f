package scale

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubegate/kubegate/kubeproxy"
	"github.com/kubegate/kubegate/test/writeload"
)

// loads are the background write rates every cache scenario runs under: none,
// and 10 and 100 writes a second to a Lease — another resource, whose writes
// move the cluster's resource version without an event on the Deployments
// (node heartbeats and leader elections do that in any real cluster).
var loads = []struct {
	name      string
	perSecond int
}{{"quiet", 0}, {"10wps", 10}, {"100wps", 100}}

// startWriter starts the background writer at perSecond (up to 8 writes in
// flight, so a slow apiserver answer does not lower the rate).
func (bed *bed) startWriter(b *testing.B, perSecond int) *writeload.Writer {
	b.Helper()
	w, err := writeload.Start(bed.cs, "kube-system", "scale-bench-writer", perSecond, 8)
	if err != nil {
		b.Fatal(err)
	}
	return w
}

// underLoad runs a sub-benchmark with the background writer at perSecond.
func (bed *bed) underLoad(b *testing.B, name string, perSecond int, f func(b *testing.B)) {
	b.Run(name, func(b *testing.B) {
		w := bed.startWriter(b, perSecond)
		f(b)
		if rate := w.Stop(); rate > 0 {
			b.ReportMetric(rate, "writes/s")
		}
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
