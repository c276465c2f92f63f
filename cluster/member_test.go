package cluster_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/cluster"
	"github.com/kubegate/kubegate/request"
	"github.com/kubegate/kubegate/store/sqlite/sqlitetest"
)

// engaged records the members a part was engaged with.
type engaged struct {
	mu      sync.Mutex
	members []*cluster.Member
}

func (e *engaged) Engage(m *cluster.Member) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.members = append(e.members, m)
}

func (e *engaged) names() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, m := range e.members {
		out = append(out, m.Name)
	}
	return out
}

// A member lives as long as its registration: reloads, other clusters coming
// and a change that leaves the connection as it was keep it (and its context);
// new connection details give the cluster a new member and end the old one's
// context; removal ends it. Parts are engaged once per member.
func TestMembersLiveAsLongAsTheirRegistration(t *testing.T) {
	ctx := context.Background()
	apiserver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"gitVersion":"v1.37.2"}`))
	}))
	defer apiserver.Close()
	st := sqlitetest.Open(t)
	reg := cluster.New(cluster.Options{Store: st, Logger: slog.New(slog.DiscardHandler)})
	register := func(name, token string) {
		t.Helper()
		if _, err := reg.Upsert(ctx, kubegate.Cluster{Name: name, Server: apiserver.URL, Credentials: kubegate.ClusterCredentials{BearerToken: token}}); err != nil {
			t.Fatal(err)
		}
	}
	member := func(name string) *cluster.Member {
		t.Helper()
		m, err := reg.Member(name)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	register("a", "t")
	register("b", "t")
	part := &engaged{}
	reg.Engage(part)
	a, b := member("a"), member("b")
	if got := part.names(); len(got) != 2 {
		t.Fatalf("a part engaged late met %v, want both members", got)
	}

	register("c", "t")
	if err := reg.Load(ctx); err != nil { // a resync, as after a missed notification
		t.Fatal(err)
	}
	reg.Apply(ctx, kubegate.Change{Kind: kubegate.ChangeCluster, Key: "a"}) // another replica's notice of a's write
	register("a", "t")                                                      // the same connection, as at every start
	if member("a") != a || a.Context().Err() != nil || member("b") != b || b.Context().Err() != nil {
		t.Fatal("a reload, a third cluster or an unchanged registration replaced or ended a member")
	}
	if got := part.names(); len(got) != 3 || got[2] != "c" {
		t.Fatalf("engaged with %v, want a, b and then c only", got)
	}

	register("b", "rotated") // new credentials
	if b.Context().Err() == nil {
		t.Fatal("b's old member lives on after its credentials changed")
	}
	if nb := member("b"); nb == b || nb.Context().Err() != nil {
		t.Fatal("b did not get a new, live member")
	}
	if got := part.names(); len(got) != 4 || got[3] != "b" {
		t.Fatalf("engaged with %v, want the new b last", got)
	}
	if a.Context().Err() != nil {
		t.Fatal("changing b ended a")
	}

	c := member("c")
	if err := reg.Delete(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if c.Context().Err() == nil {
		t.Fatal("a removed cluster's member lives on")
	}
}

// A member's caller transport sends the request as the caller: the client's
// credentials and identity claims are gone, the impersonation headers name the
// caller, and a request without an identity never leaves the gateway.
func TestCallerTransportActsOnlyAsTheCaller(t *testing.T) {
	var got http.Header
	apiserver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		_, _ = w.Write([]byte(`{}`))
	}))
	defer apiserver.Close()
	reg := cluster.New(cluster.Options{Store: sqlitetest.Open(t), Logger: slog.New(slog.DiscardHandler)})
	if _, err := reg.Register(context.Background(), kubegate.Cluster{Name: "a", Server: apiserver.URL, Credentials: kubegate.ClusterCredentials{BearerToken: "gateway"}}); err != nil {
		t.Fatal(err)
	}
	m, _ := reg.Member("a")
	send := func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, apiserver.URL+"/api", nil)
		req.Header.Set("Authorization", "Bearer client")
		req.Header.Set("Impersonate-User", "system:admin")
		req.Header.Set("X-Remote-User", "root")
		resp, err := m.Caller().RoundTrip(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := send(context.Background()); err == nil {
		t.Fatal("a request without an identity was sent")
	}
	ctx := request.WithIdentity(context.Background(), &kubegate.Identity{Name: "alice", Groups: []string{"devs"}})
	if err := send(ctx); err != nil {
		t.Fatal(err)
	}
	if got.Get("Authorization") != "Bearer gateway" || got.Get("Impersonate-User") != "alice" || got.Get("Impersonate-Group") != "devs" || got.Get("X-Remote-User") != "" {
		t.Fatalf("the cluster saw %v", got)
	}
}
