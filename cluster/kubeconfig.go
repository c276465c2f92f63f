package cluster

import (
	"os"
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kubegate/kubegate"
)

// Kubeconfigs come at two levels of trust. The operator's own files (--cluster)
// may refer to other files, which are read now, relative to the kubeconfig, so the
// stored cluster does not depend on them. A kubeconfig uploaded through the API must
// carry everything inline: a file reference there would make the gateway read its
// own files (its service-account token, its encryption key) and send them to a
// server of the uploader's choosing.

// FromOperatorKubeconfig reads the server and credentials of one context (the
// current one when context is "") of the kubeconfig file at path.
func FromOperatorKubeconfig(name, path, context string) (kubegate.Cluster, error) {
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		return kubegate.Cluster{}, kubegate.Errorf(kubegate.EInvalid, "kubeconfig %s is not valid: %v", path, err)
	}
	// File references are relative to the kubeconfig, as kubectl reads them.
	if err := clientcmd.ResolveLocalPaths(cfg); err != nil {
		return kubegate.Cluster{}, kubegate.Errorf(kubegate.EInvalid, "kubeconfig %s: %v", path, err)
	}
	return fromConfig(name, cfg, context, func(file, what string) ([]byte, error) {
		b, err := os.ReadFile(filepath.Clean(file))
		if err != nil {
			return nil, kubegate.Errorf(kubegate.EInvalid, "kubeconfig %s file: %v", what, err)
		}
		return b, nil
	})
}

// FromUploadedKubeconfig reads the server and credentials of one context of a
// kubeconfig sent through the API, refusing every file reference with a 400 that
// names the field.
func FromUploadedKubeconfig(name string, kubeconfig []byte, context string) (kubegate.Cluster, error) {
	cfg, err := clientcmd.Load(kubeconfig)
	if err != nil {
		return kubegate.Cluster{}, kubegate.Errorf(kubegate.EInvalid, "kubeconfig is not valid: %v", err)
	}
	return fromConfig(name, cfg, context, func(_, what string) ([]byte, error) {
		return nil, kubegate.Errorf(kubegate.EInvalid,
			"kubeconfig field %s names a file; a kubeconfig sent to the gateway must carry its credentials inline (%s-data, or token)", what, what)
	})
}

// fromConfig builds a registration from one context of cfg; readFile is called
// for each file reference, with the field's name.
func fromConfig(name string, cfg *clientcmdapi.Config, context string, readFile func(file, field string) ([]byte, error)) (kubegate.Cluster, error) {
	if err := kubegate.ValidateClusterName(name); err != nil {
		return kubegate.Cluster{}, err
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
	read := func(data []byte, file, field string) ([]byte, error) {
		if len(data) > 0 || file == "" {
			return data, nil
		}
		return readFile(file, field)
	}
	var err error
	if c.CAData, err = read(cl.CertificateAuthorityData, cl.CertificateAuthority, "certificate-authority"); err != nil {
		return kubegate.Cluster{}, err
	}
	if c.Credentials.ClientCertData, err = read(auth.ClientCertificateData, auth.ClientCertificate, "client-certificate"); err != nil {
		return kubegate.Cluster{}, err
	}
	if c.Credentials.ClientKeyData, err = read(auth.ClientKeyData, auth.ClientKey, "client-key"); err != nil {
		return kubegate.Cluster{}, err
	}
	token, err := read([]byte(auth.Token), auth.TokenFile, "tokenFile")
	if err != nil {
		return kubegate.Cluster{}, err
	}
	c.Credentials.BearerToken = string(token)
	if c.Credentials.BearerToken == "" && len(c.Credentials.ClientCertData) == 0 && c.Credentials.Username == "" {
		return kubegate.Cluster{}, kubegate.Errorf(kubegate.EInvalid, "kubeconfig user %q has no credentials (token, client certificate or basic auth)", ctx.AuthInfo)
	}
	return c, nil
}

// GatewayKubeconfig is a kubeconfig that points kubectl at the gateway's proxy
// for one cluster (server is the proxy URL of that cluster) and authenticates
// through `kubegate token`, an exec credential plugin that exchanges the user's
// access key pair. caData is the gateway's CA, when it has a private one. client-go
// sends credentials only over TLS, so kubectl needs the gateway to serve HTTPS.
func GatewayKubeconfig(clusterName, server, gatewayURL, userName string, caData []byte) ([]byte, error) {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[clusterName] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caData}
	user := "kubegate-" + userName
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{Exec: &clientcmdapi.ExecConfig{
		APIVersion: "client.authentication.k8s.io/v1",
		Command:    "kubegate",
		Args:       []string{"token", "--server", gatewayURL},
		InstallHint: "kubegate token exchanges your access key pair for a token: install the kubegate binary and set " +
			"KUBEGATE_ACCESS_KEY and KUBEGATE_SECRET_KEY (create a pair under Access keys in the console).",
		InteractiveMode: clientcmdapi.NeverExecInteractiveMode,
		// The plugin learns the gateway's CA from KUBERNETES_EXEC_INFO.
		ProvideClusterInfo: true,
	}}
	cfg.Contexts[clusterName] = &clientcmdapi.Context{Cluster: clusterName, AuthInfo: user}
	cfg.CurrentContext = clusterName
	return clientcmd.Write(*cfg)
}
