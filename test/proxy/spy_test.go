package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"k8s.io/client-go/rest"
	spdytransport "k8s.io/client-go/transport/spdy"
	"k8s.io/streaming/pkg/httpstream"
	"k8s.io/streaming/pkg/httpstream/spdy"

	"github.com/kubegate/kubegate/test/testhttp"
)

// spy is an upstream "cluster" that records what reaches it and speaks the
// streaming protocols a kubelet would (echoing data), which the test bed's
// apiserver cannot without a node.
type spy struct {
	srv  *httptest.Server
	next chan struct{} // releases the second line of a followed log
	mu   sync.Mutex
	got  []*http.Request
}

func (s *spy) serve(w http.ResponseWriter, r *http.Request) {
	// The gateway's own health probe (GET /version as itself, at any time after
	// a registration) is not what a test looks for: only requests made for a
	// caller (impersonating) are recorded.
	if r.URL.Path != "/version" || r.Header.Get("Impersonate-User") != "" {
		s.mu.Lock()
		s.got = append(s.got, r.Clone(context.Background()))
		s.mu.Unlock()
	}
	switch {
	case strings.HasSuffix(r.URL.Path, "/log") && r.URL.Query().Get("follow") == "true":
		// Like the kubelet: a line now, the next one only when the test says so.
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("line 1\n"))
		w.(http.Flusher).Flush()
		select {
		case <-s.next:
		case <-r.Context().Done():
			return
		}
		_, _ = w.Write([]byte("line 2\n"))
	case r.URL.Path == "/version":
		_, _ = w.Write([]byte(`{"gitVersion":"v1.37.2-spy"}`))
	case strings.HasSuffix(r.URL.Path, "/services/web/proxy/"):
		// A tenant's page: script that would act as whoever views it.
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Set-Cookie", "kubegate_session=planted; Path=/")
		w.Header().Set("Content-Security-Policy", "script-src *")
		_, _ = w.Write([]byte(`<script>fetch("/api/v1/cube/key/create",{method:"POST"})</script>`))
	case websocket.IsWebSocketUpgrade(r):
		up := websocket.Upgrader{Subprotocols: []string{"v5.channel.k8s.io"}}
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		for {
			typ, msg, err := conn.ReadMessage()
			if err != nil {
				return
			}
			if err := conn.WriteMessage(typ, msg); err != nil {
				return
			}
		}
	case strings.EqualFold(r.Header.Get("Upgrade"), "SPDY/3.1"):
		// Accept the protocol the client asked for first and echo every stream.
		protocol := strings.TrimSpace(strings.Split(r.Header.Get(httpstream.HeaderProtocolVersion), ",")[0])
		w.Header().Set(httpstream.HeaderProtocolVersion, protocol)
		conn := spdy.NewResponseUpgrader().UpgradeResponse(w, r, func(st httpstream.Stream, _ <-chan struct{}) error {
			go func() { _, _ = io.Copy(st, st); _ = st.Close() }()
			return nil
		})
		if conn != nil {
			<-conn.CloseChan()
		}
	default:
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"spy": "yes", "path": r.URL.Path})
	}
}

func (s *spy) requests() []*http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*http.Request(nil), s.got...)
}

func (s *spy) reset() {
	s.mu.Lock()
	s.got = nil
	s.mu.Unlock()
}

// registerSpy registers the spy as a cluster whose credential is a static token.
func registerSpy(t *testing.T, name string, s *spy) {
	t.Helper()
	admin := login(t, "admin", adminPassword)
	kc := "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: " + s.srv.URL + "\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\nusers:\n- name: u\n  user: {token: gateway-token-for-" + name + "}\n"
	r := call(t, "POST", shared.url+"/api/v1/cube/clusters", admin, map[string]string{"name": name, "kubeconfig": kc})
	if r.Code != 201 && r.Code != 409 {
		t.Fatalf("registering %s: %d %s", name, r.Code, r.Body)
	}
	if r.Code == 201 && !strings.Contains(r.Header.Get("Warning"), "plain HTTP") {
		t.Fatalf("registering %s over http:// gave no warning: %v", name, r.Header)
	}
}

// spies are shared by the package's tests, made once.
var spies struct {
	once sync.Once
	a, b *spy
}

