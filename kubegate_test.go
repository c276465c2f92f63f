package kubegate_test

import (
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubegate/kubegate"
)

func TestErrorCode(t *testing.T) {
	if got := kubegate.ErrorCode(nil); got != "" {
		t.Fatalf("ErrorCode(nil) = %q, want \"\"", got)
	}
	if got := kubegate.ErrorCode(errors.New("boom")); got != kubegate.EInternal {
		t.Fatalf("a plain error = %q, want internal", got)
	}
	wrapped := fmt.Errorf("context: %w", kubegate.Errorf(kubegate.ENotFound, "gone"))
	if got := kubegate.ErrorCode(wrapped); got != kubegate.ENotFound {
		t.Fatalf("a wrapped *Error = %q, want not_found", got)
	}
}

func TestClusterValidate(t *testing.T) {
	ok := kubegate.Cluster{Name: "prod-1", Server: "https://10.0.0.1:6443", Credentials: kubegate.ClusterCredentials{BearerToken: "t"}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid cluster refused: %v", err)
	}
	for what, c := range map[string]func(*kubegate.Cluster){
		"invalid":                   func(c *kubegate.Cluster) { c.Name = "Prod" },
		"http(s) URL":               func(c *kubegate.Cluster) { c.Server = "ftp://x" },
		"with a host":               func(c *kubegate.Cluster) { c.Server = "https://" },
		"no user, query":            func(c *kubegate.Cluster) { c.Server = "https://u:p@10.0.0.1" },
		"no credentials":            func(c *kubegate.Cluster) { c.Credentials = kubegate.ClusterCredentials{} },
		"needs its key":             func(c *kubegate.Cluster) { c.Credentials.ClientCertData = []byte("cert") },
		"description must be valid": func(c *kubegate.Cluster) { c.Description = strings.Repeat("x", 1025) },
		"non-empty key":             func(c *kubegate.Cluster) { c.Labels = map[string]string{"": "x"} },
	} {
		bad := ok
		c(&bad)
		err := bad.Validate()
		if kubegate.ErrorCode(err) != kubegate.EInvalid || !strings.Contains(err.Error(), what) {
			t.Errorf("%s: err = %v", what, err)
		}
	}
}

type pgError struct{ state string }

func (e pgError) Error() string    { return "pg: " + e.state }
func (e pgError) SQLState() string { return e.state }

// A dependency that is down is a 503 to retry, not a 500 bug.
func TestUnreachableDependenciesAreUnavailable(t *testing.T) {
	for _, err := range []error{
		&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED},
		fmt.Errorf("begin: %w", driver.ErrBadConn),
		fmt.Errorf("query: %w", io.ErrUnexpectedEOF),
		fmt.Errorf("exec: %w", pgError{"57P01"}), // terminating connection due to administrator command
		pgError{"08006"},
	} {
		if kubegate.ErrorCode(err) != kubegate.EUnavailable || strings.Contains(kubegate.ErrorMessage(err), err.Error()) {
			t.Errorf("%v: %s %q", err, kubegate.ErrorCode(err), kubegate.ErrorMessage(err))
		}
	}
	if kubegate.ErrorCode(pgError{"23505"}) != kubegate.EInternal {
		t.Error("a constraint violation is not an outage")
	}
}

