// Package cluster keeps the registry of Kubernetes clusters behind the gateway: their
// connection details (credentials encrypted in the store), client-go transports
// built once per cluster, and their health, which each replica checks and keeps in
// its own memory. It also reads kubeconfigs into registrations and writes the
// kubeconfigs that point kubectl at the gateway.
package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/rest"

	"github.com/kubegate/kubegate"
)

// Health statuses.
const (
	Ready        = "Ready"
	Unreachable  = "Unreachable"
	Unauthorized = "Unauthorized"
	Unknown      = "Unknown"
)

// Options configures a Registry.
type Options struct {
	Store       kubegate.Store
	DialTimeout time.Duration
	// HealthInterval is how often each cluster is checked; 0 disables checks.
	HealthInterval time.Duration
	Now            func() time.Time
	Logger         *slog.Logger
}

type entry struct {
	cluster kubegate.Cluster
	member  *Member  // nil: the configuration is unusable
	conn    [32]byte // the connection details member was built from (connection)
}

// A Part works per cluster (the list cache, access reviews, the grants
// reconciler). Engage is called once for each Member, as a cluster is
// registered and again, with a new Member, when its connection details change;
// m.Context() ends when that registration changes or ends, and the part then
// lets go of what it holds for m. Engage must not block.
type Part interface {
	Engage(m *Member)
}

// Registry is the set of clusters, mirrored in memory and kept fresh from the
// store's change notifications (it implements kubegate.Mirror).
type Registry struct {
	opts Options

	mu      sync.RWMutex
	entries map[string]*entry
	health  map[string]kubegate.ClusterHealth
	parts   []Part
}

// New returns an empty registry; Load fills it.
func New(opts Options) *Registry {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = 5 * time.Second
	}
	return &Registry{opts: opts, entries: map[string]*entry{}, health: map[string]kubegate.ClusterHealth{}}
}

// Apply follows cluster changes made by any replica.
func (r *Registry) Apply(ctx context.Context, c kubegate.Change) {
	switch c.Kind {
	case kubegate.ChangeCluster:
		r.refresh(ctx, c.Key)
	case kubegate.ChangeResync:
		if err := r.Load(ctx); err != nil && ctx.Err() == nil {
			r.opts.Logger.Warn("reloading clusters failed", "err", err)
		}
	}
}

// Load reads every cluster.
func (r *Registry) Load(ctx context.Context) error {
	clusters, err := r.opts.Store.ListClusters(ctx)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, c := range clusters {
		seen[c.Name] = true
		r.put(c)
	}
	r.mu.Lock()
	for name := range r.entries {
		if !seen[name] {
			r.remove(name)
		}
	}
	r.mu.Unlock()
	return nil
}

// remove forgets the cluster called name and ends its member; the caller holds
// mu.
func (r *Registry) remove(name string) {
	if e, ok := r.entries[name]; ok && e.member != nil {
		e.member.end()
	}
	delete(r.entries, name)
	delete(r.health, name)
}

// Engage engages p with every member now and with every member to come.
func (r *Registry) Engage(p Part) {
	r.mu.Lock()
	r.parts = append(r.parts, p)
	members := make([]*Member, 0, len(r.entries))
	for _, e := range r.entries {
		if e.member != nil {
			members = append(members, e.member)
		}
	}
	r.mu.Unlock()
	for _, m := range members {
		p.Engage(m)
	}
}

func (r *Registry) refresh(ctx context.Context, name string) {
	c, err := r.opts.Store.GetCluster(ctx, name)
	switch {
	case err == nil:
		r.put(c)
	case kubegate.ErrorCode(err) == kubegate.ENotFound:
		r.mu.Lock()
		r.remove(name)
		r.mu.Unlock()
	case ctx.Err() == nil:
		r.opts.Logger.Warn("refreshing a cluster failed", "cluster", name, "err", err)
	}
}

// put installs c. A cluster whose connection details are as before keeps its
// member (a reload, a change of description, another replica's notice of the
// same write): nothing per cluster restarts. Otherwise c gets a new member with
// transports of its own, the old member's context ends, and every part is
// engaged with the new one.
func (r *Registry) put(c kubegate.Cluster) {
	conn := connection(c)
	r.mu.Lock()
	if e, ok := r.entries[c.Name]; ok && e.conn == conn && e.member != nil {
		e.cluster = c
		r.mu.Unlock()
		return
	}
	r.mu.Unlock()
	member, err := r.buildMember(c)
	if err != nil {
		r.opts.Logger.Warn("cluster has an unusable configuration", "cluster", c.Name, "err", err)
	}
	r.mu.Lock()
	if e, ok := r.entries[c.Name]; ok {
		if e.conn == conn && e.member != nil { // installed meanwhile
			e.cluster = c
			r.mu.Unlock()
			member.end()
			return
		}
		if e.member != nil {
			e.member.end()
		}
	}
	r.entries[c.Name] = &entry{cluster: c, member: member, conn: conn}
	parts := slices.Clone(r.parts)
	r.mu.Unlock()
	if member != nil {
		for _, p := range parts {
			p.Engage(member)
		}
	}
}