func spyPair(t *testing.T) (*spy, *spy) {
	spies.once.Do(func() {
		spies.a, spies.b = newSpyShared(), newSpyShared()
	})
	registerSpy(t, "spy-a", spies.a)
	registerSpy(t, "spy-b", spies.b)
	spies.a.reset()
	spies.b.reset()
	return spies.a, spies.b
}

// newSpyShared makes a spy that lives until the test binary exits.
func newSpyShared() *spy {
	s := &spy{next: make(chan struct{}, 1)}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// A client claiming an identity is refused, and the cluster sees only the gateway's
// credential and the caller's impersonation headers.
func TestClientIdentityHeadersNeverReachTheCluster(t *testing.T) {
	a, _ := spyPair(t)
	token, _, _ := newUser(t, "mallory")
	for _, h := range []string{"Impersonate-User", "Impersonate-Group", "Impersonate-Uid", "impersonate-extra-scopes", "IMPERSONATE-USER", "Impersonate_User", "impersonate_group"} {
		r := want(t, call(t, "GET", proxyURL("spy-a", "/api/v1/pods"), token, nil, h, "admin"), 403)
		if !strings.Contains(string(r.Body), `"kind":"Status"`) {
			t.Fatalf("%s: not a Status: %s", h, r.Body)
		}
	}
	if n := len(a.requests()); n != 0 {
		t.Fatalf("refused requests reached the cluster: %d", n)
	}

	// HTTP/1.1: a Connection header (naming X-Custom hop-by-hop) exists only there.
	want(t, testhttp.Call(t, http1Client(nil), "GET", proxyURL("spy-a", "/api/v1/pods"), token, nil,
		"Cookie", "kubegate_session=stolen", "Proxy-Authorization", "Basic eDp5", "X-Remote-User", "admin", "X-Remote-Group", "system:masters",
		"X_Remote_Extra_Scopes", "all", "X-Forwarded-User", "admin", "X-Forwarded-Groups", "system:masters", "X-Forwarded-Email", "a@b",
		"X-Auth-Request-User", "admin", "X-Auth-Request-Groups", "system:masters", "X-WebAuth-User", "admin", "Remote-User", "admin",
		"Connection", "X-Custom", "X-Custom", "v"), 200)
	got := a.requests()
	if len(got) != 1 {
		t.Fatalf("spy got %d requests", len(got))
	}
	h := got[0].Header
	if h.Get("Authorization") != "Bearer gateway-token-for-spy-a" {
		t.Fatalf("Authorization at the cluster = %q, want the gateway's own", h.Get("Authorization"))
	}
	if h.Get("Impersonate-User") != "mallory" || strings.Join(h.Values("Impersonate-Group"), ",") != "kubegate:users" {
		t.Fatalf("impersonation at the cluster = %q %q", h.Get("Impersonate-User"), h.Values("Impersonate-Group"))
	}
	for _, name := range []string{"Cookie", "Proxy-Authorization", "X-Remote-User", "X-Remote-Group", "X-Custom", "X-Forwarded-User",
		"X-Forwarded-Groups", "X-Forwarded-Email", "X-Auth-Request-User", "X-Auth-Request-Groups", "X-Webauth-User", "Remote-User"} {
		if v := h.Get(name); v != "" {
			t.Fatalf("header %s reached the cluster: %q", name, v)
		}
	}
	for name := range h {
		if n := strings.ToLower(name); strings.Contains(n, "remote") || strings.Contains(n, "impersonate_") {
			t.Fatalf("header %s reached the cluster", name)
		}
	}
}

// Path tricks are refused or stay inside the named cluster's Kubernetes API.
func TestPathTraversalNeverLeavesTheCluster(t *testing.T) {
	a, b := spyPair(t)
	token := login(t, "admin", adminPassword)
	base := "/api/v1/cube/proxy/clusters/spy-a"
	variants := []string{
		base + "/../spy-b/api/v1/pods",
		base + "/%2e%2e/spy-b/api/v1/pods",
		base + "/%2E%2E/spy-b/api/v1/pods",
		base + "/api/../../spy-b/api/v1/pods",
		base + "/api%2f..%2f..%2fspy-b/api",
		base + "/api%2F..%2F..%2Fspy-b/api",
		base + "/api/v1/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/api/v1/cube/users",
		base + "/apis/../../../../api/v1/cube/users",
		base + "//api/v1/pods",
		base + "/api//v1/pods",
		base + "/./api/v1/pods",
		base + "/api/%2e/v1/pods",
		base + "/api%5c..%5c..%5cspy-b",
		base + "/metrics",
		base + "/apifoo/x",
		base + "/debug/pprof/",
		base + "/logs/",
		base,
		"/api/v1/cube/proxy/clusters/spy-a%2f..%2fspy-b/api",
		"/api/v1/cube/proxy/clusters/../clusters/spy-b/api",
		"/api/v1/cube/proxy/clusters/%2e%2e/clusters/spy-b/api",
	}
	u, _ := url.Parse(shared.url)
	for _, raw := range variants {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, shared.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.URL = &url.URL{Scheme: u.Scheme, Host: u.Host, Opaque: raw}
		req.Header.Set("Authorization", "Bearer "+token)
		client := *shared.client
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 && resp.StatusCode != 404 {
			t.Errorf("%s: status %d, want 400 or 404: %s", raw, resp.StatusCode, body)
		}
		if strings.Contains(string(body), `"items"`) {
			t.Errorf("%s: reached a list: %s", raw, body)
		}
	}
	if n := len(b.requests()); n != 0 {
		t.Fatalf("spy-b received %d requests through spy-a's paths", n)
	}
	if n := len(a.requests()); n != 0 {
		for _, r := range a.requests() {
			t.Logf("spy-a got %s", r.URL.Path)
		}
		t.Fatalf("refused paths reached spy-a: %d", n)
	}
	// The control: a plain path reaches spy-a, and only spy-a.
	r := want(t, call(t, "GET", proxyURL("spy-a", "/api/v1/namespaces/x/pods/%C3%A9t%C3%A9"), token, nil), 200)
	if !strings.Contains(string(r.Body), `"path":"/api/v1/namespaces/x/pods/été"`) || len(b.requests()) != 0 {
		t.Fatalf("control request: %s", r.Body)
	}
}

func gatewayRESTConfig(t *testing.T, cluster, token string) *rest.Config {
	return &rest.Config{
		Host:            shared.url + "/api/v1/cube/proxy/clusters/" + cluster,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAFile: shared.caFile},
	}
}