func TestScopeRefuses(t *testing.T) {
	s := kubegate.Scope{Clusters: []string{"a"}, Namespaces: []string{"web", "b/db"}, ReadOnly: true, Sources: []string{"10.0.0.0/8", "192.168.1.7"}}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	ok := kubegate.ScopeRequest{ClientIP: "10.1.2.3", Cluster: "a", Namespace: "web", Resource: true, Verb: "list"}
	if part, why := s.Refuses(ok); part != "" {
		t.Fatalf("allowed request refused: %s %s", part, why)
	}
	for want, mod := range map[string]func(*kubegate.ScopeRequest){
		"sources":    func(r *kubegate.ScopeRequest) { r.ClientIP = "192.168.1.8" },
		"readOnly":   func(r *kubegate.ScopeRequest) { r.Verb = "create" },
		"clusters":   func(r *kubegate.ScopeRequest) { r.Cluster = "b" },
		"namespaces": func(r *kubegate.ScopeRequest) { r.Namespace = "" },
	} {
		r := ok
		mod(&r)
		if part, _ := s.Refuses(r); part != want {
			t.Errorf("%s: refused by %q", want, part)
		}
	}
	if part, _ := (kubegate.Scope{Namespaces: []string{"b/db"}}).Refuses(kubegate.ScopeRequest{Cluster: "a", Namespace: "db", Resource: true, Verb: "get"}); part != "namespaces" {
		t.Error("a cluster/namespace entry allowed another cluster's namespace")
	}
	for _, bad := range []kubegate.Scope{{Clusters: []string{"A"}}, {Namespaces: []string{"x/y/z"}}, {Sources: []string{"10.0.0.0/33"}}} {
		if kubegate.ErrorCode(bad.Validate()) != kubegate.EInvalid {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestCredentialPolicyJSON(t *testing.T) {
	p := kubegate.CredentialPolicy{KeyMaxLifetime: 720 * time.Hour, KeyExpiryRequired: true, TokenMaxLifetime: 90 * time.Minute}
	b, err := json.Marshal(p)
	if err != nil || string(b) != `{"keyMaxLifetime":"720h0m0s","keyExpiryRequired":true,"tokenMaxLifetime":"1h30m0s"}` {
		t.Fatalf("marshal: %s %v", b, err)
	}
	var back kubegate.CredentialPolicy
	if err := json.Unmarshal(b, &back); err != nil || back != p {
		t.Fatalf("round trip: %+v %v", back, err)
	}
	for body, want := range map[string]string{
		`{"keyMaxLifetime":"0s","keyExpiryRequired":false}`:                               "all required",
		`{"keyMaxLifetime":"a month","keyExpiryRequired":false,"tokenMaxLifetime":"1h"}`:  "keyMaxLifetime must be a duration",
		`{"keyMaxLifetime":"0s","keyExpiryRequired":false,"tokenMaxLifetime":"1h","x":1}`: "unknown field",
	} {
		err := json.Unmarshal([]byte(body), &back)
		if kubegate.ErrorCode(err) != kubegate.EInvalid || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want a 400 saying %q", body, err, want)
		}
	}
}

// A read-only credential reads the API; it never connects into a workload, even
// with a verb it may use.
func TestReadOnlyScopeRefusesConnects(t *testing.T) {
	ro := kubegate.Scope{ReadOnly: true}
	for _, verb := range []string{"get", "create"} {
		r := kubegate.ScopeRequest{Cluster: "a", Namespace: "x", Resource: true, Verb: verb, SafeMethod: true, Connect: true}
		if part, _ := ro.Refuses(r); part != "readOnly" {
			t.Errorf("a %s connect refused by %q, want readOnly", verb, part)
		}
	}
}

// A scoped credential may not make cluster credentials that would escape its
// scope, unless the scope says so; an unscoped one is the cluster's RBAC to judge.
func TestScopedCredentialsCannotMint(t *testing.T) {
	mint := kubegate.ScopeRequest{Cluster: "a", Namespace: "web", Resource: true, Verb: "create", Mints: true}
	if part, _ := (kubegate.Scope{Namespaces: []string{"web"}}).Refuses(mint); part != "mintCredentials" {
		t.Errorf("a namespace-scoped mint refused by %q, want mintCredentials", part)
	}
	if part, _ := (kubegate.Scope{Namespaces: []string{"web"}, MintCredentials: true}).Refuses(mint); part != "" {
		t.Errorf("a scope allowing mintCredentials refused by %q", part)
	}
	if part, _ := (kubegate.Scope{}).Refuses(mint); part != "" {
		t.Errorf("an unscoped credential refused by %q", part)
	}
}
