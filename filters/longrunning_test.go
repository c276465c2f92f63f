package filters_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/filters"
	"github.com/kubegate/kubegate/request"
)

// One user holds at most max watches open, over all their keys; the next is a
// 429 Status naming the limit, other users and ordinary requests are untouched,
// and closing a watch frees its place.
func TestLongRunningRequestsAreBoundedPerUser(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 10)
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if request.InfoFrom(r.Context()).LongRunning {
			started <- struct{}{}
			<-release
		}
		w.WriteHeader(http.StatusOK)
	})
	limited := filters.WithLongRunningLimit(inner, 2)
	h := filters.WithRequestInfo(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user := r.Header.Get("X-Test-User")
		// Two keys of one user are one user.
		id := &kubegate.Identity{UserID: user, Name: user, AccessKey: r.Header.Get("X-Test-Key")}
		limited.ServeHTTP(w, r.WithContext(request.WithIdentity(r.Context(), id)))
	}))
	do := func(user, key, path string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("X-Test-User", user)
		req.Header.Set("X-Test-Key", key)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	watch := "/api/v1/cube/proxy/clusters/c1/api/v1/namespaces/default/pods?watch=true"
	var wg sync.WaitGroup
	codes := make(chan int, 3)
	for _, key := range []string{"AK1", "AK2"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes <- do("u1", key, watch).Code
		}()
		<-started
	}

	rec := do("u1", "AK3", watch)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("a third watch of u1: %d (Retry-After %q), want 429 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
	var st struct{ Kind, Message string }
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || st.Kind != "Status" || st.Message == "" {
		t.Fatalf("the 429 is not a Status naming the limit: %s", rec.Body)
	}
	if rec := do("u1", "AK1", "/api/v1/cube/proxy/clusters/c1/api/v1/namespaces/default/pods"); rec.Code != http.StatusOK {
		t.Fatalf("an ordinary list of u1 at the limit: %d", rec.Code)
	}
	go func() { codes <- do("u2", "AK9", watch).Code }()
	<-started // another user's watch is let through

	close(release)
	wg.Wait()
	for range 3 {
		if c := <-codes; c != http.StatusOK {
			t.Fatalf("a watch within the limit ended %d", c)
		}
	}
	release = make(chan struct{})
	close(release)
	if rec := do("u1", "AK1", watch); rec.Code != http.StatusOK {
		t.Fatalf("a watch after the others closed: %d", rec.Code)
	}
}

// A watch or a followed log is recognised as the apiserver reads the parameter
// (present and neither 0 nor false), so spelling it otherwise does not escape
// the bound.
func TestLongRunningIsRecognisedAsTheApiserverReadsIt(t *testing.T) {
	for q, want := range map[string]bool{"watch=true": true, "watch=": true, "watch=yes": true, "watch=t": true, "watch=1": true,
		"watch=0": false, "watch=false": false, "watch=FALSE": false, "": false} {
		for _, path := range []string{"/api/v1/cube/proxy/clusters/c1/api/v1/pods?", "/api/v1/cube/proxy/clusters/c1/api/v1/namespaces/a/pods/p/log?"} {
			u := path + q
			if path[len(path)-5:] == "/log?" {
				u = path + strings.Replace(q, "watch", "follow", 1)
			}
			if got := request.Classify(httptest.NewRequest(http.MethodGet, u, nil)).LongRunning; got != want {
				t.Errorf("%s: long-running %v, want %v", u, got, want)
			}
		}
	}
}
