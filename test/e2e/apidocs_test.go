package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/kubegate/kubegate/test/testhttp"
)

// Swagger UI is served at /swagger/index.html, as in KubeCube, and every path the
// document describes is one the gateway actually routes (the document cannot drift
// from the code unnoticed).
func TestSwaggerUIAndDocumentMatchTheRoutes(t *testing.T) {
	_, url := gateway(t)
	r := testhttp.Want(t, testhttp.Call(t, http.DefaultClient, "GET", url+"/swagger/index.html", "", nil), 200)
	if !strings.Contains(string(r.Body), "swagger-ui") || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("index.html = %s", r.Body)
	}
	testhttp.Want(t, testhttp.Call(t, http.DefaultClient, "GET", url+"/swagger/swagger-ui-bundle.js", "", nil), 200)
	init := testhttp.Want(t, testhttp.Call(t, http.DefaultClient, "GET", url+"/swagger/swagger-initializer.js", "", nil), 200)
	if !strings.Contains(string(init.Body), `url: "doc.json"`) {
		t.Fatalf("initializer does not load our document: %s", init.Body)
	}

	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	r = testhttp.Want(t, testhttp.Call(t, http.DefaultClient, "GET", url+"/swagger/doc.json", "", nil), 200)
	if err := json.Unmarshal(r.Body, &doc); err != nil || doc.OpenAPI == "" || len(doc.Paths) < 20 {
		t.Fatalf("doc.json: %v (%d paths)", err, len(doc.Paths))
	}
	sample := strings.NewReplacer("{name}", "someone", "{cluster}", "c1", "{namespace}", "ns", "{group}", "apps",
		"{version}", "v1", "{resource}", "deployments", "{kubernetesPath}", "api/v1/pods")
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" {
				continue
			}
			got := testhttp.Call(t, http.DefaultClient, strings.ToUpper(method), url+sample.Replace(path), "", nil)
			if got.Code == http.StatusMethodNotAllowed || (got.Code == http.StatusNotFound && strings.Contains(string(got.Body), "could not find the requested resource")) {
				t.Errorf("%s %s is documented but not routed: %d %s", strings.ToUpper(method), path, got.Code, got.Body)
			}
		}
	}
}