// connection digests what a member is built from: where the cluster is and how
// the gateway authenticates to it.
func connection(c kubegate.Cluster) [32]byte {
	b, _ := json.Marshal(struct {
		Server, TLSServerName string
		CAData                []byte
		Insecure              bool
		Credentials           kubegate.ClusterCredentials
	}{c.Server, c.TLSServerName, c.CAData, c.InsecureSkipTLSVerify, c.Credentials})
	return sha256.Sum256(b)
}

// restConfig is how the gateway itself connects to c.
func (r *Registry) restConfig(c kubegate.Cluster) *rest.Config {
	dialer := &net.Dialer{Timeout: r.opts.DialTimeout, KeepAlive: 30 * time.Second}
	cfg := &rest.Config{
		Host: c.Server,
		TLSClientConfig: rest.TLSClientConfig{
			CAData: c.CAData, CertData: c.Credentials.ClientCertData, KeyData: c.Credentials.ClientKeyData,
			ServerName: c.TLSServerName, Insecure: c.InsecureSkipTLSVerify,
		},
		BearerToken: c.Credentials.BearerToken,
		Username:    c.Credentials.Username,
		Password:    c.Credentials.Password,
		Dial:        dialer.DialContext,
	}
	if path := c.Credentials.BearerTokenFile; path != "" {
		// The gateway follows the file's rotation itself (tokenFile), not
		// client-go's minute-long cache of it.
		cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
			return &tokenFile{path: path, next: rt, now: r.opts.Now}
		}
	}
	return cfg
}

func (r *Registry) buildMember(c kubegate.Cluster) (*Member, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	u, err := url.Parse(c.Server)
	if err != nil {
		return nil, err
	}
	cfg := r.restConfig(c)
	rt, err := rest.TransportFor(cfg)
	if err != nil {
		return nil, err
	}
	up := rest.CopyConfig(cfg)
	up.NextProtos = []string{"http/1.1"} // connection upgrades need HTTP/1.1
	upRT, err := rest.TransportFor(up)
	if err != nil {
		return nil, err
	}
	return NewMember(context.Background(), c.Name, u, rt, upRT), nil
}

// Member returns the cluster called name as per-cluster parts reach it, from
// memory.
func (r *Registry) Member(name string) (*Member, error) {
	r.mu.RLock()
	e, ok := r.entries[name]
	r.mu.RUnlock()
	if !ok {
		return nil, kubegate.Errorf(kubegate.ENotFound, "cluster %q not found", name)
	}
	if e.member == nil {
		return nil, kubegate.Errorf(kubegate.EUnavailable, "cluster %q has an unusable configuration; re-register it", name)
	}
	return e.member, nil
}

// Register adds a cluster, checks its health once, and returns it.
func (r *Registry) Register(ctx context.Context, c kubegate.Cluster) (kubegate.Cluster, error) {
	if err := c.Validate(); err != nil {
		return c, err
	}
	m, err := r.buildMember(c)
	if err != nil {
		return c, kubegate.Errorf(kubegate.EInvalid, "cluster %s: %v", c.Name, err)
	}
	m.end() // a check only: put builds the one that is used
	now := r.opts.Now().UTC().Truncate(time.Microsecond)
	c.CreatedAt, c.UpdatedAt = now, now
	if err := r.opts.Store.CreateCluster(ctx, c); err != nil {
		return c, err
	}
	r.put(c)
	if strings.HasPrefix(c.Server, "http://") {
		r.opts.Logger.Warn("cluster is reached over plain HTTP: the gateway's credentials for it cross the network in clear", "cluster", c.Name, "server", c.Server)
	}
	r.Check(ctx, c.Name)
	return c, nil
}

