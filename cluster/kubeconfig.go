package cluster

import (
	"os"
	"regexp"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kubegate/kubegate"
)

// clusterName is a DNS-1123 label: it appears in URL paths and kubeconfig names.
var clusterName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// ValidateName says what is wrong with a cluster name.
func ValidateName(name string) error {
	if !clusterName.MatchString(name) {
		return kubegate.Errorf(kubegate.EInvalid, "cluster name %q is invalid: use 1-63 lower-case letters, digits or '-', starting and ending with a letter or digit", name)
	}
	return nil
}

// FromKubeconfig reads the server and the credentials of one context of a
// kubeconfig (the current one when context is ""). Files a kubeconfig refers to
// are read now, so the stored cluster does not depend on them. Exec and
// auth-provider plugins cannot run inside the gateway and are refused.
func FromKubeconfig(name string, kubeconfig []byte, context string) (kubegate.Cluster, error) {
	if err := ValidateName(name); err != nil {
		return kubegate.Cluster{}, err
	}
	cfg, err := clientcmd.Load(kubeconfig)
	if err != nil {
		return kubegate.Cluster{}, kubegate.Errorf(kubegate.EInvalid, "kubeconfig is not valid: %v", err)
	}
	if context == "" {
		context = cfg.CurrentContext
	}
	ctx, ok := cfg.Contexts[context]
	if !ok {
		return kubegate.Cluster{}, kubegate.Errorf(kubegate.EInvalid, "kubeconfig has no context %q", context)
	}
	cl, ok := cfg.Clusters[ctx.Cluster]
	if !ok || cl.Server == "" {
		return kubegate.Cluster{}, kubegate.Errorf(kubegate.EInvalid, "kubeconfig context %q names no cluster with a server", context)
	}
	auth := cfg.AuthInfos[ctx.AuthInfo]
	if auth == nil {
		auth = &clientcmdapi.AuthInfo{}
	}
	if auth.Exec != nil || auth.AuthProvider != nil {
		return kubegate.Cluster{}, kubegate.Errorf(kubegate.EInvalid, "kubeconfig user %q uses an exec or auth-provider plugin, which the gateway cannot run: use a token or a client certificate", ctx.AuthInfo)
	}
	c := kubegate.Cluster{
		Name: name, Server: cl.Server, TLSServerName: cl.TLSServerName, InsecureSkipTLSVerify: cl.InsecureSkipTLSVerify,
		Credentials: kubegate.ClusterCredentials{Username: auth.Username, Password: auth.Password},
	}
	read := func(data []byte, file, what string) ([]byte, error) {
		if len(data) > 0 || file == "" {
			return data, nil
		}
		b, err := os.ReadFile(file) //nolint:gosec // files named by an admin's kubeconfig or --cluster flag.
		if err != nil {
			return nil, kubegate.Errorf(kubegate.EInvalid, "kubeconfig %s file: %v", what, err)
		}
		return b, nil
	}
	if c.CAData, err = read(cl.CertificateAuthorityData, cl.CertificateAuthority, "certificate-authority"); err != nil {
		return kubegate.Cluster{}, err
	}
	if c.Credentials.ClientCertData, err = read(auth.ClientCertificateData, auth.ClientCertificate, "client-certificate"); err != nil {
		return kubegate.Cluster{}, err
	}
	if c.Credentials.ClientKeyData, err = read(auth.ClientKeyData, auth.ClientKey, "client-key"); err != nil {
		return kubegate.Cluster{}, err
	}
	token, err := read([]byte(auth.Token), auth.TokenFile, "token")
	if err != nil {
		return kubegate.Cluster{}, err
	}
	c.Credentials.BearerToken = string(token)
	if c.Credentials.BearerToken == "" && len(c.Credentials.ClientCertData) == 0 && c.Credentials.Username == "" {
		return kubegate.Cluster{}, kubegate.Errorf(kubegate.EInvalid, "kubeconfig user %q has no credentials (token, client certificate or basic auth)", ctx.AuthInfo)
	}
	return c, nil
}
