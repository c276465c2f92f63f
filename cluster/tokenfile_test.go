package cluster

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// A rotated token file is followed: the old token is used until the file is due
// to be read again, or at once after the cluster refuses it; a file briefly
// missing (being replaced) keeps the last token.
func TestTokenFileFollowsRotation(t *testing.T) {
	var valid atomic.Value
	valid.Store("one")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+valid.Load().(string) {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "token")
	write := func(tok string) {
		if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	tf := &tokenFile{path: path, next: http.DefaultTransport, now: func() time.Time { return now }}
	status := func() int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		resp, err := tf.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	write("one")
	if got := status(); got != 200 {
		t.Fatalf("first request: %d", got)
	}
	write("two") // rotated; the cluster still accepts the old token for a while
	if got := status(); got != 200 {
		t.Fatalf("within the TTL, with the old token still valid: %d", got)
	}
	now = now.Add(tokenFileTTL)
	valid.Store("two")
	if got := status(); got != 200 {
		t.Fatalf("after the TTL the new token is read: %d", got)
	}

	write("three")
	valid.Store("three") // the old token revoked at once
	if got := status(); got != 401 {
		t.Fatalf("the request that meets the revocation: %d", got)
	}
	if got := status(); got != 200 {
		t.Fatalf("the request after a 401 reads the file again: %d", got)
	}

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	now = now.Add(tokenFileTTL)
	if got := status(); got != 200 {
		t.Fatalf("while the file is being replaced, the last token: %d", got)
	}
}
