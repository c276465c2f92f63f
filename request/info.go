// Package request holds the facts about an HTTP request that every layer reads:
// what it is for (the route table and the path parser, worked out once, as the
// Kubernetes apiserver's endpoints/request), who it acts as, where it came from,
// its ID and logger, and the names of the console's cookies. The middleware that
// establishes them lives in filters; everything else only reads them here.
package request

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/kubegate/kubegate"
)

// Route prefixes: the one place that knows which paths are which. The dialect
// packages register their routes under these, and WithInfo classifies by
// them.
const (
	// CubePrefix is the gateway's own API, on KubeCube's paths.
	CubePrefix = "/api/v1/cube/"
	// ProxyPrefix is the cluster proxy: ProxyPrefix + {cluster}/{kubernetes path}.
	ProxyPrefix = CubePrefix + "proxy/clusters/"
	// LogoutPath revokes the token a request comes with.
	LogoutPath = CubePrefix + "logout"
	// KubeCubeTokenPath is KubeCube's access key exchange.
	KubeCubeTokenPath = CubePrefix + "key/token"
	// GhippoPrefix is DCE 5.0's user and token API.
	GhippoPrefix = "/apis/ghippo.io/v1alpha1/"
	// DCETokenPath is DCE 5.0's access key exchange.
	DCETokenPath = GhippoPrefix + "token"
	// KpandaPrefix is DCE 5.0's cluster and resource API.
	KpandaPrefix = "/apis/kpanda.io/v1alpha1/"
	// KpandaClustersPath lists clusters; KpandaClustersPath + "/{cluster}/..."
	// lists a cluster's resources.
	KpandaClustersPath = KpandaPrefix + "clusters"
	// DocsPrefix serves Swagger UI and the OpenAPI document.
	DocsPrefix = "/swagger/"
	// WellKnownPrefix serves the OpenID configuration and the JWKS.
	WellKnownPrefix = "/.well-known/"
	// ConsoleAssetsPrefix serves the web console's script and stylesheet; its
	// pages are the paths isConsolePage names.
	ConsoleAssetsPrefix = "/assets/"
)

// isConsolePage says whether p is a page of the web console.
func isConsolePage(p string) bool {
	switch p {
	case "/", "/login", "/keys", "/password", "/clusters", "/users", "/audit", "/tokens", "/settings", "/teams", "/grants", "/access", "/search":
		return true
	}
	return false
}

// RouteClass is the kind of route a request is for. The set is fixed: it labels
// metrics, so clients cannot grow it.
type RouteClass string

// Route classes.
const (
	ClassProxy   RouteClass = "proxy"   // the cluster proxy
	ClassAdapter RouteClass = "adapter" // a dialect's view of clusters (DCE kpanda)
	ClassToken   RouteClass = "token"   // access key exchange, either dialect
	ClassAPI     RouteClass = "api"     // the gateway's own API, ghippo users, .well-known
	ClassDocs    RouteClass = "docs"    // Swagger UI
	ClassConsole RouteClass = "console" // the web console's pages
	ClassAssets  RouteClass = "assets"  // the console's script and stylesheet: public, unauthenticated
	ClassHealth  RouteClass = "health"  // /healthz, /livez, /readyz, /metrics
	ClassOther   RouteClass = "other"   // anything else (a 404)
)

// Dialect is the platform whose API a route imitates.
type Dialect string

// Dialects.
const (
	DialectNone     Dialect = ""         // the gateway's own
	DialectKubeCube Dialect = "kubecube" // KubeCube's token exchange and proxy
	DialectDCE      Dialect = "dce"      // DCE 5.0's ghippo and kpanda APIs
)

// Info is what a request is, worked out once by filters.WithInfo, as the
// Kubernetes apiserver's Info: audit, metrics, the proxy and the dialect
// adapters read it instead of parsing paths of their own.
type Info struct {
	Class   RouteClass
	Dialect Dialect

	// KubeRequest is what the request asks of a cluster: for a proxy or adapter
	// route, the cluster (unchecked against the registry), the Kubernetes path and
	// its attributes; empty for routes that reach no cluster.
	kubegate.KubeRequest
	// PathErr is why the path of a proxy or adapter route was refused; the handler
	// answers it.
	PathErr error
	// ClusterSet is the set of clusters a proxy path names instead of one, for a
	// list or watch across them: ["*"] for every cluster the caller may reach, or
	// the names (commas in the path); nil for one cluster. Cluster is then the
	// segment as written, for the audit.
	ClusterSet []string

	// Connect says the request opens a connection into a workload: exec, attach
	// and port-forward of a pod, or the proxy subresource of a pod, service or
	// node. The apiserver authorizes exec, attach and port-forward as create
	// whatever the method (a WebSocket GET included); proxy by its method.
	Connect bool
	// Mints says the request makes a credential for the cluster: a
	// ServiceAccount token, a certificate signing request or its approval. (A
	// token Secret is told by its body, which the proxy reads.)
	Mints bool

	// Upgrade says the client asked for a connection upgrade (exec, attach,
	// port-forward, WebSocket watches).
	Upgrade bool
	// LongRunning: watches, followed logs, upgrades and the like, which are kept
	// out of latency metrics.
	LongRunning bool
}

