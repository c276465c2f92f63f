package listquery_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/listquery"
)

func mustParse(t *testing.T, raw string) *listquery.Query {
	t.Helper()
	v, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatal(err)
	}
	q, err := listquery.ParseKubeCube(v, 5000)
	if err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return q
}

func run(t *testing.T, q *listquery.Query, objs []string) ([]string, int) {
	t.Helper()
	c := listquery.NewPager(q, 5000)
	for _, o := range objs {
		if err := c.Add(json.RawMessage(o)); err != nil {
			t.Fatal(err)
		}
	}
	page, err := c.Page()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, raw := range page {
		var o struct {
			Metadata struct{ Name string } `json:"metadata"`
		}
		_ = json.Unmarshal(raw, &o)
		names = append(names, o.Metadata.Name)
	}
	return names, c.Total()
}

func obj(name, ns string, labels map[string]string, replicas any, created string) string {
	m := map[string]any{"metadata": map[string]any{"name": name, "namespace": ns, "labels": labels, "creationTimestamp": created}}
	if replicas != nil {
		m["spec"] = map[string]any{"replicas": replicas, "template": map[string]any{"spec": map[string]any{"containers": []any{
			map[string]any{"name": "main", "image": "registry/" + name + ":1"}, map[string]any{"name": "sidecar", "image": "envoy:1"},
		}}}}
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func TestSemantics(t *testing.T) {
	objs := []string{
		obj("web-1", "shop", map[string]string{"app": "web", "app.kubernetes.io/name": "Web"}, 3, "2024-01-03T00:00:00Z"),
		obj("web-2", "shop", map[string]string{"app": "web"}, 1, "2024-01-01T00:00:00Z"),
		obj("api-1", "core", map[string]string{"app": "api", "app.kubernetes.io/name": "api"}, 10, "2024-01-02T00:00:00Z"),
		obj("db-1", "core", map[string]string{"app": "db"}, nil, "2024-01-04T00:00:00Z"),
	}
	cases := []struct {
		query string
		want  []string
		total int
	}{
		{"pageSize=10", []string{"api-1", "db-1", "web-1", "web-2"}, 4},
		{"selector=metadata.labels.app=web", []string{"web-1", "web-2"}, 2},
		{"selector=metadata.name~WEB", []string{"web-1", "web-2"}, 2},
		{"selector=metadata.labels.app=web|api", []string{"api-1", "web-1", "web-2"}, 3},
		{"selector=metadata.labels.app!=web", []string{"api-1", "db-1"}, 2},
		{"selector=metadata.name!~web", []string{"api-1", "db-1"}, 2},
		{"selector=metadata.namespace=core,metadata.labels.app~a", []string{"api-1"}, 1},
		{"selector=metadata.labels[app.kubernetes.io/name]=Web", []string{"web-1"}, 1},
		{"selector=Metadata.Labels.APP=db", []string{"db-1"}, 1},
		{"selector=spec.template.spec.containers.image~envoy", []string{"api-1", "web-1", "web-2"}, 3},
		{"selector=spec.replicas=10", []string{"api-1"}, 1},
		{"selector=name=db-1", []string{"db-1"}, 1},
		{"sortName=spec.replicas&sortFunc=number", []string{"web-2", "web-1", "api-1", "db-1"}, 4},
		{"sortName=spec.replicas&sortFunc=number&sortOrder=desc", []string{"api-1", "web-1", "web-2", "db-1"}, 4},
		{"sortName=spec.replicas", []string{"web-2", "api-1", "web-1", "db-1"}, 4}, // as strings: "1" < "10" < "3"
		{"sortName=metadata.creationTimestamp&sortOrder=desc&sortFunc=time", []string{"db-1", "web-1", "api-1", "web-2"}, 4},
		{"sortName=CreationTimestamp&sortOrder=desc", []string{"db-1", "web-1", "api-1", "web-2"}, 4},
		{"pageSize=2&pageNum=2", []string{"web-1", "web-2"}, 4},
		{"pageSize=3&pageNum=2", []string{"web-2"}, 4},
		{"pageSize=2&pageNum=5", nil, 4},
		{"pageSize=0", []string{"api-1", "db-1", "web-1", "web-2"}, 4},
		{"selector=metadata.labels.nope=x", nil, 0},
		{"sortName=metadata.namespace", []string{"api-1", "db-1", "web-1", "web-2"}, 4}, // ties by namespace/name
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			got, total := run(t, mustParse(t, tc.query), objs)
			if !reflect.DeepEqual(got, tc.want) || total != tc.total {
				t.Fatalf("got %v (total %d), want %v (total %d)", got, total, tc.want, tc.total)
			}
		})
	}
}

