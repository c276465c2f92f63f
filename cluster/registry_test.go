package cluster_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/cluster"
	"github.com/kubegate/kubegate/store/sqlite/sqlitetest"
)

// A cluster whose health flaps changes nothing in the store: health is each
// replica's own view, so no other replica hears of it, and nothing is rebuilt.
func TestHealthFlapsWriteNothing(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var up atomic.Bool
	up.Store(true)
	apiserver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte(`{"gitVersion":"v1.37.2"}`))
	}))
	defer apiserver.Close()

	st := sqlitetest.Open(t)
	reg := cluster.New(cluster.Options{Store: st, Logger: slog.New(slog.DiscardHandler)})
	if _, err := reg.Register(ctx, kubegate.Cluster{Name: "flappy", Server: apiserver.URL, Credentials: kubegate.ClusterCredentials{BearerToken: "t"}}); err != nil {
		t.Fatal(err)
	}
	if h := reg.Health("flappy"); h.Status != cluster.Ready || h.Version != "v1.37.2" {
		t.Fatalf("health after registering = %+v", h)
	}
	target, _ := reg.Member("flappy")

	changes, err := st.Watch(ctx) // what another replica would hear from now on
	if err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		up.Store(i%2 == 1)
		h := reg.Check(ctx, "flappy")
		if want := map[bool]string{true: cluster.Ready, false: cluster.Unreachable}[i%2 == 1]; h.Status != want || reg.Health("flappy").Status != want {
			t.Fatalf("flap %d: health = %+v, want %s", i, h, want)
		}
	}
	select {
	case c := <-changes:
		t.Fatalf("a health flap notified other replicas: %+v", c)
	case <-time.After(500 * time.Millisecond): // ten poll intervals of the test store
	}
	if got, _ := st.GetCluster(ctx, "flappy"); !got.UpdatedAt.Equal(got.CreatedAt) {
		t.Fatalf("health checks updated the stored cluster: %+v", got)
	}
	if again, _ := reg.Member("flappy"); again != target {
		t.Fatal("health checks rebuilt the cluster's transports")
	}

	if err := reg.Delete(ctx, "flappy"); err != nil {
		t.Fatal(err)
	}
	if h := reg.Health("flappy"); h.Status != cluster.Unknown {
		t.Fatalf("a deleted cluster keeps its health: %+v", h)
	}
}

func TestRegisterValidatesEveryPath(t *testing.T) {
	ctx := context.Background()
	reg := cluster.New(cluster.Options{Store: sqlitetest.Open(t), Logger: slog.New(slog.DiscardHandler)})
	for _, c := range []kubegate.Cluster{
		{Name: "Bad_Name", Server: "https://10.0.0.1", Credentials: kubegate.ClusterCredentials{BearerToken: "t"}},
		{Name: "no-creds", Server: "https://10.0.0.1"},
		{Name: "no-host", Server: "https://", Credentials: kubegate.ClusterCredentials{BearerToken: "t"}},
	} {
		if _, err := reg.Register(ctx, c); kubegate.ErrorCode(err) != kubegate.EInvalid {
			t.Errorf("Register(%s) = %v, want invalid", c.Name, err)
		}
		if _, err := reg.Upsert(ctx, c); kubegate.ErrorCode(err) != kubegate.EInvalid {
			t.Errorf("Upsert(%s) = %v, want invalid", c.Name, err)
		}
	}
	if len(reg.List()) != 0 {
		t.Fatalf("invalid clusters registered: %+v", reg.List())
	}
}