// exec and port-forward upgrades (SPDY) and the WebSocket exec protocol are carried
// end to end, as the caller.
func TestUpgradedConnectionsAreCarried(t *testing.T) {
	a, _ := spyPair(t)
	token, _, _ := newUser(t, "streamer")
	cfg := gatewayRESTConfig(t, "spy-a", token)

	for _, tc := range []struct{ path, protocol string }{
		{"/api/v1/namespaces/default/pods/web/exec?command=cat&stdin=true&stdout=true", "v4.channel.k8s.io"},
		{"/api/v1/namespaces/default/pods/web/portforward", "portforward.k8s.io"},
	} {
		t.Run(tc.protocol, func(t *testing.T) {
			rt, upgrader, err := spdytransport.RoundTripperFor(cfg)
			if err != nil {
				t.Fatal(err)
			}
			u, _ := url.Parse(cfg.Host + tc.path)
			dialer := spdytransport.NewDialer(upgrader, &http.Client{Transport: rt}, http.MethodPost, u)
			conn, proto, err := dialer.Dial(tc.protocol)
			if err != nil {
				t.Fatalf("upgrade through the gateway: %v", err)
			}
			defer conn.Close()
			if proto != tc.protocol {
				t.Fatalf("negotiated %q", proto)
			}
			st, err := conn.CreateStream(http.Header{"Streamtype": []string{"stdin"}})
			if err != nil {
				t.Fatal(err)
			}
			msg := []byte("hello through " + tc.protocol)
			if _, err := st.Write(msg); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, len(msg))
			conn.SetIdleTimeout(10 * time.Second)
			if _, err := io.ReadFull(st, buf); err != nil || string(buf) != string(msg) {
				t.Fatalf("echo = %q, %v", buf, err)
			}
		})
	}

	t.Run("websocket", func(t *testing.T) {
		pem, err := os.ReadFile(shared.caFile)
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		d := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, Subprotocols: []string{"v5.channel.k8s.io"}}
		wsURL := "wss" + strings.TrimPrefix(cfg.Host, "https") + "/api/v1/namespaces/default/pods/web/exec?command=cat&stdin=true"
		conn, resp, err := d.Dial(wsURL, http.Header{"Authorization": []string{"Bearer " + token}})
		if resp != nil {
			resp.Body.Close()
		}
		if err != nil {
			t.Fatalf("websocket through the gateway: %v (%v)", err, resp)
		}
		defer conn.Close()
		if conn.Subprotocol() != "v5.channel.k8s.io" {
			t.Fatalf("subprotocol %q", conn.Subprotocol())
		}
		if err := conn.WriteMessage(websocket.BinaryMessage, []byte("\x00hello ws")); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, got, err := conn.ReadMessage()
		if err != nil || string(got) != "\x00hello ws" {
			t.Fatalf("echo = %q, %v", got, err)
		}
	})

	for _, r := range a.requests() {
		if r.Header.Get("Impersonate-User") != "streamer" || r.Header.Get("Authorization") != "Bearer gateway-token-for-spy-a" {
			t.Fatalf("upgrade request reached the cluster as %q with %q", r.Header.Get("Impersonate-User"), r.Header.Get("Authorization"))
		}
	}
	if len(a.requests()) != 3 {
		t.Fatalf("spy saw %d upgrade requests, want 3", len(a.requests()))
	}
}

