package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubegate/kubegate/filters"
	"github.com/kubegate/kubegate/metrics"
	"github.com/kubegate/kubegate/server"
)

func start(t *testing.T, opts server.Options) (*server.Server, context.CancelFunc, <-chan error) {
	t.Helper()
	opts.Listen = "127.0.0.1:0"
	if opts.ShutdownTimeout == 0 {
		opts.ShutdownTimeout = 10 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	// done yields Run's result once, then is closed, so both the test and the
	// cleanup can wait on it.
	done := make(chan error, 1)
	go func() {
		done <- srv.Run(ctx)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		for range done {
		}
	})
	return srv, cancel, done
}

// reply is a response already read and closed.
type reply struct {
	StatusCode int
	Header     http.Header
}

func get(t *testing.T, url string, hdr ...string) (reply, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{resp.StatusCode, resp.Header}, body
}

func decodeStatus(t *testing.T, body []byte) metav1.Status {
	t.Helper()
	var st metav1.Status
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("body is not a Status: %v: %s", err, body)
	}
	if st.Kind != "Status" || st.APIVersion != "v1" || st.Status != metav1.StatusFailure {
		t.Fatalf("body is not a failure Status: %s", body)
	}
	return st
}

func TestHealthAndReadiness(t *testing.T) {
	var failing atomic.Bool
	failing.Store(true)
	srv, _, _ := start(t, server.Options{ReadyChecks: []server.ReadyCheck{{
		Name: "store",
		Check: func(context.Context) error {
			if failing.Load() {
				return io.ErrUnexpectedEOF
			}
			return nil
		},
	}}})

	resp, body := get(t, srv.URL()+"/healthz")
	if resp.StatusCode != 200 || string(body) != "ok" {
		t.Fatalf("healthz = %d %q", resp.StatusCode, body)
	}
	resp, body = get(t, srv.URL()+"/readyz")
	if resp.StatusCode != 503 || !strings.Contains(string(body), "[-]store failed") {
		t.Fatalf("readyz with a failing check = %d %q", resp.StatusCode, body)
	}
	failing.Store(false)
	resp, body = get(t, srv.URL()+"/readyz?verbose")
	if resp.StatusCode != 200 || !strings.Contains(string(body), "[+]store ok") {
		t.Fatalf("readyz?verbose = %d %q", resp.StatusCode, body)
	}
}

func TestErrorsAreStatusObjects(t *testing.T) {
	srv, _, _ := start(t, server.Options{Routes: func(mux *http.ServeMux) {
		mux.Handle("/boom", http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("kaboom") }))
	}})

	resp, body := get(t, srv.URL()+"/no/such/route")
	if st := decodeStatus(t, body); resp.StatusCode != 404 || st.Code != 404 || st.Reason != metav1.StatusReasonNotFound {
		t.Fatalf("unknown route = %d %s", resp.StatusCode, body)
	}

	req, _ := http.NewRequestWithContext(context.Background(), http.MethodDelete, srv.URL()+"/healthz", nil)
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if st := decodeStatus(t, b); r.StatusCode != 405 || st.Code != 405 || r.Header.Get("Allow") != "GET" {
		t.Fatalf("DELETE /healthz = %d allow=%q %s", r.StatusCode, r.Header.Get("Allow"), b)
	}

	resp, body = get(t, srv.URL()+"/boom")
	st := decodeStatus(t, body)
	if resp.StatusCode != 500 || st.Code != 500 || strings.Contains(string(body), "kaboom") {
		t.Fatalf("panic = %d %s (the panic value must not leak)", resp.StatusCode, body)
	}
	// The server survived the panic.
	if resp, _ = get(t, srv.URL()+"/healthz"); resp.StatusCode != 200 {
		t.Fatalf("healthz after panic = %d", resp.StatusCode)
	}
}

// lockedBuffer is a log sink the server's goroutines write while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestRequestIDs(t *testing.T) {
	var logs lockedBuffer
	srv, _, _ := start(t, server.Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})

	resp, _ := get(t, srv.URL()+"/healthz", "X-Request-Id", "abc-123")
	if got := resp.Header.Get("X-Request-Id"); got != "abc-123" {
		t.Fatalf("a valid caller request ID is kept: got %q", got)
	}
	resp, _ = get(t, srv.URL()+"/healthz", "X-Request-Id", "bad id\twith <junk>")
	if got := resp.Header.Get("X-Request-Id"); got == "" || strings.ContainsAny(got, " \t<>") {
		t.Fatalf("an unsafe caller request ID is replaced: got %q", got)
	}
	resp, _ = get(t, srv.URL()+"/healthz?secretKey=s3cr3t")
	id := resp.Header.Get("X-Request-Id")
	if len(id) < 16 {
		t.Fatalf("generated request ID %q is too short", id)
	}
	// The access log line is written after the response: wait for it, boundedly.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logs.String(), `"request_id":"`+id+`"`); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("access log lacks request_id %s:\n%s", id, logs.String())
		}
	}
	if strings.Contains(logs.String(), "s3cr3t") {
		t.Fatalf("query strings must never be logged:\n%s", logs.String())
	}
}