// Every malformed parameter is a 400 naming it; none is silently defaulted.
func TestMalformedParameters(t *testing.T) {
	cases := map[string]string{
		"pageSize=abc":                 "pageSize",
		"pageSize=-1":                  "pageSize",
		"pageSize=1.5":                 "pageSize",
		"pageSize=5001":                "pageSize",
		"pageSize=1&pageSize=2":        "pageSize",
		"pageNum=0":                    "pageNum",
		"pageNum=-3":                   "pageNum",
		"pageNum=x":                    "pageNum",
		"sortOrder=up":                 "sortOrder",
		"sortFunc=date":                "sortFunc",
		"sortFunc=NUMBER":              "sortFunc",
		"sortName=metadata..name":      "sortName",
		"sortName=metadata.":           "sortName",
		"sortName=labels[":             "sortName",
		"selector=(":                   "selector",
		"selector=replicas>many":       "selector",
		"selector=replicas<":           "selector",
		"selector=name in a,b":         "selector",
		"selector=!":                   "selector",
		"selector==web":                "selector",
		"selector=name==web":           "selector",
		"selector=name=~web":           "selector",
		"selector=metadata.labels[]=x": "selector",
		"selector=metadata.labels[a=x": "selector",
		"selector=a=b,,c=d":            "selector",
		"selector=a=b,c d":             "selector",
		"selector=.name=x":             "selector",
	}
	for raw, param := range cases {
		v, _ := url.ParseQuery(raw)
		_, err := listquery.ParseKubeCube(v, 5000)
		if param == "" {
			if err != nil {
				t.Errorf("%s: %v", raw, err)
			}
			continue
		}
		if kubegate.ErrorCode(err) != kubegate.EInvalid || !strings.Contains(kubegate.ErrorMessage(err), "parameter "+param) {
			t.Errorf("%s: err = %v, want a 400 naming %s", raw, err, param)
		}
	}
	dce := map[string]string{"page=0": "page", "pageSize=x": "pageSize", "sortBy=size": "sortBy", "sortDir=sideways": "sortDir"}
	for raw, param := range dce {
		v, _ := url.ParseQuery(raw)
		if _, err := listquery.ParseDCE(v, 5000, listquery.KubernetesShape); kubegate.ErrorCode(err) != kubegate.EInvalid || !strings.Contains(kubegate.ErrorMessage(err), "parameter "+param) {
			t.Errorf("DCE %s: err = %v, want a 400 naming %s", raw, err, param)
		}
	}
}

func TestPageSizeZeroIsCapped(t *testing.T) {
	q := mustParse(t, "pageSize=0")
	c := listquery.NewPager(q, 3)
	for i := range 4 {
		_ = c.Add(json.RawMessage(obj(fmt.Sprint(i), "ns", nil, nil, "")))
	}
	if _, err := c.Page(); kubegate.ErrorCode(err) != kubegate.EInvalid || !strings.Contains(err.Error(), "page with pageSize") {
		t.Fatalf("err = %v", err)
	}
}

// ---- property test against a naive reference ----