// logs?follow=true is streamed: a line reaches the client while the upstream is
// still writing.
func TestFollowedLogsAreStreamed(t *testing.T) {
	a, _ := spyPair(t)
	token := login(t, "admin", adminPassword)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, proxyURL("spy-a", "/api/v1/namespaces/default/pods/web/log?follow=true"), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := shared.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 7)
	if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "line 1\n" {
		t.Fatalf("first line = %q, %v (it must arrive before the upstream finishes)", buf, err)
	}
	a.next <- struct{}{}
	rest, err := io.ReadAll(resp.Body)
	if err != nil || string(rest) != "line 2\n" {
		t.Fatalf("rest = %q, %v", rest, err)
	}
}

// A tenant's page served through the proxy cannot act as the console user who
// opens it: the proxy ignores the session cookie, and what it serves is sandboxed
// and sets no cookie on the gateway's origin.
func TestProxiedPagesAreSandboxedAndCookiesIgnored(t *testing.T) {
	a, _ := spyPair(t)
	r := want(t, call(t, "POST", shared.url+"/api/v1/cube/login", "", map[string]string{"name": "admin", "password": adminPassword}), 200)
	session := r.JSON(t)["token"].(string)
	cookie := "kubegate_session=" + session
	page := proxyURL("spy-a", "/api/v1/namespaces/x/services/web/proxy/")

	for _, u := range []string{page, proxyURL("spy-a", "/api/v1/pods"), shared.url + "/apis/kpanda.io/v1alpha1/clusters/spy-a/deployments",
		shared.url + "/apis/kpanda.io/v1alpha1/clusters"} {
		want(t, call(t, "GET", u, "", nil, "Cookie", cookie), 401)
	}
	// A cookie-authenticated WebSocket upgrade is refused like any other request.
	want(t, call(t, "GET", proxyURL("spy-a", "/api/v1/namespaces/x/pods/p/exec?command=sh"), "", nil,
		"Cookie", cookie, "Connection", "Upgrade", "Upgrade", "websocket", "Sec-WebSocket-Version", "13", "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), 401)
	if n := len(a.requests()); n != 0 {
		t.Fatalf("cookie-only requests reached the cluster: %d", n)
	}

	r = want(t, call(t, "GET", page, session, nil), 200)
	if !strings.Contains(string(r.Body), "<script>") {
		t.Fatalf("page not proxied: %s", r.Body)
	}
	if got := r.Header.Values("Content-Security-Policy"); len(got) != 1 || got[0] != "sandbox" {
		t.Fatalf("Content-Security-Policy = %q, want exactly sandbox", got)
	}
	if r.Header.Get("X-Content-Type-Options") != "nosniff" || len(r.Header.Values("Set-Cookie")) != 0 {
		t.Fatalf("headers = %v", r.Header)
	}
	// The gateway's own answers on those routes are sandboxed too.
	r = want(t, call(t, "GET", proxyURL("no-such-cluster", "/version"), session, nil), 404)
	if r.Header.Get("Content-Security-Policy") != "sandbox" {
		t.Fatalf("a proxy error without the sandbox: %v", r.Header)
	}
}
