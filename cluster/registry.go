// Package cluster keeps the registry of Kubernetes clusters behind the gateway: their
// connection details (credentials encrypted in the store), client-go transports
// built once per cluster, and their health.
package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"sort"
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

// Target is what the proxy needs to reach a cluster.
type Target struct {
	Name   string
	Server *url.URL
	// Transport authenticates as the gateway (HTTP/2 allowed); Upgrade speaks
	// HTTP/1.1 only, for exec, attach and port-forward upgrades.
	Transport http.RoundTripper
	Upgrade   http.RoundTripper
}

type entry struct {
	cluster kubegate.Cluster
	target  *Target
}

// Registry is the set of clusters, mirrored in memory and kept fresh from the
// store's change notifications.
type Registry struct {
	opts Options

	mu      sync.RWMutex
	entries map[string]*entry
}

// New returns an empty registry; Start loads it.
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
	return &Registry{opts: opts, entries: map[string]*entry{}}
}

// Load reads every cluster.
func (r *Registry) Load(ctx context.Context) error { return r.reload(ctx) }

// Handle follows cluster changes made by other replicas.
func (r *Registry) Handle(ctx context.Context, c kubegate.Change) {
	switch c.Kind {
	case kubegate.ChangeCluster:
		r.refresh(ctx, c.Key)
	case kubegate.ChangeResync:
		if err := r.reload(ctx); err != nil && ctx.Err() == nil {
			r.opts.Logger.Warn("reloading clusters failed", "err", err)
		}
	}
}

func (r *Registry) reload(ctx context.Context) error {
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
			delete(r.entries, name)
		}
	}
	r.mu.Unlock()
	return nil
}

func (r *Registry) refresh(ctx context.Context, name string) {
	c, err := r.opts.Store.GetCluster(ctx, name)
	switch {
	case err == nil:
		r.put(c)
	case kubegate.ErrorCode(err) == kubegate.ENotFound:
		r.mu.Lock()
		delete(r.entries, name)
		r.mu.Unlock()
	case ctx.Err() == nil:
		r.opts.Logger.Warn("refreshing a cluster failed", "cluster", name, "err", err)
	}
}

// put installs c, rebuilding its transports only when how to connect changed (a
// health update must not drop pooled connections).
func (r *Registry) put(c kubegate.Cluster) {
	r.mu.RLock()
	old := r.entries[c.Name]
	r.mu.RUnlock()
	if old != nil && sameConnection(old.cluster, c) {
		r.mu.Lock()
		r.entries[c.Name] = &entry{cluster: c, target: old.target}
		r.mu.Unlock()
		return
	}
	target, err := r.buildTarget(c)
	if err != nil {
		r.opts.Logger.Warn("cluster has an unusable configuration", "cluster", c.Name, "err", err)
	}
	r.mu.Lock()
	r.entries[c.Name] = &entry{cluster: c, target: target}
	r.mu.Unlock()
}

func sameConnection(a, b kubegate.Cluster) bool {
	return a.Server == b.Server && bytes.Equal(a.CAData, b.CAData) && a.TLSServerName == b.TLSServerName &&
		a.InsecureSkipTLSVerify == b.InsecureSkipTLSVerify && reflect.DeepEqual(a.Credentials, b.Credentials)
}

// restConfig is how the gateway itself connects to c.
func (r *Registry) restConfig(c kubegate.Cluster) *rest.Config {
	dialer := &net.Dialer{Timeout: r.opts.DialTimeout, KeepAlive: 30 * time.Second}
	return &rest.Config{
		Host: c.Server,
		TLSClientConfig: rest.TLSClientConfig{
			CAData: c.CAData, CertData: c.Credentials.ClientCertData, KeyData: c.Credentials.ClientKeyData,
			ServerName: c.TLSServerName, Insecure: c.InsecureSkipTLSVerify,
		},
		BearerToken:     c.Credentials.BearerToken,
		BearerTokenFile: c.Credentials.BearerTokenFile,
		Username:        c.Credentials.Username,
		Password:        c.Credentials.Password,
		Dial:            dialer.DialContext,
	}
}