// refValues is the reference lookup: lower-case every key, then walk.
func refValues(o any, path []string) []string {
	var walk func(v any, p []string) []string
	walk = func(v any, p []string) []string {
		if arr, ok := v.([]any); ok {
			var out []string
			for _, e := range arr {
				out = append(out, walk(e, p)...)
			}
			return out
		}
		if len(p) == 0 {
			switch x := v.(type) {
			case string:
				return []string{x}
			case float64:
				return []string{strconv.FormatFloat(x, 'f', -1, 64)}
			case bool:
				return []string{strconv.FormatBool(x)}
			}
			return nil
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		if child, ok := m[p[0]]; ok {
			return walk(child, p[1:])
		}
		for k, child := range m {
			if strings.EqualFold(k, p[0]) {
				return walk(child, p[1:])
			}
		}
		return nil
	}
	out := walk(o, path)
	if len(out) == 0 && len(path) == 1 {
		out = walk(o.(map[string]any)["metadata"], path)
	}
	return out
}

func refRun(q *listquery.Query, raws []string) ([]string, int) {
	return refRunSources(q, [][]string{raws})
}

// refRunSources is the reference over several sources as one list: ties of the
// sort key go by source (its index, named "s<i>/" in the answer when there
// are several), then namespace and name.
func refRunSources(q *listquery.Query, sources [][]string) ([]string, int) {
	type item struct {
		o        map[string]any
		src      int
		name, ns string
		missing  bool
		s        string
		n        float64
	}
	var items []item
	for src, raws := range sources {
		for _, r := range raws {
			var o map[string]any
			_ = json.Unmarshal([]byte(r), &o)
			ok := true
			for _, c := range q.Conds {
				ok = ok && refCond(c, refValues(o, c.Path))
			}
			if !ok {
				continue
			}
			md := o["metadata"].(map[string]any)
			it := item{o: o, src: src, name: md["name"].(string), ns: md["namespace"].(string)}
			vals := refValues(o, q.SortPath)
			if len(vals) == 0 {
				it.missing = true
			} else {
				switch q.SortFunc {
				case listquery.SortString:
					it.s = vals[0]
				case listquery.SortNumber:
					f, err := strconv.ParseFloat(vals[0], 64)
					it.n, it.missing = f, err != nil
				case listquery.SortTime:
					tm, err := time.Parse(time.RFC3339, vals[0])
					it.n, it.missing = float64(tm.UnixNano()), err != nil
				}
			}
			items = append(items, it)
		}
	}
	sort.SliceStable(items, func(i, j int) bool {
		a, b := items[i], items[j]
		if a.missing != b.missing {
			return b.missing
		}
		if !a.missing {
			less, more := a.s < b.s, a.s > b.s
			if q.SortFunc != listquery.SortString {
				less, more = a.n < b.n, a.n > b.n
			}
			if q.Desc {
				less, more = more, less
			}
			if less || more {
				return less
			}
		}
		if a.src != b.src {
			return a.src < b.src
		}
		if a.ns != b.ns {
			return a.ns < b.ns
		}
		return a.name < b.name
	})
	total := len(items)
	if q.PageSize > 0 {
		start := min((q.PageNum-1)*q.PageSize, len(items))
		items = items[start:min(start+q.PageSize, len(items))]
	}
	var names []string
	for _, it := range items {
		if len(sources) > 1 {
			names = append(names, fmt.Sprintf("s%d/%s", it.src, it.name))
		} else {
			names = append(names, it.name)
		}
	}
	return names, total
}

func TestMatchesNaiveReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 300 {
		objs := randomObjects(rng, "o", rng.IntN(60))
		q, v := randomQuery(t, rng)
		got, gotTotal := run(t, q, objs)
		want, wantTotal := refRun(q, objs)
		if !reflect.DeepEqual(got, want) || gotTotal != wantTotal {
			t.Fatalf("%s\n got  %v (%d)\n want %v (%d)", v.Encode(), got, gotTotal, want, wantTotal)
		}
	}
}

func FuzzParseKubeCube(f *testing.F) {
	for _, s := range []string{"selector=a=b,c~d|e", "sortName=metadata.labels[app.kubernetes.io/name]&sortOrder=desc", "pageSize=0&pageNum=3", "selector=x!=y,z!~w", "sortFunc=time"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := listquery.ParseKubeCube(v, 100)
		if err != nil {
			if kubegate.ErrorCode(err) != kubegate.EInvalid {
				t.Fatalf("%q: non-400 error %v", raw, err)
			}
			return
		}
		if q.PageNum < 1 || q.PageSize < 0 || q.PageSize > 100 || len(q.SortPath) == 0 {
			t.Fatalf("%q parsed to an invalid query %+v", raw, q)
		}
		// Evaluating the query never panics.
		c := listquery.NewPager(q, 100)
		_ = c.Add(json.RawMessage(obj("a", "b", map[string]string{"k": "v"}, 1, "2024-01-01T00:00:00Z")))
		_, _ = c.Page()
	})
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"metadata.name", "metadata.labels[app.kubernetes.io/name]", "a[b].c", "[x]", "a..b", "a["} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := listquery.ParsePath(s)
		if err != nil {
			return
		}
		for _, seg := range p {
			if seg == "" {
				t.Fatalf("%q parsed with an empty segment: %q", s, p)
			}
		}
	})
}

