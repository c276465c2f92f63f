package api

import (
	"net/http"
	"strings"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/cluster"
	"github.com/kubegate/kubegate/kubeproxy"
)

// clusterView is a cluster as the API shows it: never its credentials.
type clusterView struct {
	Name        string            `json:"name"`
	Server      string            `json:"server"`
	Description string            `json:"description"`
	Labels      map[string]string `json:"labels,omitempty"`
	CreatedAt   string            `json:"createdAt"`
	Health      healthView        `json:"health"`
}

type healthView struct {
	Status    string `json:"status"`
	Version   string `json:"version,omitempty"`
	Message   string `json:"message,omitempty"`
	LastCheck string `json:"lastCheck,omitempty"`
}

func toClusterView(c kubegate.Cluster) clusterView {
	return clusterView{
		Name: c.Name, Server: c.Server, Description: c.Description, Labels: c.Labels, CreatedAt: timeString(c.CreatedAt),
		Health: healthView{Status: c.Health.Status, Version: c.Health.Version, Message: c.Health.Message, LastCheck: timeString(c.Health.CheckedAt)},
	}
}

type registerClusterRequest struct {
	Name        string            `json:"name"`
	Kubeconfig  string            `json:"kubeconfig"`
	Context     string            `json:"context"`
	Description string            `json:"description"`
	Labels      map[string]string `json:"labels"`
}

func (a *API) registerCluster(w http.ResponseWriter, r *http.Request, _ *kubegate.Identity) error {
	var req registerClusterRequest
	if err := decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	if req.Kubeconfig == "" {
		return kubegate.Errorf(kubegate.EInvalid, "kubeconfig is required (the file's content)")
	}
	c, err := cluster.FromKubeconfig(req.Name, []byte(req.Kubeconfig), req.Context)
	if err != nil {
		return err
	}
	if err := validateDescription(req.Description); err != nil {
		return err
	}
	c.Description, c.Labels = req.Description, req.Labels
	c, err = a.opts.Clusters.Register(r.Context(), c)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, toClusterView(c))
}

func validateDescription(d string) error {
	if len(d) > 1024 {
		return kubegate.Errorf(kubegate.EInvalid, "description must be at most 1024 bytes")
	}
	return nil
}

func (a *API) listClusters(w http.ResponseWriter, _ *http.Request, _ *kubegate.Identity) error {
	clusters := a.opts.Clusters.List()
	items := make([]clusterView, 0, len(clusters))
	for _, c := range clusters {
		items = append(items, toClusterView(c))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"total": len(items), "items": items})
}

func (a *API) getCluster(w http.ResponseWriter, r *http.Request, _ *kubegate.Identity) error {
	c, err := a.opts.Clusters.Get(r.PathValue("name"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toClusterView(c))
}

func (a *API) deleteCluster(w http.ResponseWriter, r *http.Request, _ *kubegate.Identity) error {
	name := r.PathValue("name")
	if err := a.opts.Clusters.Delete(r.Context(), name); err != nil {
		return err
	}
	return writeSuccess(w, "cluster "+name+" deleted")
}

// externalURL is the gateway's URL as clients reach it: --external-url, or the
// request's own scheme and host.
func (a *API) externalURL(r *http.Request) string {
	if a.opts.ExternalURL != "" {
		return strings.TrimSuffix(a.opts.ExternalURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// clusterKubeconfig returns a kubeconfig that points kubectl at the gateway's proxy
// for the cluster and authenticates through `kubegate token`, an exec credential
// plugin that exchanges the user's access key pair. client-go sends credentials
// only over TLS, so kubectl needs the gateway to serve HTTPS.
func (a *API) clusterKubeconfig(w http.ResponseWriter, r *http.Request, id *kubegate.Identity) error {
	c, err := a.opts.Clusters.Get(r.PathValue("name"))
	if err != nil {
		return err
	}
	base := a.externalURL(r)
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[c.Name] = &clientcmdapi.Cluster{Server: base + kubeproxy.Prefix + c.Name, CertificateAuthorityData: a.opts.ExternalCAData}
	cfg.AuthInfos["kubegate-"+id.Name] = &clientcmdapi.AuthInfo{Exec: &clientcmdapi.ExecConfig{
		APIVersion: "client.authentication.k8s.io/v1",
		Command:    "kubegate",
		Args:       []string{"token", "--server", base},
		InstallHint: "kubegate token exchanges your access key pair for a token: install the kubegate binary and set " +
			"KUBEGATE_ACCESS_KEY and KUBEGATE_SECRET_KEY (create a pair under Access keys in the console).",
		InteractiveMode: clientcmdapi.NeverExecInteractiveMode,
		// The plugin learns the gateway's CA from KUBERNETES_EXEC_INFO.
		ProvideClusterInfo: true,
	}}
	cfg.Contexts[c.Name] = &clientcmdapi.Context{Cluster: c.Name, AuthInfo: "kubegate-" + id.Name}
	cfg.CurrentContext = c.Name
	out, err := clientcmd.Write(*cfg)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/yaml")
	w.Header().Set("Content-Disposition", `attachment; filename="kubeconfig-`+c.Name+`.yaml"`)
	_, err = w.Write(out)
	return err
}

// kpandaClusters is DCE's cluster list: {"items", "pagination"}.
func (a *API) kpandaClusters(w http.ResponseWriter, r *http.Request, _ *kubegate.Identity) error {
	page, size, _, err := pageParams(r)
	if err != nil {
		return err
	}
	all := a.opts.Clusters.List()
	start := min((page-1)*size, len(all))
	end := min(start+size, len(all))
	type kpandaCluster struct {
		Name              string            `json:"name"`
		Server            string            `json:"server"`
		Description       string            `json:"description"`
		Labels            map[string]string `json:"labels,omitempty"`
		KubernetesVersion string            `json:"kubernetesVersion"`
		Status            string            `json:"status"`
		CreatedAt         string            `json:"createdAt"`
	}
	items := make([]kpandaCluster, 0, end-start)
	for _, c := range all[start:end] {
		items = append(items, kpandaCluster{
			Name: c.Name, Server: c.Server, Description: c.Description, Labels: c.Labels,
			KubernetesVersion: c.Health.Version, Status: c.Health.Status, CreatedAt: epochMillis(c.CreatedAt),
		})
	}
	return writeJSON(w, http.StatusOK, map[string]any{"items": items, "pagination": newPagination(page, size, len(all))})
}