func (r *Registry) buildTarget(c kubegate.Cluster) (*Target, error) {
	u, err := url.Parse(c.Server)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("server %q is not an http(s) URL", c.Server)
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
	return &Target{Name: c.Name, Server: u, Transport: rt, Upgrade: upRT}, nil
}

// Target returns how to reach the cluster called name, from memory.
func (r *Registry) Target(name string) (*Target, error) {
	r.mu.RLock()
	e, ok := r.entries[name]
	r.mu.RUnlock()
	if !ok {
		return nil, kubegate.Errorf(kubegate.ENotFound, "cluster %q not found", name)
	}
	if e.target == nil {
		return nil, kubegate.Errorf(kubegate.EUnavailable, "cluster %q has an unusable configuration; re-register it", name)
	}
	return e.target, nil
}

// Register adds a cluster, checks it once, and returns it.
func (r *Registry) Register(ctx context.Context, c kubegate.Cluster) (kubegate.Cluster, error) {
	if err := ValidateName(c.Name); err != nil {
		return c, err
	}
	if _, err := r.buildTarget(c); err != nil {
		return c, kubegate.Errorf(kubegate.EInvalid, "cluster %s: %v", c.Name, err)
	}
	now := r.opts.Now().UTC().Truncate(time.Microsecond)
	c.CreatedAt, c.UpdatedAt = now, now
	c.Health = kubegate.ClusterHealth{Status: Unknown}
	if err := r.opts.Store.CreateCluster(ctx, c); err != nil {
		return c, err
	}
	r.put(c)
	return r.Check(ctx, c.Name)
}

// Upsert registers c, or replaces the connection details of the cluster of that
// name (start-up flags re-register their clusters on every start).
func (r *Registry) Upsert(ctx context.Context, c kubegate.Cluster) (kubegate.Cluster, error) {
	got, err := r.Register(ctx, c)
	if kubegate.ErrorCode(err) != kubegate.EConflict {
		return got, err
	}
	_, err = r.opts.Store.UpdateCluster(ctx, c.Name, func(old kubegate.Cluster) (kubegate.Cluster, error) {
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
	r.refresh(ctx, c.Name)
	return r.Check(ctx, c.Name)
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
	delete(r.entries, name)
	r.mu.Unlock()
	return nil
}

// Check asks the cluster for /version with the gateway's credentials and records
// the outcome.
func (r *Registry) Check(ctx context.Context, name string) (kubegate.Cluster, error) {
	target, err := r.Target(name)
	if err != nil && kubegate.ErrorCode(err) == kubegate.ENotFound {
		return kubegate.Cluster{}, err
	}
	h := kubegate.ClusterHealth{Status: Unreachable, CheckedAt: r.opts.Now().UTC().Truncate(time.Microsecond)}
	if err != nil {
		h.Message = kubegate.ErrorMessage(err)
	} else {
		h = r.probe(ctx, target, h)
	}
	// An unchanged outcome is kept in memory only, and written at most every five
	// minutes: each write notifies every replica.
	if old, err := r.Get(name); err == nil && old.Health.Status == h.Status && old.Health.Version == h.Version &&
		old.Health.Message == h.Message && h.CheckedAt.Sub(old.Health.CheckedAt) < 5*time.Minute {
		return old, nil
	}
	c, err := r.opts.Store.UpdateCluster(ctx, name, func(c kubegate.Cluster) (kubegate.Cluster, error) {
		c.Health = h
		return c, nil
	})
	if err != nil {
		return c, err
	}
	r.put(c)
	return c, nil
}

func (r *Registry) probe(ctx context.Context, t *Target, h kubegate.ClusterHealth) kubegate.ClusterHealth {
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

// RunHealthChecks checks every cluster each HealthInterval until ctx is done.
func (r *Registry) RunHealthChecks(ctx context.Context) {
	if r.opts.HealthInterval <= 0 {
		return
	}
	t := time.NewTicker(r.opts.HealthInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, c := range r.List() {
			if _, err := r.Check(ctx, c.Name); err != nil && ctx.Err() == nil && !errors.Is(err, context.Canceled) {
				r.opts.Logger.Warn("cluster health check failed", "cluster", c.Name, "err", err)
			}
		}
	}
}