// BearerOnly says the route serves a cluster's content (the proxy, the dialect
// lists), so it takes Authorization: Bearer alone, never the console's cookie.
func (i *Info) BearerOnly() bool {
	return i.Class == ClassProxy || i.Class == ClassAdapter
}

// Classify works out what r is for.
func Classify(r *http.Request) *Info {
	info := &Info{Class: ClassOther, Upgrade: isUpgrade(r.Header)}
	info.Verb = strings.ToLower(r.Method)
	q := r.URL.Query()
	escaped := r.URL.EscapedPath()
	switch p := r.URL.Path; {
	case strings.HasPrefix(escaped, ProxyPrefix):
		info.Class, info.Dialect = ClassProxy, DialectKubeCube
		info.Cluster, info.RawPath, info.Path, info.PathErr = SplitProxyPath(escaped)
		if info.PathErr == nil {
			info.ClusterSet, _ = ParseClusterSet(info.Cluster)
			info.parseKubernetes(r.Method, q)
		} else {
			// Still name the cluster for audit, as far as it is readable.
			info.Cluster, _, _ = strings.Cut(strings.TrimPrefix(escaped, ProxyPrefix), "/")
		}
	case p == KubeCubeTokenPath:
		info.Class, info.Dialect = ClassToken, DialectKubeCube
	case p == DCETokenPath:
		info.Class, info.Dialect = ClassToken, DialectDCE
	case strings.HasPrefix(p, KpandaClustersPath+"/"):
		info.Class, info.Dialect = ClassAdapter, DialectDCE
		rest := strings.TrimPrefix(p, KpandaClustersPath+"/")
		info.Cluster, rest, _ = strings.Cut(rest, "/")
		if rest != "" {
			info.Path, info.PathErr = KpandaPath(rest)
			info.RawPath = info.Path
			if info.PathErr == nil {
				info.parseKubernetes(r.Method, q)
			}
		}
	case strings.HasPrefix(p, KpandaPrefix):
		info.Class, info.Dialect = ClassAdapter, DialectDCE
	case strings.HasPrefix(p, GhippoPrefix):
		info.Class, info.Dialect = ClassAPI, DialectDCE
	case strings.HasPrefix(p, CubePrefix), strings.HasPrefix(p, WellKnownPrefix):
		info.Class = ClassAPI
	case strings.HasPrefix(p, DocsPrefix):
		info.Class = ClassDocs
	case isConsolePage(p):
		info.Class = ClassConsole
	case strings.HasPrefix(p, ConsoleAssetsPrefix):
		info.Class = ClassAssets
	case p == "/healthz" || p == "/livez" || p == "/readyz" || p == "/metrics":
		info.Class = ClassHealth
	}
	info.LongRunning = info.Upgrade || info.Verb == "watch" || isTrue(q, "watch") || isTrue(q, "follow") ||
		info.Subresource == "exec" || info.Subresource == "attach" || info.Subresource == "portforward"
	return info
}

// connectSubresource says whether s of resource opens a connection into a
// workload, and whether the apiserver authorizes it as create whatever the method.
func connectSubresource(group, resource, s string) (connect, create bool) {
	if group != "" {
		return false, false
	}
	switch {
	case resource == "pods" && (s == "exec" || s == "attach" || s == "portforward"):
		return true, true
	case s == "proxy" && (resource == "pods" || resource == "services" || resource == "nodes"):
		return true, false
	}
	return false, false
}

// mints says whether a request with these attributes makes a credential for the
// cluster.
func (i *Info) mints() bool {
	switch {
	case i.APIGroup == "" && i.Resource == "serviceaccounts" && i.Subresource == "token":
		return i.Verb == "create"
	case i.APIGroup == "certificates.k8s.io" && i.Resource == "certificatesigningrequests":
		// Creating one asks for a certificate; approving or writing its status
		// (a signer's job) issues one.
		return (i.Subresource == "" && i.Verb == "create") ||
			((i.Subresource == "approval" || i.Subresource == "status") && (i.Verb == "update" || i.Verb == "patch"))
	}
	return false
}