// Upsert registers c, or replaces the connection details of the cluster of that
// name (start-up flags re-register their clusters on every start).
func (r *Registry) Upsert(ctx context.Context, c kubegate.Cluster) (kubegate.Cluster, error) {
	got, err := r.Register(ctx, c)
	if kubegate.ErrorCode(err) != kubegate.EConflict {
		return got, err
	}
	got, err = r.opts.Store.UpdateCluster(ctx, c.Name, func(old kubegate.Cluster) (kubegate.Cluster, error) {
		old.Server, old.CAData, old.TLSServerName, old.InsecureSkipTLSVerify = c.Server, c.CAData, c.TLSServerName, c.InsecureSkipTLSVerify
		old.Credentials = c.Credentials
		if c.Description != "" {
			old.Description = c.Description
		}
		old.UpdatedAt = r.opts.Now().UTC().Truncate(time.Microsecond)
		return old, nil
	})
	if err != nil {
		return c, err
	}
	r.put(got)
	r.Check(ctx, c.Name)
	return got, nil
}

// List returns every cluster by name, from memory.
func (r *Registry) List() []kubegate.Cluster {
	r.mu.RLock()
	out := make([]kubegate.Cluster, 0, len(r.entries))
	for _, e := range r.entries {
		out = append(out, e.cluster)
	}
	r.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Get returns the cluster called name, from memory.
func (r *Registry) Get(name string) (kubegate.Cluster, error) {
	r.mu.RLock()
	e, ok := r.entries[name]
	r.mu.RUnlock()
	if !ok {
		return kubegate.Cluster{}, kubegate.Errorf(kubegate.ENotFound, "cluster %q not found", name)
	}
	return e.cluster, nil
}

// Delete removes the cluster called name.
func (r *Registry) Delete(ctx context.Context, name string) error {
	if err := r.opts.Store.DeleteCluster(ctx, name); err != nil {
		return err
	}
	r.mu.Lock()
	r.remove(name)
	r.mu.Unlock()
	return nil
}

// Has says whether a cluster called name is registered.
func (r *Registry) Has(name string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, ok := r.entries[name]
	return ok
}

// Health is this replica's last check of the cluster called name; Unknown before
// the first.
func (r *Registry) Health(name string) kubegate.ClusterHealth {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if h, ok := r.health[name]; ok {
		return h
	}
	return kubegate.ClusterHealth{Status: Unknown}
}

// Check asks the cluster for /version with the gateway's credentials and keeps the
// outcome in memory: health is this replica's view, never written to the store.
func (r *Registry) Check(ctx context.Context, name string) kubegate.ClusterHealth {
	target, err := r.Member(name)
	if kubegate.ErrorCode(err) == kubegate.ENotFound {
		return kubegate.ClusterHealth{Status: Unknown, Message: kubegate.ErrorMessage(err)}
	}
	h := kubegate.ClusterHealth{Status: Unreachable, CheckedAt: r.opts.Now().UTC().Truncate(time.Microsecond)}
	if err != nil {
		h.Message = kubegate.ErrorMessage(err)
	} else {
		h = r.probe(ctx, target, h)
	}
	r.mu.Lock()
	if _, ok := r.entries[name]; ok { // not deleted meanwhile
		r.health[name] = h
	}
	r.mu.Unlock()
	return h
}

func (r *Registry) probe(ctx context.Context, t *Member, h kubegate.ClusterHealth) kubegate.ClusterHealth {
	ctx, cancel := context.WithTimeout(ctx, r.opts.DialTimeout+5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.Server.JoinPath("/version").String(), nil)
	if err != nil {
		h.Message = err.Error()
		return h
	}
	resp, err := t.Transport.RoundTrip(req)
	if err != nil {
		h.Message = err.Error()
		return h
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		h.Status, h.Message = Unauthorized, fmt.Sprintf("the cluster refused the gateway's credentials (%d)", resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		h.Message = fmt.Sprintf("GET /version answered %d", resp.StatusCode)
	default:
		var v struct {
			GitVersion string `json:"gitVersion"`
		}
		if err := json.Unmarshal(body, &v); err != nil {
			h.Message = "GET /version did not answer a version"
			return h
		}
		h.Status, h.Version, h.Message = Ready, v.GitVersion, ""
	}
	return h
}

// RunHealthChecks checks every cluster now and then each HealthInterval, until ctx
// is done.
func (r *Registry) RunHealthChecks(ctx context.Context) {
	if r.opts.HealthInterval <= 0 {
		return
	}
	t := time.NewTicker(r.opts.HealthInterval)
	defer t.Stop()
	for {
		for _, c := range r.List() {
			before := r.Health(c.Name)
			if h := r.Check(ctx, c.Name); h.Status != before.Status && ctx.Err() == nil {
				r.opts.Logger.Info("cluster health changed", "cluster", c.Name, "from", before.Status, "to", h.Status, "message", h.Message)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
