package kubegate

import (
	"net/netip"
	"regexp"
	"strings"
)

// Scope narrows what a credential (an access key and the tokens exchanged from
// it, or a personal access token) may do, below what its owner may do: the
// clusters' RBAC still decides inside it. A zero Scope narrows nothing.
type Scope struct {
	// Clusters the credential reaches; empty: every cluster.
	Clusters []string `json:"clusters,omitempty"`
	// Namespaces it reaches: "ns" in any cluster, or "cluster/ns"; empty: every
	// namespace. With namespaces, cluster-wide requests are refused.
	Namespaces []string `json:"namespaces,omitempty"`
	// ReadOnly allows only get, list and watch (and safe methods elsewhere).
	ReadOnly bool `json:"readOnly,omitempty"`
	// Sources are the client addresses or CIDRs it may be used from; empty:
	// anywhere.
	Sources []string `json:"sources,omitempty"`
	// MintCredentials lets a scoped credential make credentials in a cluster
	// (ServiceAccount tokens, certificate signing requests, token Secrets). Off,
	// it may not: such a credential would escape the scope, the gateway's
	// revocation and its audit. It widens nothing by itself.
	MintCredentials bool `json:"mintCredentials,omitempty"`
}

// IsZero says the scope narrows nothing.
func (s Scope) IsZero() bool {
	return len(s.Clusters) == 0 && len(s.Namespaces) == 0 && !s.ReadOnly && len(s.Sources) == 0
}

// namespaceName is a DNS-1123 label, as Kubernetes namespaces are.
var namespaceName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// maxScopeEntries bounds each list of a scope.
const maxScopeEntries = 64

// Validate says what is wrong with a scope, naming the field.
func (s Scope) Validate() error {
	for _, f := range []struct {
		name string
		n    int
	}{{"clusters", len(s.Clusters)}, {"namespaces", len(s.Namespaces)}, {"sources", len(s.Sources)}} {
		if f.n > maxScopeEntries {
			return Errorf(EInvalid, "scope.%s: at most %d entries", f.name, maxScopeEntries)
		}
	}
	for _, c := range s.Clusters {
		if err := ValidateClusterName(c); err != nil {
			return Errorf(EInvalid, "scope.clusters: %s", ErrorMessage(err))
		}
	}
	for _, n := range s.Namespaces {
		cluster, ns, scoped := strings.Cut(n, "/")
		if !scoped {
			ns = cluster
		} else if err := ValidateClusterName(cluster); err != nil {
			return Errorf(EInvalid, "scope.namespaces: %q: %s", n, ErrorMessage(err))
		}
		if !namespaceName.MatchString(ns) {
			return Errorf(EInvalid, "scope.namespaces: %q is not a namespace (or cluster/namespace)", n)
		}
	}
	for _, src := range s.Sources {
		if _, err := ParseSource(src); err != nil {
			return err
		}
	}
	return nil
}

// ParseSource reads a scope's source: an address or a CIDR.
func ParseSource(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, Errorf(EInvalid, "scope.sources: %q is not an address or CIDR", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// readVerbs are what a read-only credential may do.
func readVerb(v string) bool { return v == "get" || v == "list" || v == "watch" }

// ScopeRequest is what a scope is checked against: where a request comes from and
// what it does, as the request classification worked it out.
type ScopeRequest struct {
	ClientIP   string
	Cluster    string // "" for requests that address no cluster
	Namespace  string
	Resource   bool // a Kubernetes resource request
	Verb       string
	SafeMethod bool // GET, HEAD or OPTIONS
	// Connect: the request opens a connection into a workload (exec, attach,
	// port-forward, a pod's, service's or node's proxy), whatever its verb.
	Connect bool
	// Mints: the request makes a credential for the cluster (see
	// Scope.MintCredentials).
	Mints bool
}

// Refuses says which part of the scope refuses the request ("" when none does),
// with the reason, for a 403 that names it.
func (s Scope) Refuses(r ScopeRequest) (part, reason string) {
	if len(s.Sources) > 0 {
		ip, err := netip.ParseAddr(r.ClientIP)
		ok := false
		for _, src := range s.Sources {
			if p, perr := ParseSource(src); perr == nil && err == nil && p.Contains(ip.Unmap()) {
				ok = true
				break
			}
		}
		if !ok {
			return "sources", "the credential may be used only from " + strings.Join(s.Sources, ", ") + ", not from " + r.ClientIP
		}
	}
	if s.ReadOnly {
		if r.Connect {
			return "readOnly", "the credential is read-only (get, list, watch): connecting into a workload (" + r.Verb + " of exec, attach, port-forward or proxy) is refused"
		}
		if (r.Resource && !readVerb(r.Verb)) || (!r.Resource && !r.SafeMethod) {
			return "readOnly", "the credential is read-only (get, list, watch); " + r.Verb + " is refused"
		}
	}
	if r.Mints && !s.MintCredentials && !s.IsZero() {
		return "mintCredentials", "a scoped credential may not make credentials for the cluster (ServiceAccount tokens, certificate signing requests, token Secrets): they would escape its scope; the scope must allow mintCredentials"
	}
	if r.Cluster == "" {
		return "", ""
	}
	if len(s.Clusters) > 0 && !contains(s.Clusters, r.Cluster) {
		return "clusters", "the credential reaches clusters " + strings.Join(s.Clusters, ", ") + ", not " + r.Cluster
	}
	if len(s.Namespaces) > 0 && r.Resource {
		if r.Namespace == "" {
			return "namespaces", "the credential reaches namespaces " + strings.Join(s.Namespaces, ", ") + " only: cluster-wide requests are refused"
		}
		if !contains(s.Namespaces, r.Namespace) && !contains(s.Namespaces, r.Cluster+"/"+r.Namespace) {
			return "namespaces", "the credential reaches namespaces " + strings.Join(s.Namespaces, ", ") + ", not " + r.Namespace + " in " + r.Cluster
		}
	}
	return "", ""
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// ReachesCluster says whether the scope lets its credential reach the named
// cluster at all; what it may do there is Refuses's to say.
func (s Scope) ReachesCluster(name string) bool {
	return len(s.Clusters) == 0 || contains(s.Clusters, name)
}
