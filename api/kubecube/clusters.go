package kubecube

import (
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/httpapi"
)

// clusterInfo is a cluster as KubeCube's GET /api/v1/cube/clusters/info shows it.
// kubegate does not collect KubeCube's live usage figures (nodes, namespaces,
// CPU, memory, storage, GPU): they are 0, as KubeCube answers with prune=true.
type clusterInfo struct {
	ClusterName           string            `json:"clusterName"`
	ClusterDescription    string            `json:"clusterDescription"`
	NetworkType           string            `json:"networkType"`
	HarborAddr            string            `json:"harborAddr"`
	IsMemberCluster       bool              `json:"isMemberCluster"`
	IsWritable            bool              `json:"isWritable"`
	CreateTime            time.Time         `json:"createTime"`
	KubeAPIServer         string            `json:"kubeApiServer"`
	Status                string            `json:"status"`
	IngressDomainSuffix   string            `json:"ingressDomainSuffix,omitempty"`
	Labels                map[string]string `json:"labels,omitempty"`
	Annotations           map[string]string `json:"annotations"`
	NodeCount             int               `json:"nodeCount"`
	NamespaceCount        int               `json:"namespaceCount"`
	UsedCPU               int               `json:"usedCpu"`
	TotalCPU              int               `json:"totalCpu"`
	UsedMem               int               `json:"usedMem"`
	TotalMem              int               `json:"totalMem"`
	TotalStorage          int               `json:"totalStorage"`
	UsedStorage           int               `json:"usedStorage"`
	TotalStorageEphemeral int               `json:"totalStorageEphemeral"`
	UsedStorageEphemeral  int               `json:"usedStorageEphemeral"`
	TotalGpu              int               `json:"totalGpu"`
	UsedGpu               int               `json:"usedGpu"`
	UsedCPURequest        int               `json:"usedCpuRequest"`
	UsedCPULimit          int               `json:"usedCpuLimit"`
	UsedMemRequest        int               `json:"usedMemRequest"`
	UsedMemLimit          int               `json:"usedMemLimit"`
}

// KubeCube's cluster states: normal when the gateway reaches the cluster,
// abnormal otherwise.
const (
	stateNormal   = "normal"
	stateAbnormal = "abnormal"
)

// clustersInfo: GET /api/v1/cube/clusters/info[?cluster=&status=&pageNum=&pageSize=]
// → {"total", "items"}, newest first, as KubeCube answers.
func (a api) clustersInfo(w http.ResponseWriter, r *http.Request, id *kubegate.Identity) error {
	q := r.URL.Query()
	for k := range q {
		switch k {
		case "cluster", "status", "project", "nodeLabelSelector", "prune", "pageNum", "pageSize":
		default:
			return kubegate.Errorf(kubegate.EInvalid, "unknown parameter %q; allowed: cluster, status, project, nodeLabelSelector, prune, pageNum, pageSize", k)
		}
	}
	if v := q.Get("prune"); v != "" {
		if _, err := strconv.ParseBool(v); err != nil {
			return kubegate.Errorf(kubegate.EInvalid, "parameter prune must be true or false, got %q", v)
		}
	}
	if name := q.Get("cluster"); name != "" {
		if err := id.CheckCluster(name); err != nil {
			return err
		}
	}
	var items []clusterInfo
	for _, c := range id.VisibleClusters(a.o.Clusters.List()) {
		if name := q.Get("cluster"); name != "" && c.Name != name {
			continue
		}
		status := stateAbnormal
		if a.o.Clusters.Health(c.Name).Status == "Ready" {
			status = stateNormal
		}
		if s := q.Get("status"); s != "" && s != status {
			continue
		}
		ann := map[string]string{"cluster.kubecube.io/cn-name": c.Name}
		server := ""
		if id.SeesUpstreams() {
			server = c.Server
		}
		items = append(items, clusterInfo{
			ClusterName: c.Name, ClusterDescription: c.Description, IsMemberCluster: true, IsWritable: true,
			CreateTime: c.CreatedAt.UTC(), KubeAPIServer: server, Status: status, Labels: c.Labels, Annotations: ann,
		})
	}
	if name := q.Get("cluster"); name != "" && len(items) == 0 {
		if _, err := a.o.Clusters.Get(name); err != nil {
			return err
		}
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].CreateTime.After(items[j].CreateTime) })
	total := len(items)
	if q.Get("pageNum") != "" && q.Get("pageSize") != "" {
		num, err := strconv.Atoi(q.Get("pageNum"))
		if err != nil || num < 1 {
			return kubegate.Errorf(kubegate.EInvalid, "parameter pageNum must be a positive integer, got %q", q.Get("pageNum"))
		}
		size, err := strconv.Atoi(q.Get("pageSize"))
		if err != nil || size < 1 {
			return kubegate.Errorf(kubegate.EInvalid, "parameter pageSize must be a positive integer, got %q", q.Get("pageSize"))
		}
		start := len(items) // pages past the end are empty, however far (and without overflow)
		if num-1 < len(items)/size+1 {
			start = min((num-1)*size, len(items))
		}
		items = items[start:min(start+size, len(items))]
	}
	if items == nil {
		items = []clusterInfo{}
	}
	return httpapi.WriteJSON(w, http.StatusOK, map[string]any{"total": total, "items": items})
}