// Selectors are bounded: each limit is a 400 that names it.
func TestSelectorLimits(t *testing.T) {
	many := func(n int, sep string, f func(int) string) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = f(i)
		}
		return strings.Join(parts, sep)
	}
	for sel, want := range map[string]string{
		"metadata.name~" + strings.Repeat("a", listquery.MaxSelectorBytes):                          "bytes long; the limit is 8192",
		many(listquery.MaxConditions+1, ",", func(i int) string { return fmt.Sprintf("k%d=v", i) }): "33 conditions; the limit is 32",
		"metadata.name=" + many(listquery.MaxAlternatives+1, "|", strconv.Itoa):                     "65 alternatives; the limit is 64",
		many(5, ",", func(int) string { return "a=" + many(60, "|", strconv.Itoa) }):                "more than 256 alternatives",
		many(300000, "|", strconv.Itoa):                                                             "the limit is 8192",
	} {
		_, err := listquery.ParseSelector(sel)
		if kubegate.ErrorCode(err) != kubegate.EInvalid || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "selector") {
			t.Errorf("selector of %d bytes: %v, want a 400 saying %q", len(sel), err, want)
		}
	}
	if _, err := listquery.ParseSelector(many(listquery.MaxConditions, ",", func(i int) string { return fmt.Sprintf("k%d=%s", i, many(8, "|", strconv.Itoa)) })); err != nil {
		t.Fatalf("a selector at the limits: %v", err)
	}
}

// KubeCube's own guide sends every parameter, empty: an empty value is the
// default, so the template is a plain first page.
func TestEmptyValuesAreDefaults(t *testing.T) {
	v, _ := url.ParseQuery("selector=&pageSize=&pageNum=&sortName=&sortOrder=&sortFunc=")
	q, err := listquery.ParseKubeCube(v, 5000)
	if err != nil {
		t.Fatal(err)
	}
	want := &listquery.Query{SortPath: listquery.Path{"metadata", "name"}, PageSize: 10, PageNum: 1}
	if !reflect.DeepEqual(q, want) {
		t.Fatalf("the empty template = %+v, want %+v", q, want)
	}
	v, _ = url.ParseQuery("page=&pageSize=&name=&fuzzyName=&sortBy=&sortDir=")
	if q, err := listquery.ParseDCE(v, 5000, listquery.KubernetesShape); err != nil || q.PageSize != 10 || q.PageNum != 1 || len(q.Conds) != 0 || !q.Desc {
		t.Fatalf("DCE's empty parameters = %+v, %v", q, err)
	}
}