// SIGTERM cancels Run's context in the real program; the slow request that is in
// flight at that moment must still complete, and Run must return nil.
func TestGracefulShutdownLetsInFlightRequestsFinish(t *testing.T) {
	entered := make(chan struct{})
	srv, cancel, done := start(t, server.Options{Routes: func(mux *http.ServeMux) {
		mux.Handle("/slow", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			close(entered)
			time.Sleep(700 * time.Millisecond)
			_, _ = w.Write([]byte("finished"))
		}))
	}})

	type result struct {
		code int
		body string
		err  error
	}
	res := make(chan result, 1)
	go func() {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL()+"/slow", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			res <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		res <- result{resp.StatusCode, string(b), err}
	}()
	<-entered
	cancel()

	r := <-res
	if r.err != nil || r.code != 200 || r.body != "finished" {
		t.Fatalf("in-flight request = %d %q %v; want 200 finished", r.code, r.body, r.err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after graceful shutdown = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after shutdown")
	}
	// New connections are refused once shut down.
	if resp, err := http.Get(srv.URL() + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatal("server still accepts connections after shutdown")
	}
}

// BenchmarkHandlerChain measures what the filter chain (recovery, request ID, access
// log) adds to a trivial handler.
func BenchmarkHandlerChain(b *testing.B) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) })
	srv, err := server.New(context.Background(), server.Options{Listen: "127.0.0.1:0", Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	chained := srv.BuildHandlerChain(ok)
	req := httptest.NewRequest(http.MethodGet, "/healthz", nil)
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"baseline", ok}, {"kubegate", chained}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bc.h.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	}
}

// Over-long URIs and headers are refused before any handler; a body trickled in
// slowly is cut off at the body deadline, and a body read in time leaves the
// response free to take as long as it needs.
func TestRequestLimits(t *testing.T) {
	slowHandler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, "body: "+err.Error(), http.StatusRequestTimeout)
			return
		}
		time.Sleep(500 * time.Millisecond) // longer than the body deadline
		_, _ = w.Write([]byte("done"))
	})
	srv, _, _ := start(t, server.Options{
		Limits: filters.Limits{MaxURIBytes: 2048, BodyTimeout: 200 * time.Millisecond},
		Routes: func(mux *http.ServeMux) { mux.Handle("/slow", slowHandler) },
	})
	r, body := get(t, srv.URL()+"/healthz?q="+strings.Repeat("a", 4096))
	if r.StatusCode != http.StatusRequestURITooLong || !strings.Contains(string(body), "the limit is 2048") {
		t.Fatalf("long URI: %d %s", r.StatusCode, body)
	}
	r, _ = get(t, srv.URL()+"/healthz", "X-Big", strings.Repeat("b", 200<<10))
	if r.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("huge header: %d", r.StatusCode)
	}

	// A body read at once: the response may outlast the body deadline.
	resp, err := http.Post(srv.URL()+"/slow", "text/plain", strings.NewReader("quick body"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "done" {
		t.Fatalf("a quick body then a slow answer: %d %s", resp.StatusCode, b)
	}

	// A body that never finishes: cut off, even when the request asks for an
	// upgrade where there is none to have (only the proxy upgrades connections).
	for _, extra := range []string{"", "Connection: Upgrade\r\nUpgrade: websocket\r\n"} {
		conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL(), "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_, _ = io.WriteString(conn, "POST /slow HTTP/1.1\r\nHost: x\r\n"+extra+"Content-Length: 100\r\n\r\nonly a few bytes")
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		cut, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("a trickled body (%q) was not cut off: %v", extra, err)
		}
		answer, _ := io.ReadAll(cut.Body)
		cut.Body.Close()
		if cut.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(answer), "did not arrive within 200ms") {
			t.Fatalf("a trickled body (%q): %d %q", extra, cut.StatusCode, answer)
		}
	}
}

// /metrics can require a bearer token of its own, and can live on an address of
// its own (and then not on the main one).
func TestMetricsAccess(t *testing.T) {
	srv, _, _ := start(t, server.Options{Metrics: metrics.New(), MetricsToken: "scrape-token-0123456789"})
	if r, _ := get(t, srv.URL()+"/metrics"); r.StatusCode != 401 {
		t.Fatalf("/metrics without the token: %d", r.StatusCode)
	}
	if r, _ := get(t, srv.URL()+"/metrics", "Authorization", "Bearer wrong"); r.StatusCode != 401 {
		t.Fatalf("/metrics with a wrong token: %d", r.StatusCode)
	}
	if r, body := get(t, srv.URL()+"/metrics", "Authorization", "Bearer scrape-token-0123456789"); r.StatusCode != 200 || !strings.Contains(string(body), "go_goroutines") {
		t.Fatalf("/metrics with the token: %d", r.StatusCode)
	}

	apart, _, _ := start(t, server.Options{Metrics: metrics.New(), MetricsListen: "127.0.0.1:0"})
	if r, _ := get(t, apart.URL()+"/metrics"); r.StatusCode != 404 {
		t.Fatalf("/metrics on the main address with a metrics address: %d", r.StatusCode)
	}
	if r, body := get(t, apart.MetricsURL()+"/metrics"); r.StatusCode != 200 || !strings.Contains(string(body), "kubegate_http_requests_total") {
		t.Fatalf("/metrics on its own address: %d", r.StatusCode)
	}
}
