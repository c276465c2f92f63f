// Package writeload is the background writer the cache's tests, benchmarks and
// load runs put a cluster under: a Lease patched at a fixed rate — another
// resource, whose writes move the cluster's resource version without an event
// on the collections cached, as node heartbeats and leader elections do.
package writeload

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// Writer patches one Lease perSecond times a second until stopped.
type Writer struct {
	cancel context.CancelFunc
	done   chan struct{}
	writes atomic.Int64
	start  time.Time
}

// Start creates the Lease namespace/name (or takes it as it is) and patches it
// perSecond times a second, with up to inFlight patches at once: a tick that
// finds them all in flight makes no write (the rate reached shows it). A rate
// of 0 writes nothing.
func Start(cs kubernetes.Interface, namespace, name string, perSecond, inFlight int) (*Writer, error) {
	ctx, cancel := context.WithCancel(context.Background())
	w := &Writer{cancel: cancel, done: make(chan struct{}), start: time.Now()}
	if perSecond <= 0 {
		close(w.done)
		return w, nil
	}
	leases := cs.CoordinationV1().Leases(namespace)
	if _, err := leases.Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		cancel()
		return nil, err
	}
	go func() {
		defer close(w.done)
		var wg sync.WaitGroup
		defer wg.Wait()
		slots := make(chan struct{}, max(inFlight, 1))
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
				continue
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
	return w, nil
}

// Stop stops the writer and waits for the writes in flight; it says how many
// writes were made a second since Start (0 when none).
func (w *Writer) Stop() (perSecond float64) {
	w.cancel()
	<-w.done
	return float64(w.writes.Load()) / time.Since(w.start).Seconds()
}

// Writes is how many writes were made so far.
func (w *Writer) Writes() int64 { return w.writes.Load() }
