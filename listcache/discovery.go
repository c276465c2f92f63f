package listcache

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubegate/kubegate/cluster"
)

// How long discovery answers are trusted: what a cluster serves changes with a
// CRD or an upgrade, rarely; what it does not serve is asked again sooner. The
// table is bounded, since callers choose the group versions asked about.
const (
	servedTTL    = 5 * time.Minute
	notServedTTL = time.Minute
	maxServed    = 1024
)

// discovery says whether a cluster serves a collection, from its API discovery
// document for the group version, so that a collection is started only for a
// resource that exists: a made-up version (/api/v7/configmaps), which the
// caller's RBAC does not tell apart from a real one, must not take a slot.
type discovery struct {
	now func() time.Time

	mu    sync.Mutex
	known map[discoveryKey]discovered
}

type discoveryKey struct {
	target *cluster.Member
	gv     string // "/api/v1", "/apis/apps/v1"
}

type discovered struct {
	listable map[string]bool // resources with list and watch
	until    time.Time
}

// serves says whether the collection path (/api/v1/pods,
// /apis/apps/v1/deployments) is a resource of target that can be listed and
// watched. An unreachable cluster serves nothing, for now.
func (d *discovery) serves(ctx context.Context, target *cluster.Member, path string) bool {
	i := strings.LastIndexByte(path, '/')
	if i <= 0 {
		return false
	}
	k, resource := discoveryKey{target, path[:i]}, path[i+1:]
	now := d.now()
	d.mu.Lock()
	e, ok := d.known[k]
	d.mu.Unlock()
	if ok && now.Before(e.until) {
		return e.listable[resource]
	}
	listable, err := fetchDiscovery(ctx, target, k.gv)
	e = discovered{listable: listable, until: now.Add(servedTTL)}
	if err != nil || len(listable) == 0 {
		e.until = now.Add(notServedTTL)
	}
	d.mu.Lock()
	if len(d.known) >= maxServed {
		for k, old := range d.known {
			if !now.Before(old.until) || len(old.listable) == 0 {
				delete(d.known, k)
			}
		}
		if len(d.known) >= maxServed {
			clear(d.known)
		}
	}
	d.known[k] = e
	d.mu.Unlock()
	return e.listable[resource]
}

// release forgets what m served: its registration changed or ended.
func (d *discovery) release(m *cluster.Member) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for k := range d.known {
		if k.target == m {
			delete(d.known, k)
		}
	}
}

func fetchDiscovery(ctx context.Context, target *cluster.Member, gv string) (map[string]bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := send(ctx, target, http.MethodGet, gv, nil, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil, nil // not served (a 404), or not now: nothing to start
	}
	var list metav1.APIResourceList
	if err := json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(&list); err != nil {
		return nil, err
	}
	listable := map[string]bool{}
	for _, r := range list.APIResources {
		if !strings.Contains(r.Name, "/") && slices.Contains(r.Verbs, "list") && slices.Contains(r.Verbs, "watch") {
			listable[r.Name] = true
		}
	}
	return listable, nil
}
