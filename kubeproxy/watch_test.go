package kubeproxy_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/cluster"
	"github.com/kubegate/kubegate/filters"
	"github.com/kubegate/kubegate/kubeproxy"
	"github.com/kubegate/kubegate/request"
)

type oneTarget struct{ t *cluster.Member }

func (o oneTarget) Member(name string) (*cluster.Member, error) {
	if name != o.t.Name {
		return nil, kubegate.Errorf(kubegate.ENotFound, "cluster %q not found", name)
	}
	return o.t, nil
}

func (o oneTarget) List() []kubegate.Cluster { return []kubegate.Cluster{{Name: o.t.Name}} }

func event(typ, name, team string) string {
	labels := ""
	if team != "" {
		labels = fmt.Sprintf(`,"labels":{"team":%q}`, team)
	}
	return fmt.Sprintf(`{"type":%q,"object":{"kind":"ConfigMap","metadata":{"name":%q,"uid":"uid-%s"%s}}}`+"\n", typ, name, name, labels)
}

// A watch with a selector reports objects entering the selection as ADDED and
// leaving it as DELETED, and nothing about objects outside it.
func TestWatchSelectorTransitions(t *testing.T) {
	var gotQuery url.Values
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotQuery = r.URL.Query()
		if r.Header.Get("Impersonate-User") != "alice" {
			t.Errorf("upstream saw Impersonate-User %q", r.Header.Get("Impersonate-User"))
		}
		w.Header().Set("Content-Type", "application/json")
		for _, e := range []string{
			event("ADDED", "a", "blue"),
			event("ADDED", "b", "red"),
			event("MODIFIED", "a", "red"),  // leaves the selection
			event("MODIFIED", "b", "blue"), // enters it
			event("MODIFIED", "b", "blue"),
			`{"type":"BOOKMARK","object":{"kind":"ConfigMap","metadata":{"resourceVersion":"9"}}}` + "\n",
			event("DELETED", "b", "blue"),
			event("DELETED", "c", "red"),
		} {
			_, _ = io.WriteString(w, e)
		}
	}))
	defer upstream.Close()
	u, _ := url.Parse(upstream.URL)
	p := kubeproxy.New(oneTarget{&cluster.Member{Name: "c1", Server: u, Transport: http.DefaultTransport, Upgrade: http.DefaultTransport}},
		slog.New(slog.DiscardHandler), kubeproxy.Options{})

	req := httptest.NewRequest(http.MethodGet, request.ProxyPrefix+"c1/api/v1/namespaces/x/configmaps?watch=true&selector=metadata.labels.team=blue", nil)
	req = req.WithContext(request.WithIdentity(req.Context(), &kubegate.Identity{Name: "alice", Groups: []string{"kubegate:users"}}))
	rec := httptest.NewRecorder()
	filters.WithRequestInfo(p).ServeHTTP(rec, req)

	var got []string
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		var ev struct {
			Type   string `json:"type"`
			Object struct {
				Metadata struct{ Name string } `json:"metadata"`
			} `json:"object"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("bad event %q: %v", sc.Text(), err)
		}
		name := ev.Object.Metadata.Name
		if name == "" {
			name = "-"
		}
		got = append(got, ev.Type+" "+name)
	}
	want := []string{"ADDED a", "DELETED a", "ADDED b", "MODIFIED b", "BOOKMARK -", "DELETED b"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("events = %v, want %v", got, want)
	}
	if gotQuery.Get("labelSelector") != "team=blue" || gotQuery.Get("selector") != "" || gotQuery.Get("watch") != "true" {
		t.Fatalf("upstream query = %v (the exact label condition is pushed down, selector is not forwarded)", gotQuery)
	}
}
