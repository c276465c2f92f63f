package kubeproxy

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/cluster"
	"github.com/kubegate/kubegate/request"
	"github.com/kubegate/kubegate/review"
)

// The cluster's answer to "may this caller list this" is asked as the caller
// (impersonated), reused for review.TTL per caller and scope, then asked again;
// a refusal is the apiserver's own 403 for the list, word for word.
func TestAccessReviewsAreAskedAsTheCallerAndRememberedBriefly(t *testing.T) {
	var calls atomic.Int32
	var lastNS atomic.Value
	allowed := atomic.Bool{}
	allowed.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		var review struct {
			Spec struct {
				ResourceAttributes map[string]string `json:"resourceAttributes"`
			} `json:"spec"`
		}
		if err := json.NewDecoder(r.Body).Decode(&review); err != nil {
			t.Error(err)
		}
		ra := review.Spec.ResourceAttributes
		if r.Method != http.MethodPost || r.URL.Path != "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews" ||
			r.Header.Get("Impersonate-User") != "alice" || strings.Join(r.Header.Values("Impersonate-Group"), ",") != "devs,kubegate:users" ||
			ra["verb"] != "list" || ra["group"] != "apps" || ra["resource"] != "deployments" {
			t.Errorf("review %s %s %v %v", r.Method, r.URL.Path, r.Header, ra)
		}
		lastNS.Store(ra["namespace"])
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"status": map[string]any{"allowed": allowed.Load(), "reason": "no RoleBinding"}})
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	target := &cluster.Member{Name: "a", Server: u, Transport: http.DefaultTransport}
	now := time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)
	a := newAccess(func() time.Time { return now })
	ctx := request.WithIdentity(context.Background(), &kubegate.Identity{Name: "alice", Groups: []string{"devs", "kubegate:users"}})
	info := &kubegate.KubeRequest{APIGroup: "apps", APIVersion: "v1", Resource: "deployments", Namespace: "team-a"}

	for range 3 {
		if err := a.mayList(ctx, target, info); err != nil {
			t.Fatal(err)
		}
	}
	if calls.Load() != 1 {
		t.Fatalf("%d reviews for three lists within %s, want 1", calls.Load(), review.TTL)
	}
	allowed.Store(false) // the RoleBinding is removed
	now = now.Add(review.TTL - time.Millisecond)
	if err := a.mayList(ctx, target, info); err != nil {
		t.Fatal("the remembered answer was not used within its lifetime")
	}
	now = now.Add(time.Millisecond)
	err := a.mayList(ctx, target, info)
	var refused *upstreamError
	if !errors.As(err, &refused) || refused.code != http.StatusForbidden {
		t.Fatalf("after the lifetime, a refused list: %v", err)
	}
	want := `deployments.apps is forbidden: User "alice" cannot list resource "deployments" in API group "apps" in the namespace "team-a": no RoleBinding`
	var st struct{ Kind, Reason, Message string }
	if err := json.Unmarshal(refused.body, &st); err != nil || st.Kind != "Status" || st.Reason != "Forbidden" || st.Message != want {
		t.Fatalf("refusal %s, want the message %q", refused.body, want)
	}
	if calls.Load() != 2 {
		t.Fatalf("%d reviews, want 2", calls.Load())
	}

	// Another scope is another question.
	other := *info
	other.Namespace = ""
	_ = a.mayList(ctx, target, &other)
	if calls.Load() != 3 || lastNS.Load() != "" {
		t.Fatalf("a cluster-wide list reused the namespace's answer (%d reviews, the last for %q)", calls.Load(), lastNS.Load())
	}
}

// A review that fails is no refusal of the list: the cluster decides on the
// list itself.
func TestAFailedAccessReviewIsNotARefusal(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, `{"kind":"Status","code":403}`, http.StatusForbidden)
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	a := newAccess(time.Now)
	ctx := request.WithIdentity(context.Background(), &kubegate.Identity{Name: "bob"})
	err := a.mayList(ctx, &cluster.Member{Name: "a", Server: u, Transport: http.DefaultTransport}, &kubegate.KubeRequest{APIVersion: "v1", Resource: "pods"})
	var refused *upstreamError
	if err == nil || errors.As(err, &refused) {
		t.Fatalf("a failed review: %v", err)
	}
}

// Names no Kubernetes object could have are not asked about, nor remembered:
// request input does not grow the gateway's memory.
func TestAccessReviewsOnlyForKubernetesNames(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":{"allowed":true}}`))
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	a := newAccess(time.Now)
	ctx := request.WithIdentity(context.Background(), &kubegate.Identity{Name: "bob"})
	target := &cluster.Member{Name: "a", Server: u, Transport: http.DefaultTransport}
	for _, info := range []kubegate.KubeRequest{
		{APIVersion: "v1", Resource: "pods", Namespace: strings.Repeat("n", 64)},
		{APIVersion: "v1", Resource: "pods", Namespace: "Team-A"},
		{APIVersion: "v1", Resource: strings.Repeat("r", 254)},
		{APIGroup: "apps/../x", APIVersion: "v1", Resource: "deployments"},
	} {
		var refused *upstreamError
		if err := a.mayList(ctx, target, &info); err == nil || errors.As(err, &refused) {
			t.Errorf("%+v: %v, want an error that is no refusal", info, err)
		}
	}
	if calls.Load() != 0 || a.reviews.Len() != 0 {
		t.Fatalf("%d reviews, %d answers kept for names Kubernetes cannot hold", calls.Load(), a.reviews.Len())
	}
	if err := a.mayList(ctx, target, &kubegate.KubeRequest{APIGroup: "apps", APIVersion: "v1", Resource: "deployments", Namespace: strings.Repeat("n", 63)}); err != nil {
		t.Fatal(err)
	}
}
