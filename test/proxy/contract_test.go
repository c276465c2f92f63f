package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/kubegate/kubegate/apidocs"
)

// contract validates real responses against the OpenAPI document Swagger UI
// serves, and remembers which documented operations were exercised.
type contract struct {
	t      *testing.T
	doc    *openapi3.T
	router routers.Router
	seen   map[string]bool
}

func newContract(t *testing.T) *contract {
	t.Helper()
	raw, err := apidocs.Document()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the document is not valid OpenAPI: %v", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &contract{t: t, doc: doc, router: router, seen: map[string]bool{}}
}

// route finds the operation of a request: the router's, or for the proxy paths
// no list shape names, the generic {kubernetesPath}, which holds slashes that the
// router's path variables do not.
func (c *contract) route(req *http.Request) (*routers.Route, map[string]string) {
	c.t.Helper()
	const proxy = "/api/v1/cube/proxy/clusters/{cluster}/{kubernetesPath}"
	if route, params, err := c.router.FindRoute(req); err == nil && route.Path != proxy {
		return route, params
	}
	if rest, ok := strings.CutPrefix(req.URL.Path, "/api/v1/cube/proxy/clusters/"); ok {
		cluster, kpath, _ := strings.Cut(rest, "/")
		item := c.doc.Paths.Value(proxy)
		op := item.GetOperation(req.Method)
		if op == nil {
			c.t.Fatalf("%s %s is not documented", req.Method, proxy)
		}
		return &routers.Route{Spec: c.doc, Path: proxy, PathItem: item, Method: req.Method, Operation: op},
			map[string]string{"cluster": cluster, "kubernetesPath": kpath}
	}
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		c.t.Fatalf("%s %s matches no documented operation: %v", req.Method, req.URL.Path, err)
	}
	return route, params
}

// call makes a request and checks request and response against the document;
// a status the operation does not document, or a body not of its schema, fails.
func (c *contract) call(method, path, token string, body any, wantCode int) []byte {
	c.t.Helper()
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			c.t.Fatal(err)
		}
	}
	req, err := http.NewRequestWithContext(context.Background(), method, shared.url+path, bytes.NewReader(raw))
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := shared.client.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	if resp.StatusCode != wantCode {
		c.t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, wantCode, got)
	}
	vreq, _ := http.NewRequestWithContext(context.Background(), method, path, bytes.NewReader(raw))
	vreq.Header = req.Header
	route, params := c.route(vreq)
	c.seen[method+" "+route.Path] = true
	if err := c.validate(route, params, vreq, resp.StatusCode, resp.Header, got, wantCode < 400); err != nil {
		c.t.Fatalf("%s %s (%d) does not match the document: %v\n%s", method, path, resp.StatusCode, err, got)
	}
	return got
}

// validate checks the response, and the request too when it is one the document
// allows (the error cases send what it does not, on purpose).
func (c *contract) validate(route *routers.Route, params map[string]string, req *http.Request, code int, header http.Header, body []byte, checkRequest bool) error {
	in := &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true, MultiError: true},
	}
	if checkRequest && req.Body != nil {
		b, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(b))
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			return fmt.Errorf("request: %w", err)
		}
	}
	return openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: code, Header: header, Body: io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	})
}

