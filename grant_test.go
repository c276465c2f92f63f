package kubegate_test

import (
	"reflect"
	"testing"

	"github.com/kubegate/kubegate"
)

func TestGrantValidation(t *testing.T) {
	ok := func() kubegate.Grant {
		return kubegate.Grant{ID: "gabc", Subject: kubegate.GrantSubject{Kind: kubegate.SubjectTeam, Name: "web"}, Role: "view",
			Clusters: []string{"b", "a", "b"}, Namespaces: []string{"y", "x"}}
	}
	g := ok()
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g.Clusters, []string{"a", "b"}) || !reflect.DeepEqual(g.Namespaces, []string{"x", "y"}) {
		t.Fatalf("not sorted and unique: %v %v", g.Clusters, g.Namespaces)
	}
	if !g.Covers("a") || g.Covers("c") || g.AllNamespaces() {
		t.Fatal("coverage")
	}
	for name, change := range map[string]func(*kubegate.Grant){
		"no clusters":                 func(g *kubegate.Grant) { g.Clusters = nil },
		"* with others":               func(g *kubegate.Grant) { g.Clusters = []string{"*", "a"} },
		"a bad cluster name":          func(g *kubegate.Grant) { g.Clusters = []string{"A_B"} },
		"no namespaces":               func(g *kubegate.Grant) { g.Namespaces = nil },
		"cluster-wide and namespaces": func(g *kubegate.Grant) { g.ClusterWide = true },
		"a bad namespace":             func(g *kubegate.Grant) { g.Namespaces = []string{"../x"} },
		"a bad role":                  func(g *kubegate.Grant) { g.Role = "view/../x" },
		"an unknown subject kind":     func(g *kubegate.Grant) { g.Subject.Kind = "Group" },
		"a bad team name":             func(g *kubegate.Grant) { g.Subject.Name = "Web Team" },
		"a bad id":                    func(g *kubegate.Grant) { g.ID = "1-x" },
	} {
		g := ok()
		change(&g)
		if err := g.Validate(); kubegate.ErrorCode(err) != kubegate.EInvalid {
			t.Errorf("%s: %v, want EInvalid", name, err)
		}
	}
	all := ok()
	all.Clusters, all.Namespaces = []string{"*"}, []string{"*"}
	if err := all.Validate(); err != nil || !all.Covers("anything") || !all.AllNamespaces() {
		t.Fatalf("everywhere: %v", err)
	}
	wide := ok()
	wide.Namespaces, wide.ClusterWide = nil, true
	if err := wide.Validate(); err != nil || wide.AllNamespaces() {
		t.Fatalf("cluster-wide: %v", err)
	}
}

func TestGrantReachesAndStatusIn(t *testing.T) {
	g := kubegate.Grant{Clusters: []string{"a", "b"}, Namespaces: []string{"x"},
		Status: []kubegate.GrantStatus{{Cluster: "b", State: kubegate.GrantFailed, Message: "no"}}}
	if !g.Reaches("a", "x") || g.Reaches("a", "y") || g.Reaches("c", "x") {
		t.Fatal("named namespaces")
	}
	wide := kubegate.Grant{Clusters: []string{"*"}, ClusterWide: true}
	every := kubegate.Grant{Clusters: []string{"*"}, Namespaces: []string{"*"}}
	if !wide.Reaches("c", "y") || !every.Reaches("c", "y") {
		t.Fatal("cluster-wide and every namespace reach everywhere")
	}
	got := g.StatusIn([]string{"c", "b", "a"})
	want := []kubegate.GrantStatus{{Cluster: "b", State: kubegate.GrantFailed, Message: "no"}, {Cluster: "a", State: kubegate.GrantPending}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("StatusIn = %+v", got)
	}
}