// namespaceSubresources are the subresources of a namespace itself, as the
// apiserver lists them.
func namespaceSubresource(s string) bool { return s == "status" || s == "finalize" }

// parseKubernetes fills the Kubernetes attributes of info.Path, as the apiserver's
// InfoFactory does: /api/{version}/... and /apis/{group}/{version}/... are
// resource requests, anything else is not.
func (i *Info) parseKubernetes(method string, q url.Values) {
	parts := strings.Split(strings.Trim(i.Path, "/"), "/")
	switch {
	case len(parts) >= 3 && parts[0] == "api":
		i.APIVersion, parts = parts[1], parts[2:]
	case len(parts) >= 4 && parts[0] == "apis":
		i.APIGroup, i.APIVersion, parts = parts[1], parts[2], parts[3:]
	default:
		return // /version, /openapi/v2, /api, /apis/{group}...: not resources
	}
	i.IsResourceRequest = true
	watchPath := false
	if parts[0] == "watch" && len(parts) > 1 { // the deprecated /watch/ form
		watchPath, parts = true, parts[1:]
	}
	if parts[0] == "namespaces" && len(parts) > 1 {
		i.Namespace = parts[1]
		if len(parts) > 2 && !namespaceSubresource(parts[2]) {
			parts = parts[2:]
		}
	}
	switch {
	case len(parts) >= 3:
		i.Subresource = parts[2]
		fallthrough
	case len(parts) == 2:
		i.Name = parts[1]
		fallthrough
	default:
		i.Resource = parts[0]
	}
	switch method {
	case http.MethodGet, http.MethodHead:
		switch {
		case watchPath || isTrue(q, "watch"):
			i.Verb = "watch"
		case i.Name == "":
			i.Verb = "list"
		default:
			i.Verb = "get"
		}
	case http.MethodPost:
		i.Verb = "create"
	case http.MethodPut:
		i.Verb = "update"
	case http.MethodPatch:
		i.Verb = "patch"
	case http.MethodDelete:
		i.Verb = "delete"
		if i.Name == "" {
			i.Verb = "deletecollection"
		}
	}
	var create bool
	i.Connect, create = connectSubresource(i.APIGroup, i.Resource, i.Subresource)
	if create {
		i.Verb = "create"
	}
	i.Mints = i.mints()
}

func isTrue(q url.Values, key string) bool {
	// As the apiserver reads a boolean parameter (Convert_Slice_string_To_bool):
	// present and neither "0" nor "false" is true, "" and "yes" included.
	vs, ok := q[key]
	if !ok || len(vs) == 0 {
		return false
	}
	return vs[0] != "0" && !strings.EqualFold(vs[0], "false")
}

// isUpgrade says whether h asks for a connection upgrade.
func isUpgrade(h http.Header) bool {
	for _, v := range h.Values("Connection") {
		for _, tok := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				return true
			}
		}
	}
	return strings.EqualFold(h.Get("Upgrade"), "websocket")
}

// allowedRoots are the Kubernetes API paths the proxy forwards; nothing else of a
// cluster (or of the gateway) is reachable through it.
func allowedRoot(s string) bool {
	switch s {
	case "api", "apis", "version", "openapi", "healthz", "readyz", "livez":
		return true
	}
	return false
}

// SplitProxyPath takes the escaped request path and returns the cluster and the
// Kubernetes path, refusing anything that could leave the cluster's API: encoded
// slashes or backslashes, "." and ".." segments in any encoding, empty segments, and
// paths outside the Kubernetes API roots.
func SplitProxyPath(escaped string) (clusterName, rawPath, path string, err error) {
	rest, ok := strings.CutPrefix(escaped, ProxyPrefix)
	if !ok {
		return "", "", "", kubegate.Errorf(kubegate.ENotFound, "not a proxy path")
	}
	clusterName, rawPath, _ = strings.Cut(rest, "/")
	if name, err := url.PathUnescape(clusterName); err == nil {
		clusterName = name // a client may escape the set's "*" or ","
	}
	if _, err := ParseClusterSet(clusterName); err != nil {
		return "", "", "", kubegate.Errorf(kubegate.EInvalid, "invalid proxy path: %s", kubegate.ErrorMessage(err))
	}
	rawPath = "/" + rawPath
	lower := strings.ToLower(rawPath)
	if strings.Contains(lower, "%2f") || strings.Contains(lower, "%5c") || strings.Contains(rawPath, "\\") {
		return "", "", "", kubegate.Errorf(kubegate.EInvalid, "invalid proxy path: encoded slashes and backslashes are not allowed")
	}
	path, err = url.PathUnescape(rawPath)
	if err != nil {
		return "", "", "", kubegate.Errorf(kubegate.EInvalid, "invalid proxy path: %v", err)
	}
	segments := strings.Split(path[1:], "/")
	for i, s := range segments {
		switch {
		case s == "." || s == "..":
			return "", "", "", kubegate.Errorf(kubegate.EInvalid, "invalid proxy path: %q segments are not allowed", s)
		case s == "" && i != len(segments)-1:
			return "", "", "", kubegate.Errorf(kubegate.EInvalid, "invalid proxy path: empty segments are not allowed")
		case strings.ContainsAny(s, "\x00\r\n"):
			return "", "", "", kubegate.Errorf(kubegate.EInvalid, "invalid proxy path: control characters are not allowed")
		}
	}
	if !allowedRoot(segments[0]) {
		return "", "", "", kubegate.Errorf(kubegate.ENotFound,
			"the proxy forwards only Kubernetes API paths (/api, /apis, /version, /openapi, /healthz, /readyz, /livez), not %q", path)
	}
	return clusterName, rawPath, path, nil
}

