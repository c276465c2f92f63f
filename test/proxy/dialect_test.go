package proxy

import (
	"encoding/json"
	"net/url"
	"testing"
)

// KubeCube's selector and sortName take dotted label keys as one key:
// metadata.labels.app.kubernetes.io/name is the label app.kubernetes.io/name.
func TestKubeCubeDottedLabelKeys(t *testing.T) {
	seedDeployments(t)
	admin := login(t, "admin", adminPassword)
	c := shared.clusters[0].Name
	list := func(query string) listReply {
		t.Helper()
		r := want200(t, call(t, "GET", proxyURL(c, "/apis/apps/v1/deployments?"+query), admin, nil))
		var l listReply
		if err := json.Unmarshal(r.Body, &l); err != nil {
			t.Fatal(err)
		}
		return l
	}
	l := list("selector=" + url.QueryEscape("metadata.labels.app.kubernetes.io/name=app-042"))
	if l.Total != 1 || len(l.Items) != 1 || l.Items[0].Name != "app-042" {
		t.Fatalf("dotted label key: total %d, items %v", l.Total, names(l.Items))
	}
	// The bracket form still works and agrees.
	if b := list("selector=" + url.QueryEscape("metadata.labels[app.kubernetes.io/name]=app-042")); b.Total != 1 || b.Items[0].Name != "app-042" {
		t.Fatalf("bracket form: %d", b.Total)
	}
	// Fuzzy on a dotted key, sorted by a dotted key, descending.
	l = list("selector=" + url.QueryEscape("metadata.labels.app.kubernetes.io/name~app-04") + "&sortName=" + url.QueryEscape("metadata.labels.app.kubernetes.io/name") + "&sortOrder=desc&pageSize=3")
	if l.Total != 10 || len(l.Items) != 3 || l.Items[0].Name != "app-049" || l.Items[2].Name != "app-047" {
		t.Fatalf("fuzzy dotted key sorted by a dotted key: total %d, %v", l.Total, names(l.Items))
	}
}

// KubeCube's own parameter template, every value empty, is a plain first page.
func TestKubeCubeEmptyTemplate(t *testing.T) {
	seedDeployments(t)
	admin := login(t, "admin", adminPassword)
	r := want200(t, call(t, "GET", proxyURL(shared.clusters[0].Name, "/apis/apps/v1/namespaces/ns-a/deployments?selector=&pageSize=&pageNum=&sortName=&sortOrder=&sortFunc="), admin, nil))
	var l listReply
	if err := json.Unmarshal(r.Body, &l); err != nil {
		t.Fatal(err)
	}
	if l.Total != 125 || len(l.Items) != 10 || l.Items[0].Name != "app-000" || l.Items[9].Name != "app-036" {
		t.Fatalf("the empty template: total %d, %v", l.Total, names(l.Items))
	}
	// Real garbage is still a 400 naming the parameter.
	want(t, call(t, "GET", proxyURL(shared.clusters[0].Name, "/apis/apps/v1/namespaces/ns-a/deployments?pageSize=ten"), admin, nil), 400)
}
