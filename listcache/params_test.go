package listcache_test

import (
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/kubegate/kubegate/listcache"
)

// Which list requests the cache may answer, and how fresh the answer must be,
// as Kubernetes reads resourceVersion and resourceVersionMatch for a list
// without a limit.
func TestFreshness(t *testing.T) {
	for _, c := range []struct {
		query string
		rv    string
		ok    bool
	}{
		{"", "", true}, // consistent
		{"resourceVersion=", "", true},
		{"resourceVersion=0", "0", true}, // any
		{"resourceVersion=42", "42", true},
		{"resourceVersion=42&resourceVersionMatch=NotOlderThan", "42", true},
		{"resourceVersion=0&resourceVersionMatch=NotOlderThan", "0", true},
		{"resourceVersion=42&resourceVersionMatch=Exact", "", false},
		{"resourceVersionMatch=NotOlderThan", "", false}, // the cluster's 400
		{"resourceVersion=abc", "", false},
		{"resourceVersion=-1", "", false},
		{"resourceVersion=1&resourceVersion=2", "", false},
		{"labelSelector=app%3Dweb", "", false},
		{"fieldSelector=metadata.name%3Dx", "", false},
		{"limit=5", "", false},
	} {
		v, err := url.ParseQuery(c.query)
		if err != nil {
			t.Fatal(err)
		}
		rv, ok := listcache.ParseVersion(v)
		if rv != c.rv || ok != c.ok {
			t.Errorf("%q: %q %v, want %q %v", c.query, rv, ok, c.rv, c.ok)
		}
	}
}

func TestConsistencyParameter(t *testing.T) {
	for q, want := range map[string]string{"": "watch", "consistency=": "watch", "consistency=watch": "watch", "consistency=strict": "strict",
		"consistency=fresh": "400", "consistency=strict&consistency=strict": "400"} {
		req := httptest.NewRequest("GET", "/x?"+q, nil)
		strict, err := listcache.ParseConsistency(req.URL.Query())
		got := map[bool]string{true: "strict", false: "watch"}[strict]
		if err != nil {
			got = "400"
		}
		if got != want {
			t.Errorf("%q: %s, want %s (%v)", q, got, want, err)
		}
	}
}