// KpandaPath maps the part of a kpanda path after /clusters/{cluster}/ to the
// Kubernetes path it lists: deployments, namespaces/{ns}/deployments, or
// gvr/{group}/{version}[/namespaces/{ns}]/{resource} ({group} "core" for the legacy
// group).
func KpandaPath(rest string) (string, error) {
	segs := strings.Split(strings.Trim(rest, "/"), "/")
	bad := kubegate.Errorf(kubegate.ENotFound, "unknown kpanda path %q: use deployments, namespaces/{ns}/deployments or gvr/{group}/{version}[/namespaces/{ns}]/{resource}", rest)
	for _, s := range segs {
		if s == "" || s == "." || s == ".." || strings.ContainsAny(s, "\\?#%\x00\r\n") {
			return "", bad
		}
	}
	switch {
	case len(segs) == 1 && segs[0] == "deployments":
		return "/apis/apps/v1/deployments", nil
	case len(segs) == 3 && segs[0] == "namespaces" && segs[2] == "deployments":
		return "/apis/apps/v1/namespaces/" + segs[1] + "/deployments", nil
	case len(segs) >= 4 && segs[0] == "gvr":
		group, version, tail := segs[1], segs[2], segs[3:]
		if len(tail) != 1 && (len(tail) != 3 || tail[0] != "namespaces") {
			return "", bad
		}
		prefix := "/apis/" + group + "/" + version
		if group == "core" {
			prefix = "/api/" + version
		}
		return prefix + "/" + strings.Join(tail, "/"), nil
	}
	return "", bad
}

// AllClusters is the cluster set of every cluster the caller may reach.
const AllClusters = "*"

// MaxClusterSet bounds how many clusters one path may name: each is a query of
// its own.
const MaxClusterSet = 64

// ParseClusterSet reads the cluster segment of a proxy path: one cluster's name
// (set nil), AllClusters (["*"]), or names joined by commas, each valid and
// named once.
func ParseClusterSet(segment string) (set []string, err error) {
	if segment == AllClusters {
		return []string{AllClusters}, nil
	}
	if !strings.Contains(segment, ",") {
		return nil, kubegate.ValidateClusterName(segment)
	}
	names := strings.Split(segment, ",")
	if len(names) > MaxClusterSet {
		return nil, kubegate.Errorf(kubegate.EInvalid, "the path names %d clusters, more than the %d one list may span; use %q for all", len(names), MaxClusterSet, AllClusters)
	}
	for i, n := range names {
		if n == AllClusters {
			return nil, kubegate.Errorf(kubegate.EInvalid, "%q stands alone for every cluster: it cannot be listed with names", AllClusters)
		}
		if err := kubegate.ValidateClusterName(n); err != nil {
			return nil, err
		}
		if slices.Contains(names[:i], n) {
			return nil, kubegate.Errorf(kubegate.EInvalid, "cluster %s is named twice in the cluster set", n)
		}
	}
	return names, nil
}

// ClassifyList is what a GET of kubePath through the proxy, for the cluster
// segment given (a name or a set), would be: for lists made without an HTTP
// request of their own (the console's search), checked as the proxy checks
// a path (PathErr).
func ClassifyList(clusterSegment, kubePath string) *Info {
	u := &url.URL{Path: ProxyPrefix + clusterSegment + kubePath}
	return Classify(&http.Request{Method: http.MethodGet, URL: u, Header: http.Header{}})
}
