package api

import (
	"net/http"
	"strings"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/cluster"
	"github.com/kubegate/kubegate/httpapi"
	"github.com/kubegate/kubegate/request"
)

// clusterView is a cluster as the API shows it: never its credentials.
type clusterView struct {
	Name        string            `json:"name"`
	Server      string            `json:"server,omitempty"` // administrators only
	Description string            `json:"description"`
	Labels      map[string]string `json:"labels,omitempty"`
	CreatedAt   string            `json:"createdAt"`
	Health      healthView        `json:"health"`
	ListCache   listCacheView     `json:"listCache"`
}

// listCacheView says whether the cluster's lists can come from the gateway's
// cache and, to administrators, what it holds and, for each collection the
// gateway may not cache, why.
type listCacheView struct {
	Enabled     bool                   `json:"enabled"`
	Collections []cachedCollectionView `json:"collections"`
	Refused     []refusedView          `json:"refused"`
}

type cachedCollectionView struct {
	Collection string `json:"collection"`
	Objects    int    `json:"objects"`
	Healthy    bool   `json:"healthy"`
}

type refusedView struct {
	Collection string `json:"collection"`
	Resource   string `json:"resource"`
	Reason     string `json:"reason"`
}

type healthView struct {
	Status    string `json:"status"`
	Version   string `json:"version,omitempty"`
	Message   string `json:"message,omitempty"`
	LastCheck string `json:"lastCheck,omitempty"`
}

func (a api) clusterView(c kubegate.Cluster, id *kubegate.Identity) clusterView {
	h := a.o.Clusters.Health(c.Name)
	server := ""
	if id.SeesUpstreams() {
		server = c.Server
	}
	var lc kubegate.ListCacheStatus
	if a.o.ListCache != nil {
		lc = a.o.ListCache(c.Name)
	}
	cache := listCacheView{Enabled: lc.Enabled, Collections: []cachedCollectionView{}, Refused: []refusedView{}}
	if !id.SeesUpstreams() {
		// What is cached, with cluster-wide counts, and what the gateway's own
		// identity may not read are the operator's to see.
		lc.Collections, lc.Refused = nil, nil
	}
	for _, col := range lc.Collections {
		cache.Collections = append(cache.Collections, cachedCollectionView{Collection: col.Path, Objects: col.Objects, Healthy: col.Healthy})
	}
	for _, r := range lc.Refused {
		cache.Refused = append(cache.Refused, refusedView{Collection: r.Path, Resource: r.Resource, Reason: r.Reason})
	}
	return clusterView{
		Name: c.Name, Server: server, Description: c.Description, Labels: c.Labels, CreatedAt: httpapi.TimeString(c.CreatedAt),
		Health:    healthView{Status: h.Status, Version: h.Version, Message: h.Message, LastCheck: httpapi.TimeString(h.CheckedAt)},
		ListCache: cache,
	}
}

type registerClusterRequest struct {
	Name        string            `json:"name"`
	Kubeconfig  string            `json:"kubeconfig"`
	Context     string            `json:"context"`
	Description string            `json:"description"`
	Labels      map[string]string `json:"labels"`
}

func (a api) registerCluster(w http.ResponseWriter, r *http.Request, id *kubegate.Identity) error {
	var req registerClusterRequest
	if err := httpapi.DecodeJSON(w, r, &req, false); err != nil {
		return err
	}
	if req.Kubeconfig == "" {
		return kubegate.Errorf(kubegate.EInvalid, "kubeconfig is required (the file's content)")
	}
	c, err := cluster.FromUploadedKubeconfig(req.Name, []byte(req.Kubeconfig), req.Context)
	if err != nil {
		return err
	}
	c.Description, c.Labels = req.Description, req.Labels
	c, err = a.o.Clusters.Register(r.Context(), c)
	if err != nil {
		return err
	}
	if strings.HasPrefix(c.Server, "http://") {
		w.Header().Add("Warning", `299 - "cluster `+c.Name+` is reached over plain HTTP: the gateway's credentials for it cross the network in clear"`)
	}
	return httpapi.WriteJSON(w, http.StatusCreated, a.clusterView(c, id))
}

func (a api) listClusters(w http.ResponseWriter, _ *http.Request, id *kubegate.Identity) error {
	clusters := id.VisibleClusters(a.o.Clusters.List())
	items := make([]clusterView, 0, len(clusters))
	for _, c := range clusters {
		items = append(items, a.clusterView(c, id))
	}
	return httpapi.WriteJSON(w, http.StatusOK, map[string]any{"total": len(items), "items": items})
}

func (a api) getCluster(w http.ResponseWriter, r *http.Request, id *kubegate.Identity) error {
	if err := id.CheckCluster(r.PathValue("name")); err != nil {
		return err
	}
	c, err := a.o.Clusters.Get(r.PathValue("name"))
	if err != nil {
		return err
	}
	return httpapi.WriteJSON(w, http.StatusOK, a.clusterView(c, id))
}

func (a api) deleteCluster(w http.ResponseWriter, r *http.Request, _ *kubegate.Identity) error {
	name := r.PathValue("name")
	if err := a.o.Clusters.Delete(r.Context(), name); err != nil {
		return err
	}
	return httpapi.WriteSuccess(w, "cluster "+name+" deleted")
}

// clusterKubeconfig returns a kubeconfig that points kubectl at the gateway's proxy
// for the cluster (cluster.GatewayKubeconfig).
func (a api) clusterKubeconfig(w http.ResponseWriter, r *http.Request, id *kubegate.Identity) error {
	if err := id.CheckCluster(r.PathValue("name")); err != nil {
		return err
	}
	c, err := a.o.Clusters.Get(r.PathValue("name"))
	if err != nil {
		return err
	}
	base := httpapi.ExternalURL(w, a.o.ExternalURL, r)
	out, err := cluster.GatewayKubeconfig(c.Name, base+request.ProxyPrefix+c.Name, base, id.Name, a.o.ExternalCAData)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/yaml")
	w.Header().Set("Content-Disposition", `attachment; filename="kubeconfig-`+c.Name+`.yaml"`)
	// A YAML attachment, never rendered: the names in it are validated DNS labels.
	_, err = w.Write(out) //nolint:gosec // see above.
	return err
}
