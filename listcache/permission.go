package listcache

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"

	"golang.org/x/sync/singleflight"

	"github.com/kubegate/kubegate/cluster"
	"github.com/kubegate/kubegate/review"
)

// How long the gateway's own permission to cache a collection is trusted: a
// grant for a minute (a revoked one shows sooner anyway: the watch is refused
// and the collection gives up), a refusal for 15 s, so that an operator who
// grants the gateway read access sees the cache take over within that, without
// a restart.
const (
	permittedTTL = time.Minute
	refusedTTL   = 15 * time.Second
)

// permission says whether the gateway's own identity may list and watch a
// collection across the cluster (a SelfSubjectAccessReview for each verb, as
// the gateway), before the collection is started: a collection the gateway may
// not read is never listed only to be refused, and why it is not cached is
// known (Refusals) and logged once.
type permission struct {
	now    func() time.Time
	logger *slog.Logger

	mu      sync.Mutex
	answers map[permissionKey]permissionAnswer
	// asking makes the queries that find no answer at once share one review.
	asking singleflight.Group
}

// permissionKey is by cluster name: an answer about an older member of the
// cluster (registered again with other credentials) is asked again, rather than
// kept beside it.
type permissionKey struct{ cluster, path string }

type permissionAnswer struct {
	target  *cluster.Member // whose credentials were asked about
	allowed bool
	reason  string // why not, while refused
	until   time.Time
}

// Refusal is a collection the gateway may not cache, and why.
type Refusal struct {
	Cluster, Path, Reason string
}

// allows says whether the gateway may cache path of target; an error asking is
// a refusal for now (the cluster is unreachable, or does not answer reviews).
func (p *permission) allows(ctx context.Context, target *cluster.Member, path string) bool {
	// Secrets are never copied into the gateway's memory, whatever it may read.
	if group, resource, _ := groupResource(path); group == "" && resource == "secrets" {
		return false
	}
	k := permissionKey{target.Name, path}
	p.mu.Lock()
	a, known := p.answers[k]
	p.mu.Unlock()
	if known && a.target == target && p.now().Before(a.until) {
		return a.allowed
	}
	v, _, _ := p.asking.Do(k.cluster+"\x00"+k.path, func() (any, error) {
		// Not the first caller's context: its end must not fail the others.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		return p.ask(rctx, target, path), nil
	})
	return v.(bool) //nolint:forcetypeassert // the only type the flight returns
}

// ask reviews path of target, stores the answer and logs it if it changed:
// one line per change, not per query (the flight runs once for the queries
// waiting on it).
func (p *permission) ask(ctx context.Context, target *cluster.Member, path string) bool {
	reason, err := gatewayMay(ctx, target, path)
	now := p.now()
	ans := permissionAnswer{target: target, allowed: err == nil && reason == "", reason: reason, until: now.Add(permittedTTL)}
	if !ans.allowed {
		ans.until = now.Add(refusedTTL)
	}
	if err != nil {
		// The error names addresses and certificates: logged, not shown to users.
		ans.reason = "the gateway could not ask the cluster whether it may list and watch this resource"
		p.logger.Warn("asking whether the gateway may cache a collection failed", "cluster", target.Name, "collection", path, "err", err)
	}
	k := permissionKey{target.Name, path}
	p.mu.Lock()
	old, known := p.answers[k]
	if len(p.answers) >= maxServed {
		for k, a := range p.answers {
			if !now.Before(a.until) {
				delete(p.answers, k)
			}
		}
		if len(p.answers) >= maxServed {
			clear(p.answers)
		}
	}
	p.answers[k] = ans
	p.mu.Unlock()
	switch {
	case !ans.allowed && (!known || old.allowed || old.reason != ans.reason):
		p.logger.Warn("not caching a collection: lists of it are answered by the cluster", "cluster", target.Name, "collection", path, "reason", ans.reason)
	case ans.allowed && known && !old.allowed:
		p.logger.Info("the gateway may now cache a collection", "cluster", target.Name, "collection", path)
	}
	return ans.allowed
}

// release forgets the answers about m: its registration changed or ended.
func (p *permission) release(m *cluster.Member) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, a := range p.answers {
		if a.target == m {
			delete(p.answers, k)
		}
	}
}

// forget drops what is known of path on cluster: the next query asks again
// (the collection was refused while listing or watching).
func (p *permission) forget(cluster, path string) {
	p.mu.Lock()
	delete(p.answers, permissionKey{cluster, path})
	p.mu.Unlock()
}

// maxRechecks bounds the refusals asked again in one sweep.
const maxRechecks = 64

// recheck asks again, in the background, about refusals that expired with
// nobody querying them, so that a grant made in the cluster shows in the
// metrics and the console without a query; answers for clusters gone or
// registered again are dropped (current names the target registered now).
func (p *permission) recheck(ctx context.Context, current func(name string) *cluster.Member) {
	now := p.now()
	type due struct {
		target *cluster.Member
		path   string
	}
	var todo []due
	p.mu.Lock()
	for k, a := range p.answers {
		t := current(k.cluster)
		switch {
		case t == nil || t != a.target:
			delete(p.answers, k)
		case !a.allowed && !now.Before(a.until) && len(todo) < maxRechecks:
			todo = append(todo, due{t, k.path})
		}
	}
	p.mu.Unlock()
	for _, d := range todo {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		p.ask(rctx, d.target, d.path)
		cancel()
	}
}

// refusals lists the collections whose last answer was a refusal, by cluster
// and path.
func (p *permission) refusals() []Refusal {
	p.mu.Lock()
	var out []Refusal
	for k, a := range p.answers {
		if !a.allowed {
			out = append(out, Refusal{Cluster: k.cluster, Path: k.path, Reason: a.reason})
		}
	}
	p.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Cluster != out[j].Cluster {
			return out[i].Cluster < out[j].Cluster
		}
		return out[i].Path < out[j].Path
	})
	return out
}

// gatewayMay asks target, as the gateway, whether it may list and watch path's
// resource in every namespace: "" yes, else the reason it may not.
func gatewayMay(ctx context.Context, target *cluster.Member, path string) (reason string, err error) {
	group, resource, ok := groupResource(path)
	if !ok {
		return "", fmt.Errorf("not a collection path: %q", path)
	}
	var denied []string
	for _, verb := range []string{"list", "watch"} {
		d, err := review.AsGateway(ctx, target, authorizationv1.ResourceAttributes{Verb: verb, Group: group, Resource: resource})
		if err != nil {
			return "", err
		}
		if !d.Allowed {
			denied = append(denied, verb)
		}
	}
	if len(denied) == 0 {
		return "", nil
	}
	what := resource
	if group != "" {
		what += "." + group
	}
	return fmt.Sprintf("the gateway may not %s %s in cluster %s (grant its identity list and watch: docs/clusters.md)", strings.Join(denied, " or "), what, target.Name), nil
}

// groupResource splits a cluster-wide collection path: /api/v1/pods is the
// core group's pods, /apis/apps/v1/deployments apps' deployments.
func groupResource(path string) (group, resource string, ok bool) {
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	switch {
	case len(parts) == 3 && parts[0] == "api":
		return "", parts[2], true
	case len(parts) == 4 && parts[0] == "apis":
		return parts[1], parts[3], true
	}
	return "", "", false
}
