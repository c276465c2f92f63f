package listcache

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/kubegate/kubegate/listquery"
)

func collectionOf(t *testing.T, objs ...string) *Collection {
	t.Helper()
	c := &Collection{store: newStore(), advance: make(chan struct{})}
	for _, raw := range objs {
		o, _, err := parseObject([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		k := keyOf(o.Namespace, o.Name)
		c.store.objects[k] = o
		if c.store.byNS[o.Namespace] == nil {
			c.store.byNS[o.Namespace] = map[string]*Object{}
		}
		c.store.byNS[o.Namespace][k] = o
	}
	return c
}

func obj(ns, name string) string {
	return fmt.Sprintf(`{"metadata":{"name":%q,"namespace":%q,"resourceVersion":"7","creationTimestamp":"2026-11-24T08:00:00Z","labels":{"app":"web"}},"spec":{"n":1}}`, name, ns)
}

// A row of the scan view reads what its object would, for every path.
func TestViewRowsReadAsTheirObjects(t *testing.T) {
	c := collectionOf(t, obj("a", "x"), obj("b", "y"), `{"metadata":{"name":"node-1","resourceVersion":"9"}}`)
	v, _ := c.store.currentView()
	paths := []listquery.Path{{"metadata", "name"}, {"metadata", "namespace"}, {"metadata", "creationTimestamp"}, {"metadata", "labels", "app"}, {"spec", "n"}, {"name"}}
	r := &row{v: v}
	for r.i = range v.objs {
		o := v.objs[r.i]
		for _, p := range paths {
			if got, want := r.Values(p, nil), o.Values(p, nil); !reflect.DeepEqual(got, want) {
				t.Errorf("%s %v: the row reads %q, the object %q", o.Name, p, got, want)
			}
		}
		if ns, name := r.Meta(); ns != o.Namespace || name != o.Name || string(r.JSON()) != string(o.Raw) {
			t.Errorf("row %d is not %s/%s", r.i, o.Namespace, o.Name)
		}
	}
	if again, _ := c.store.currentView(); again != v {
		t.Error("an unchanged collection built its view again")
	}
}

func TestSmallestNamespace(t *testing.T) {
	if got := collectionOf(t, obj("a", "x"), obj("a", "y"), obj("b", "z")).store.smallestNamespace(); got != "default" {
		t.Errorf("no objects in default: %q", got)
	}
	if got := collectionOf(t, obj("default", "x"), obj("default", "y"), obj("b", "z")).store.smallestNamespace(); got != "b" {
		t.Errorf("two in default, one in b: %q", got)
	}
}

// At most limit queries of a collection read the cluster at once; a slot comes
// back once, however often it is released.
func TestTryFallbackBoundsQueriesReadingTheCluster(t *testing.T) {
	c := collectionOf(t)
	r1, ok1 := c.TryFallback(2)
	r2, ok2 := c.TryFallback(2)
	if _, ok3 := c.TryFallback(2); !ok1 || !ok2 || ok3 {
		t.Fatalf("three tries with a limit of two: %v %v %v", ok1, ok2, ok3)
	}
	r1()
	r1()
	if _, ok := c.TryFallback(2); !ok {
		t.Fatal("a released slot was not given back")
	}
	if _, ok := c.TryFallback(2); ok {
		t.Fatal("a slot released twice was given back twice")
	}
	r2()
}