// Everything after metadata.labels. or metadata.annotations. is one key, as in
// KubeCube, in selectors and sortName alike; the bracket form stays.
func TestDottedLabelAndAnnotationKeys(t *testing.T) {
	for in, want := range map[string]listquery.Path{
		"metadata.labels.app.kubernetes.io/name":                 {"metadata", "labels", "app.kubernetes.io/name"},
		"metadata.annotations.deployment.kubernetes.io/revision": {"metadata", "annotations", "deployment.kubernetes.io/revision"},
		"Metadata.Labels.App":                                    {"metadata", "labels", "App"},
		"metadata.labels[app.kubernetes.io/name]":                {"metadata", "labels", "app.kubernetes.io/name"},
		"metadata.labels.app":                                    {"metadata", "labels", "app"},
	} {
		got, err := listquery.ParsePath(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("ParsePath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	objs := []map[string]any{
		{"metadata": map[string]any{"name": "a", "labels": map[string]any{"app.kubernetes.io/name": "web"}}},
		{"metadata": map[string]any{"name": "b", "labels": map[string]any{"app.kubernetes.io/name": "api"}}},
		{"metadata": map[string]any{"name": "c", "labels": map[string]any{"app": "web"}}},
	}
	conds, err := listquery.ParseSelector("metadata.labels.app.kubernetes.io/name=web")
	if err != nil {
		t.Fatal(err)
	}
	q := &listquery.Query{Conds: conds}
	var matched []string
	for _, o := range objs {
		if q.Match(o) {
			matched = append(matched, o["metadata"].(map[string]any)["name"].(string))
		}
	}
	if strings.Join(matched, ",") != "a" {
		t.Fatalf("matched %v, want [a]", matched)
	}
}

// A page may start at most MaxOffset matches in, in both dialects: deeper, the
// query would hold every match before the page; a huge page number would
// overflow. Both are a 400 naming the parameter, never a panic.
func TestPagingDepthIsBounded(t *testing.T) {
	for _, raw := range []string{
		"pageSize=5000&pageNum=1000",
		"pageSize=4&pageNum=4611686018427387904",
		"pageSize=1&pageNum=10002",
	} {
		q, _ := url.ParseQuery(raw)
		if _, err := listquery.ParseKubeCube(q, 5000); kubegate.ErrorCode(err) != kubegate.EInvalid || !strings.Contains(err.Error(), "parameter pageNum") {
			t.Errorf("KubeCube %s: %v, want a 400 naming pageNum", raw, err)
		}
		dce, _ := url.ParseQuery(strings.Replace(raw, "pageNum", "page", 1))
		if _, err := listquery.ParseDCE(dce, 5000, listquery.DCEShape{}); kubegate.ErrorCode(err) != kubegate.EInvalid || !strings.Contains(err.Error(), "parameter page") {
			t.Errorf("DCE %s: %v, want a 400 naming page", raw, err)
		}
	}
	q, _ := url.ParseQuery("pageSize=1&pageNum=10001") // starts exactly MaxOffset in
	if _, err := listquery.ParseKubeCube(q, 5000); err != nil {
		t.Errorf("the deepest page allowed: %v", err)
	}
}

// Rancher Steve's operators, beside KubeCube's: a set (in, notin), an order on
// numbers and times (<, >), and whether a key exists (key, !key).
func TestSteveOperators(t *testing.T) {
	items := []map[string]any{
		{"metadata": map[string]any{"name": "web", "labels": map[string]any{"app": "web", "tier": "front"}, "creationTimestamp": "2026-01-02T00:00:00Z"}, "spec": map[string]any{"replicas": 3.0}},
		{"metadata": map[string]any{"name": "api", "labels": map[string]any{"app": "api"}, "creationTimestamp": "2026-03-01T00:00:00Z"}, "spec": map[string]any{"replicas": 10.0}},
		{"metadata": map[string]any{"name": "db", "creationTimestamp": "2025-12-31T23:00:00Z"}, "spec": map[string]any{"replicas": 1.0}},
	}
	for selector, want := range map[string]string{
		"metadata.labels.app in (web, api)":                      "web,api",
		"metadata.labels.app notin (web)":                        "api,db", // db has no app label: not in the set
		"name in (db)":                                           "db",
		"spec.replicas>2":                                        "web,api",
		"spec.replicas<3":                                        "db",
		"spec.replicas>2.5,spec.replicas<4":                      "web",
		"metadata.creationTimestamp>2026-01-01T00:00:00Z":        "web,api",
		"metadata.creationTimestamp<2026-01-01T08:00:00+08:00":   "db",
		"metadata.labels.tier":                                   "web",
		"!metadata.labels.tier":                                  "api,db",
		"metadata.labels[app]":                                   "web,api",
		"metadata.labels.app in (web,api),!metadata.labels.tier": "api",
		"name=x in (y)":                                          "", // KubeCube's =: the value is "x in (y)"
	} {
		conds, err := listquery.ParseSelector(selector)
		if err != nil {
			t.Errorf("%s: %v", selector, err)
			continue
		}
		q := &listquery.Query{Conds: conds}
		var got []string
		for _, it := range items {
			if q.Match(it) {
				got = append(got, it["metadata"].(map[string]any)["name"].(string))
			}
		}
		if strings.Join(got, ",") != want {
			t.Errorf("%s: %v, want %s", selector, got, want)
		}
	}
}

// refCond is the reference meaning of one condition over a path's values.
func refCond(c listquery.Cond, vals []string) bool {
	num := func(v string) (float64, bool) {
		if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
			return f, true
		}
		if tm, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(v)); err == nil {
			return float64(tm.UnixNano()) / 1e9, true
		}
		return 0, false
	}
	hit := false
	for _, v := range vals {
		switch c.Op {
		case listquery.Exists, listquery.NotExists:
			hit = true
		case listquery.Lt, listquery.Gt:
			x, ok1 := num(v)
			y, ok2 := num(c.Values[0])
			hit = hit || ok1 && ok2 && (c.Op == listquery.Lt && x < y || c.Op == listquery.Gt && x > y)
		case listquery.Fuzzy, listquery.NotFuzzy:
			for _, w := range c.Values {
				hit = hit || strings.Contains(strings.ToLower(v), w)
			}
		default: // =, !=, in, notin
			hit = hit || slices.Contains(c.Values, v)
		}
	}
	switch c.Op {
	case listquery.NotEq, listquery.NotFuzzy, listquery.NotIn, listquery.NotExists:
		return !hit
	}
	return hit
}

