package cluster

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kubegate/kubegate/request"
)

// Member is one registered cluster as every per-cluster part receives it: how to
// reach it as the gateway (its transports and a typed client), how to reach it as
// the caller a request acts for, and a context that lives as long as this
// registration. The registry hands out the same Member until the cluster's
// connection details change or it is removed; then the Member's context is
// cancelled and a changed cluster gets a new Member. Parts key what they hold for
// a cluster by its Member and let go of it when the context ends.
type Member struct {
	Name   string
	Server *url.URL
	// Transport authenticates as the gateway (HTTP/2 allowed); Upgrade speaks
	// HTTP/1.1 only, for exec, attach and port-forward upgrades.
	Transport http.RoundTripper
	Upgrade   http.RoundTripper

	ctx    context.Context
	cancel context.CancelFunc

	clientOnce sync.Once
	client     *kubernetes.Clientset
	callerOnce sync.Once
	caller     *kubernetes.Clientset
	clientErr  error
}

// NewMember returns a member reached at server through transport (as the
// gateway) and upgrade (HTTP/1.1, for connection upgrades; transport when nil),
// whose context ends when parent does or the registration ends.
func NewMember(parent context.Context, name string, server *url.URL, transport, upgrade http.RoundTripper) *Member {
	if upgrade == nil {
		upgrade = transport
	}
	ctx, cancel := context.WithCancel(parent)
	return &Member{Name: name, Server: server, Transport: transport, Upgrade: upgrade, ctx: ctx, cancel: cancel}
}

// Context ends when this registration of the cluster changes or ends.
func (m *Member) Context() context.Context {
	if m.ctx == nil {
		return context.Background()
	}
	return m.ctx
}

// end cancels the member's context: its registration changed or ended.
func (m *Member) end() {
	if m.cancel != nil {
		m.cancel()
	}
}

// Client is a typed client of the cluster as the gateway itself.
func (m *Member) Client() (kubernetes.Interface, error) {
	m.clientOnce.Do(func() { m.client, m.clientErr = m.clientset(m.Transport) })
	return m.client, m.clientErr
}

// CallerClient is a typed client of the cluster as the caller each request's
// context carries (request.Identity), through Caller: a request without an
// identity fails before it leaves the gateway.
func (m *Member) CallerClient() (kubernetes.Interface, error) {
	m.callerOnce.Do(func() {
		var err error
		if m.caller, err = m.clientset(m.Caller()); err != nil {
			m.clientErr = err
		}
	})
	if m.caller == nil {
		return nil, m.clientErr
	}
	return m.caller, nil
}

func (m *Member) clientset(rt http.RoundTripper) (*kubernetes.Clientset, error) {
	if m.Server == nil {
		return nil, errors.New("cluster: a member without a server")
	}
	cfg := &rest.Config{
		Host: m.Server.String(),
		QPS:  -1, // the gateway bounds its own work; no client-side throttle
		// JSON, as every other request the gateway makes: what it sends can be
		// read in logs, audit and tests.
		ContentConfig: rest.ContentConfig{ContentType: "application/json", AcceptContentTypes: "application/json"},
		UserAgent:     "kubegate",
	}
	return kubernetes.NewForConfigAndClient(cfg, &http.Client{Transport: rt})
}

// Caller returns a round tripper that sends each request to the cluster as the
// caller its context carries: every client header that carries a credential or
// claims an identity is removed, then the gateway's credential and the caller's
// impersonation headers are set. A request without an identity fails closed.
func (m *Member) Caller() http.RoundTripper { return callerTransport{next: m.Transport} }

// UpgradeCaller is Caller over HTTP/1.1, for connection upgrades.
func (m *Member) UpgradeCaller() http.RoundTripper { return callerTransport{next: m.Upgrade} }

// ErrNoIdentity is a request sent as a caller without one.
var ErrNoIdentity = errors.New("cluster: a request as a caller without an identity")

type callerTransport struct{ next http.RoundTripper }

func (t callerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	id := request.Identity(req.Context())
	if id == nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, ErrNoIdentity // fail closed
	}
	// Identity is set here, last, after every client header that could claim one
	// is gone: whatever happened before, the cluster sees only the caller.
	req = req.Clone(req.Context())
	StripIdentity(req.Header)
	req.Header.Set("Impersonate-User", id.Name)
	for _, g := range id.Groups {
		req.Header.Add("Impersonate-Group", g)
	}
	return t.next.RoundTrip(req)
}

func normalHeader(name string) string {
	return strings.ReplaceAll(strings.ToLower(name), "_", "-")
}

// ClaimsImpersonation says a header asks to act as someone: the proxy refuses
// it, never drops it silently, so a client learns the gateway acts only as the
// authenticated user.
func ClaimsImpersonation(name string) bool {
	return strings.HasPrefix(normalHeader(name), "impersonate-")
}

// IdentityHeader says a header carries a credential, or an identity that the
// authenticating proxies found in front of clusters trust (front-proxy X-Remote-*,
// oauth2-proxy's X-Forwarded-User/X-Auth-Request-*, Grafana-style X-WebAuth-*).
func IdentityHeader(name string) bool {
	n := normalHeader(name)
	switch n {
	case "authorization", "proxy-authorization", "cookie", "x-csrf-token", "remote-user",
		"x-forwarded-user", "x-forwarded-email", "x-forwarded-groups", "x-forwarded-preferred-username", "x-forwarded-access-token":
		return true
	}
	for _, prefix := range []string{"impersonate-", "x-remote-", "x-auth-request-", "x-webauth-"} {
		if strings.HasPrefix(n, prefix) {
			return true
		}
	}
	return false
}

// StripIdentity removes client credentials and identity claims from h.
func StripIdentity(h http.Header) {
	for name := range h {
		if IdentityHeader(name) {
			delete(h, name)
		}
	}
}
