package kubegate

import (
	"net/url"
	"regexp"
	"unicode/utf8"
)

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