// randomObjects makes n objects named prefix-<i> with random labels (dotted
// keys among them), replicas (some missing), creation times (some missing) and
// namespaces.
func randomObjects(rng *rand.Rand, prefix string, n int) []string {
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	var objs []string
	for i := range n {
		labels := map[string]string{"app": pick(testApps...), "tier": pick("a", "b", "c")}
		if rng.IntN(3) == 0 {
			labels["app.kubernetes.io/name"] = pick(testApps...)
		}
		var replicas any
		if rng.IntN(4) != 0 {
			replicas = rng.IntN(5)
		}
		created := time.Date(2024, 1, 1, 0, 0, rng.IntN(10), 0, time.UTC).Format(time.RFC3339)
		if rng.IntN(8) == 0 {
			created = ""
		}
		objs = append(objs, obj(fmt.Sprintf("%s-%d", prefix, i), pick("ns1", "ns2", "ns3"), labels, replicas, created))
	}
	return objs
}

var testApps = []string{"web", "Web", "api", "db", "cache", "web-api"}

// randomQuery makes a random KubeCube query: up to three conditions with every
// operator (KubeCube's and Steve's), a sort, an order and a page.
func randomQuery(t *testing.T, rng *rand.Rand) (*listquery.Query, url.Values) {
	t.Helper()
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	var sel []string
	for range rng.IntN(4) {
		key := pick("metadata.labels.app", "metadata.labels.tier", "metadata.labels[app.kubernetes.io/name]", "metadata.namespace", "spec.replicas",
			"spec.template.spec.containers.name", "Metadata.Name", "name", "metadata.creationTimestamp")
		val := pick(testApps...) + pick("", "|"+pick(testApps...))
		switch {
		case strings.Contains(key, "tier"):
			val = pick("a", "b", "c", "a|c")
		case strings.Contains(key, "replicas"):
			val = strconv.Itoa(rng.IntN(5))
		case strings.Contains(key, "namespace"):
			val = pick("ns1", "ns2", "NS", "s")
		case strings.Contains(key, "creation"):
			val = time.Date(2024, 1, 1, 0, 0, rng.IntN(10), 0, time.UTC).Format(time.RFC3339)
		case strings.Contains(key, "ame"):
			val = pick("o-1", "o-2", "O-", "1")
		}
		switch rng.IntN(10) {
		case 0, 1, 2, 3:
			sel = append(sel, key+pick("=", "~", "!=", "!~")+val)
		case 4:
			sel = append(sel, key+pick(" in ", " notin ")+"("+strings.ReplaceAll(val, "|", ", ")+")")
		case 5, 6:
			if strings.Contains(key, "replicas") || strings.Contains(key, "creation") {
				sel = append(sel, key+pick("<", ">")+val)
			} else {
				sel = append(sel, "spec.replicas"+pick("<", ">")+strconv.Itoa(rng.IntN(5)))
			}
		default:
			sel = append(sel, pick("", "!")+pick(key, "metadata.labels[app.kubernetes.io/name]", "spec.replicas", "metadata.labels.nothing"))
		}
	}
	v := url.Values{}
	if len(sel) > 0 {
		v.Set("selector", strings.Join(sel, ","))
	}
	sortName, sortFunc := pick("metadata.name", "metadata.creationTimestamp", "spec.replicas", "metadata.labels.app", "CreationTimestamp"), ""
	switch sortName {
	case "metadata.creationTimestamp", "CreationTimestamp":
		sortFunc = pick("time", "string")
	case "spec.replicas":
		sortFunc = pick("number", "string")
	}
	v.Set("sortName", sortName)
	if sortFunc != "" {
		v.Set("sortFunc", sortFunc)
	}
	v.Set("sortOrder", pick("asc", "desc"))
	v.Set("pageSize", strconv.Itoa(rng.IntN(8)))
	v.Set("pageNum", strconv.Itoa(1+rng.IntN(5)))
	q, err := listquery.ParseKubeCube(v, 5000)
	if err != nil {
		t.Fatalf("%s: %v", v.Encode(), err)
	}
	return q, v
}
