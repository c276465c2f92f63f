package kubegate

import (
	"net/url"
	"regexp"
	"time"
	"unicode/utf8"
)

// ClusterCredentials is how the gateway authenticates to a cluster. It is stored
// encrypted and never returned by the API.
type ClusterCredentials struct {
	BearerToken string `json:"bearerToken,omitempty"`
	// BearerTokenFile is re-read as it rotates (the in-cluster service account).
	BearerTokenFile string `json:"bearerTokenFile,omitempty"`
	ClientCertData  []byte `json:"clientCertData,omitempty"`
	ClientKeyData   []byte `json:"clientKeyData,omitempty"`
	Username        string `json:"username,omitempty"`
	Password        string `json:"password,omitempty"`
}

// ClusterHealth is the outcome of the last health check of a cluster. It is the
// runtime state of each replica, kept in its memory and never stored: it is not
// configuration, and writing it would notify every replica of every flap.
type ClusterHealth struct {
	Status    string // Ready, Unreachable, Unauthorized, Unknown
	Version   string // the cluster's Kubernetes version, when reachable
	Message   string
	CheckedAt time.Time
}

// ListCacheStatus is what the list cache does for one cluster: the collections
// it holds, and those the gateway may not cache (their lists are answered by
// the cluster), with why.
type ListCacheStatus struct {
	Enabled     bool // the gateway runs a list cache (--list-cache)
	Collections []CachedCollection
	Refused     []RefusedCollection
}

// CachedCollection is one collection the list cache holds.
type CachedCollection struct {
	Path    string // cluster-wide, e.g. /apis/apps/v1/deployments
	Objects int
	Healthy bool // its watch is healthy: the cache answers
}

// RefusedCollection is a collection the gateway's identity may not list and
// watch.
type RefusedCollection struct {
	Path     string
	Resource string // e.g. deployments.apps
	Reason   string
}

// Cluster is a Kubernetes cluster registered with the gateway.
type Cluster struct {
	Name                  string // unique
	Server                string // the apiserver URL
	CAData                []byte // PEM; empty: system roots
	TLSServerName         string
	InsecureSkipTLSVerify bool
	Credentials           ClusterCredentials
	Description           string
	Labels                map[string]string
	CreatedAt             time.Time
	UpdatedAt             time.Time
}

// clusterName is a DNS-1123 label: it appears in URL paths and kubeconfig names.
var clusterName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// Limits of a cluster's descriptive fields.
const (
	maxClusterDescription = 1024
	maxClusterLabels      = 64
	maxClusterLabelLen    = 253
)

// ValidateClusterName says what is wrong with a cluster name.
func ValidateClusterName(name string) error {
	if !clusterName.MatchString(name) {
		return Errorf(EInvalid, "cluster name %q is invalid: use 1-63 lower-case letters, digits or '-', starting and ending with a letter or digit", name)
	}
	return nil
}

// Validate says what is wrong with a cluster's registration, whatever path it came
// by (the API, a --cluster flag, the in-cluster configuration).
func (c Cluster) Validate() error {
	if err := ValidateClusterName(c.Name); err != nil {
		return err
	}
	u, err := url.Parse(c.Server)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return Errorf(EInvalid, "cluster %s: server %q must be an http(s) URL with a host and no user, query or fragment", c.Name, c.Server)
	}
	cr := c.Credentials
	if cr.BearerToken == "" && cr.BearerTokenFile == "" && len(cr.ClientCertData) == 0 && cr.Username == "" {
		return Errorf(EInvalid, "cluster %s has no credentials (token, client certificate or basic auth)", c.Name)
	}
	if (len(cr.ClientCertData) == 0) != (len(cr.ClientKeyData) == 0) {
		return Errorf(EInvalid, "cluster %s: a client certificate needs its key, and a key its certificate", c.Name)
	}
	if len(c.Description) > maxClusterDescription || !utf8.ValidString(c.Description) {
		return Errorf(EInvalid, "cluster %s: description must be valid UTF-8 of at most %d bytes", c.Name, maxClusterDescription)
	}
	if len(c.Labels) > maxClusterLabels {
		return Errorf(EInvalid, "cluster %s: at most %d labels", c.Name, maxClusterLabels)
	}
	for k, v := range c.Labels {
		if k == "" || len(k) > maxClusterLabelLen || len(v) > maxClusterLabelLen || !utf8.ValidString(k) || !utf8.ValidString(v) {
			return Errorf(EInvalid, "cluster %s: label %q must have a non-empty key and key and value of at most %d bytes", c.Name, k, maxClusterLabelLen)
		}
	}
	return nil
}