// Every documented operation answers as documented — statuses and bodies, errors
// included — and every one of them is exercised here.
func TestEveryDocumentedOperationMatchesItsSchema(t *testing.T) {
	seedDeployments(t)
	c := newContract(t)
	cl := shared.clusters[0].Name

	// Sessions.
	var login struct{ Token string }
	_ = json.Unmarshal(c.call("POST", "/api/v1/cube/login", "", map[string]string{"name": "admin", "password": adminPassword, "loginType": "normal"}, 200), &login)
	admin := login.Token
	c.call("POST", "/api/v1/cube/login", "", map[string]string{"name": "admin", "password": "wrong-password"}, 401)
	c.call("GET", "/api/v1/cube/whoami", admin, nil, 200)
	c.call("GET", "/api/v1/cube/whoami", "", nil, 401)

	// Users.
	var user struct{ ID string }
	_ = json.Unmarshal(c.call("POST", "/api/v1/cube/users", admin, map[string]any{"name": "contract", "password": "contract-password"}, 201), &user)
	c.call("GET", "/api/v1/cube/users", admin, nil, 200)
	c.call("GET", "/api/v1/cube/users/contract", admin, nil, 200)
	c.call("PATCH", "/api/v1/cube/users/contract", admin, map[string]any{"description": "for the contract"}, 200)
	c.call("GET", "/api/v1/cube/users/nobody", admin, nil, 404)
	c.call("GET", "/apis/ghippo.io/v1alpha1/users?search=contr&page=0&pageSize=5", admin, nil, 200)
	c.call("GET", "/apis/ghippo.io/v1alpha1/current-user", admin, nil, 200)
	var session struct{ Token string }
	_ = json.Unmarshal(c.call("POST", "/api/v1/cube/login", "", map[string]string{"name": "contract", "password": "contract-password"}, 200), &session)
	c.call("POST", "/api/v1/cube/user/password", session.Token, map[string]string{"oldPassword": "contract-password", "newPassword": "contract-password-2"}, 204)
	c.call("POST", "/api/v1/cube/logout", admin, nil, 204)
	_ = json.Unmarshal(c.call("POST", "/api/v1/cube/login", "", map[string]string{"name": "admin", "password": adminPassword}, 200), &login)
	admin = login.Token

	// Teams.
	c.call("POST", "/api/v1/cube/teams", admin, map[string]any{"name": "contract-team", "description": "for the contract", "members": []string{"contract"}}, 201)
	c.call("POST", "/api/v1/cube/teams", admin, map[string]any{"name": "Contract Team"}, 400)
	c.call("POST", "/api/v1/cube/teams", admin, map[string]any{"name": "ghosts", "members": []string{"nobody"}}, 400)
	c.call("GET", "/api/v1/cube/teams", admin, nil, 200)
	c.call("GET", "/api/v1/cube/teams/contract-team", admin, nil, 200)
	c.call("GET", "/api/v1/cube/teams/no-such-team", admin, nil, 404)
	c.call("PATCH", "/api/v1/cube/teams/contract-team", admin, map[string]any{"description": "changed", "members": []string{}}, 200)
	c.call("PUT", "/api/v1/cube/teams/contract-team/members/contract", admin, nil, 200)
	c.call("PUT", "/api/v1/cube/teams/contract-team/members/nobody", admin, nil, 400)
	c.call("DELETE", "/api/v1/cube/teams/contract-team/members/contract", admin, nil, 200)
	var grant struct{ ID string }
	_ = json.Unmarshal(c.call("POST", "/api/v1/cube/grants", admin, map[string]any{
		"subject": map[string]string{"kind": "Team", "name": "contract-team"}, "role": "view", "clusters": []string{"*"}, "namespaces": []string{"contract"}}, 201), &grant)
	c.call("POST", "/api/v1/cube/grants", admin, map[string]any{
		"subject": map[string]string{"kind": "Team", "name": "contract-team"}, "role": "cluster-admin", "clusters": []string{"*"}, "clusterWide": true}, 400)
	c.call("GET", "/api/v1/cube/grants", admin, nil, 200)
	c.call("GET", "/api/v1/cube/access?pageSize=2", admin, nil, 200)
	c.call("GET", "/api/v1/cube/access?pageSize=51", admin, nil, 400)
	c.call("GET", "/api/v1/cube/users/contract/access?pageSize=2", admin, nil, 200)
	c.call("GET", "/api/v1/cube/users/no-such-user/access", admin, nil, 404)
	c.call("GET", "/api/v1/cube/grants/"+grant.ID, admin, nil, 200)
	c.call("GET", "/api/v1/cube/grants/gnosuchgrant", admin, nil, 404)
	c.call("DELETE", "/api/v1/cube/grants/"+grant.ID, admin, nil, 200)
	c.call("DELETE", "/api/v1/cube/grants/"+grant.ID, admin, nil, 404)
	c.call("DELETE", "/api/v1/cube/teams/contract-team", admin, nil, 200)
	c.call("DELETE", "/api/v1/cube/teams/contract-team", admin, nil, 404)

	// Access keys and tokens, both dialects.
	var key struct{ AccessKey, SecretKey string }
	_ = json.Unmarshal(c.call("POST", "/api/v1/cube/key/create", admin, map[string]string{"description": "contract"}, 200), &key)
	c.call("GET", "/api/v1/cube/key", admin, nil, 200)
	c.call("PATCH", "/api/v1/cube/key?accessKey="+key.AccessKey, admin, map[string]string{"description": "renamed"}, 200)
	c.call("GET", "/api/v1/cube/key/token?accessKey="+key.AccessKey+"&secretKey="+key.SecretKey, "", nil, 200)
	c.call("GET", "/api/v1/cube/key/token?accessKey="+key.AccessKey+"&secretKey=wrong-secret", "", nil, 401)
	c.call("POST", "/api/v1/cube/key/token", "", map[string]string{"accessKey": key.AccessKey, "secretKey": key.SecretKey}, 200)
	c.call("GET", "/apis/ghippo.io/v1alpha1/token?ak="+key.AccessKey+"&sk="+key.SecretKey+"&cycle=1", "", nil, 200)
	c.call("POST", "/apis/ghippo.io/v1alpha1/token", "", map[string]string{"ak": key.AccessKey, "sk": key.SecretKey}, 200)
	c.call("GET", "/apis/ghippo.io/v1alpha1/token?ak="+key.AccessKey, "", nil, 400)
	c.call("DELETE", "/api/v1/cube/key?accessKey="+key.AccessKey, admin, nil, 200)
	c.call("DELETE", "/api/v1/cube/key?accessKey="+key.AccessKey, admin, nil, 404)
	c.call("GET", "/.well-known/jwks.json", "", nil, 200)
	c.call("GET", "/.well-known/openid-configuration", "", nil, 200)
	c.call("POST", "/api/v1/cube/signing-keys/rotate", admin, nil, 200)

	// Personal access tokens.
	var pat struct{ ID, Token string }
	_ = json.Unmarshal(c.call("POST", "/apis/ghippo.io/v1alpha1/current-user/accesstoken", admin,
		map[string]string{"name": "contract", "expiredAt": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, 200), &pat)
	c.call("GET", "/apis/ghippo.io/v1alpha1/current-user/accesstokens", pat.Token, nil, 200)
	c.call("DELETE", "/apis/ghippo.io/v1alpha1/current-user/accesstokens/"+pat.ID, admin, nil, 200)
	c.call("POST", "/apis/ghippo.io/v1alpha1/users/"+user.ID+"/accesstoken", admin, map[string]string{"name": "for-contract"}, 200)
	var theirs struct {
		Items []struct{ ID string }
	}
	_ = json.Unmarshal(c.call("GET", "/apis/ghippo.io/v1alpha1/users/"+user.ID+"/accesstokens", admin, nil, 200), &theirs)
	c.call("DELETE", "/apis/ghippo.io/v1alpha1/users/"+user.ID+"/accesstokens/"+theirs.Items[0].ID, admin, nil, 200)
	c.call("DELETE", "/apis/ghippo.io/v1alpha1/users/"+user.ID+"/accesstokens/"+theirs.Items[0].ID, admin, nil, 404)

	// Clusters, both dialects' views.
	c.call("GET", "/api/v1/cube/clusters", admin, nil, 200)
	c.call("GET", "/api/v1/cube/clusters/"+cl, admin, nil, 200)
	c.call("GET", "/api/v1/cube/clusters/"+cl+"/kubeconfig", admin, nil, 200)
	c.call("GET", "/api/v1/cube/clusters/info?pageNum=1&pageSize=5", admin, nil, 200)
	kc := "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\nusers:\n- name: u\n  user: {token: t}\n"
	c.call("POST", "/api/v1/cube/clusters", admin, map[string]string{"name": "contract-cluster", "kubeconfig": kc}, 201)
	c.call("DELETE", "/api/v1/cube/clusters/contract-cluster", admin, nil, 200)
	c.call("POST", "/api/v1/cube/clusters", admin, map[string]string{"name": "contract-cluster", "kubeconfig": strings.Replace(kc, "{token: t}", "{tokenFile: /etc/passwd}", 1)}, 400)
	c.call("GET", "/apis/kpanda.io/v1alpha1/clusters?phase=Running&sortBy=field_name&sortDir=asc", admin, nil, 200)
	c.call("GET", "/apis/kpanda.io/v1alpha1/clusters?phase=Asleep", admin, nil, 400)
	c.call("GET", "/apis/kpanda.io/v1alpha1/clusters/"+cl, admin, nil, 200)
	c.call("GET", "/apis/kpanda.io/v1alpha1/clusters/no-such-cluster", admin, nil, 404)
	c.call("GET", "/apis/kpanda.io/v1alpha1/clusters/"+cl+"/deployments?pageSize=3&sortBy=state", admin, nil, 200)
	c.call("GET", "/apis/kpanda.io/v1alpha1/clusters/"+cl+"/namespaces/ns-a/deployments?phase=Not_Ready&pageSize=3", admin, nil, 200)
	c.call("GET", "/apis/kpanda.io/v1alpha1/clusters/"+cl+"/gvr/core/v1/namespaces?showDetail=true&pageSize=2", admin, nil, 200)
	c.call("GET", "/apis/kpanda.io/v1alpha1/clusters/"+cl+"/gvr/apps/v1/namespaces/ns-b/deployments?pageSize=2&sortBy=created_at", admin, nil, 200)
	c.call("GET", "/apis/kpanda.io/v1alpha1/clusters/"+cl+"/deployments?bogus=1", admin, nil, 400)
	c.call("GET", "/apis/kpanda.io/v1alpha1/asl/deployments?cluster="+cl+"&cluster="+shared.clusters[1].Name+"&namespace=ns-a&pageSize=3&sortBy=field_name", admin, nil, 200)
	c.call("GET", "/apis/kpanda.io/v1alpha1/asl/deployments?cluster=Bad_Name", admin, nil, 400)

	// The proxy, a list query and a pass-through; and the cluster's own error.
	c.call("GET", "/api/v1/cube/proxy/clusters/"+cl+"/apis/apps/v1/namespaces/ns-a/deployments?sortName=CreationTimestamp&sortOrder=desc&pageSize=20&pageNum=2", admin, nil, 200)
	c.call("GET", "/api/v1/cube/proxy/clusters/"+cl+"/api/v1/namespaces/ns-a/deployments?pageSize=x", admin, nil, 400)
	c.call("GET", "/api/v1/cube/proxy/clusters/no-such-cluster/version", admin, nil, 404)
	c.call("GET", "/api/v1/cube/proxy/clusters/"+cl+"/api/v1/namespaces/ns-a/configmaps?pageSize=2", admin, nil, 200)
	c.call("GET", "/api/v1/cube/proxy/clusters/"+cl+"/api/v1/namespaces?sortName=metadata.name&pageSize=2", admin, nil, 200)
	c.call("GET", "/api/v1/cube/proxy/clusters/"+cl+"/apis/apps/v1/deployments?selector=metadata.namespace=ns-a&pageSize=2", admin, nil, 200)
	// Across clusters: every cluster, or a set named; only lists.
	c.call("GET", "/api/v1/cube/proxy/clusters/*/apis/apps/v1/deployments?selector=metadata.namespace=ns-a&pageSize=2&strict=true", admin, nil, 200)
	c.call("GET", "/api/v1/cube/proxy/clusters/"+cl+","+shared.clusters[1].Name+"/api/v1/namespaces/ns-a/configmaps?pageSize=2", admin, nil, 200)
	c.call("GET", "/api/v1/cube/proxy/clusters/*/api/v1/namespaces/ns-a/configmaps/x", admin, nil, 400)
	c.call("GET", "/api/v1/cube/proxy/clusters/a,a/api/v1/namespaces?pageSize=2", admin, nil, 400)

	// The credential policy: read by anyone, replaced by administrators (here with
	// the starting policy, so the tests sharing the gateway see no change).
	c.call("GET", "/api/v1/cube/settings/credential-policy", admin, nil, 200)
	c.call("PUT", "/api/v1/cube/settings/credential-policy", admin, map[string]any{"keyMaxLifetime": "0s", "keyExpiryRequired": false, "tokenMaxLifetime": "8760h"}, 200)
	c.call("PUT", "/api/v1/cube/settings/credential-policy", admin, map[string]any{"keyMaxLifetime": "1m", "keyExpiryRequired": false, "tokenMaxLifetime": "8760h"}, 400)
	c.call("PUT", "/api/v1/cube/settings/credential-policy", admin, map[string]any{"keyMaxLifetime": "0s"}, 400)

	// Audit and operations.
	c.call("GET", "/api/v1/cube/audit?user=admin&pageSize=5", admin, nil, 200)
	c.call("GET", "/api/v1/cube/audit?since=yesterday", admin, nil, 400)
	c.call("DELETE", "/api/v1/cube/users/contract", admin, nil, 200)
	c.call("GET", "/healthz", "", nil, 200)
	c.call("GET", "/readyz", "", nil, 200)

	var missing []string
	for path, item := range c.doc.Paths.Map() {
		for method := range item.Operations() {
			if !c.seen[method+" "+path] {
				missing = append(missing, method+" "+path)
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("documented operations not exercised:\n%s", strings.Join(missing, "\n"))
	}
}

// The contract check is not a formality: a response that strays from its schema
// fails it.
func TestContractCatchesAStrayResponse(t *testing.T) {
	c := newContract(t)
	req, _ := http.NewRequestWithContext(context.Background(), "GET", "/apis/kpanda.io/v1alpha1/clusters", nil)
	route, params := c.route(req)
	for name, body := range map[string]string{
		"a phase outside the enum":         `{"items":[{"metadata":{"name":"c"},"spec":{},"status":{"phase":"Healthy"}}],"pagination":{"page":1,"pageSize":10,"total":1}}`,
		"a creation time that is a number": `{"items":[{"metadata":{"name":"c","creationTimestamp":1700000000},"spec":{},"status":{}}],"pagination":{"page":1,"pageSize":10,"total":1}}`,
		"no pagination":                    `{"items":[]}`,
	} {
		h := http.Header{"Content-Type": {"application/json"}}
		if err := c.validate(route, params, req, 200, h, []byte(body), false); err == nil {
			t.Errorf("%s passed the contract", name)
		}
	}
}
