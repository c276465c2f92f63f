package kubegate

// ClusterAnnotation marks each object of a list across clusters with the
// cluster it came from, as Clusterpedia and Karmada mark theirs.
const ClusterAnnotation = "kubegate.io/cluster"

// KubeRequest is what a request asks of one cluster's Kubernetes API: the
// cluster, the path, and the attributes the apiserver's authorizer names. The
// proxy, the list cache and the dialect adapters speak it, whatever HTTP route the
// request came by.
type KubeRequest struct {
	// Cluster names the cluster addressed.
	Cluster string
	// Path is the Kubernetes API path (decoded), and RawPath the same as the
	// client escaped it.
	Path    string
	RawPath string

	// IsResourceRequest says Path names resources (/api/{v}/..., /apis/{g}/{v}/...),
	// which the attributes below then describe.
	IsResourceRequest bool
	Verb              string // get, list, watch, create, update, patch, delete, deletecollection; else the lower-case method
	APIGroup          string
	APIVersion        string
	Namespace         string
	Resource          string
	Subresource       string
	Name              string
}

// IsCollection says the request addresses a list of resources, not one.
func (k *KubeRequest) IsCollection() bool {
	return k.IsResourceRequest && k.Name == "" && k.Subresource == ""
}
