// Package kubecube serves what is KubeCube's own in the gateway's API: the access
// key exchange at /api/v1/cube/key/token, as KubeCube's OpenAPI guide calls it,
// and the cluster enumeration at /api/v1/cube/clusters/info in KubeCube's shape.
package kubecube

import (
	"net/http"
	"time"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/api/exchange"
	"github.com/kubegate/kubegate/httpapi"
	"github.com/kubegate/kubegate/request"
)

// Clusters is the cluster registry as KubeCube's cluster info reads it.
type Clusters interface {
	List() []kubegate.Cluster
	Get(name string) (kubegate.Cluster, error)
	Health(name string) kubegate.ClusterHealth
}

// Options configures the KubeCube routes.
type Options struct {
	Exchanger exchange.Exchanger
	// MaxTokenTTL is named when a requested lifetime is clamped.
	MaxTokenTTL time.Duration
	Clusters    Clusters
}

type api struct{ o Options }

// Register adds KubeCube's routes to mux:
// GET|POST /api/v1/cube/key/token?accessKey=&secretKey=[&expiresIn=] and
// GET /api/v1/cube/clusters/info.
func Register(mux *http.ServeMux, o Options) {
	a := api{o}
	mux.Handle(request.CubePrefix+"clusters/info", httpapi.Methods{http.MethodGet: httpapi.Authed(a.clustersInfo)})
	// expiresIn (seconds) is kubegate's addition; the lifetime defaults to the
	// token policy's.
	params := exchange.Params{AccessKey: "accessKey", SecretKey: "secretKey", Lifetime: "expiresIn", Unit: time.Second}
	token := exchange.Handler(o.Exchanger, params, o.MaxTokenTTL)
	mux.Handle(request.KubeCubeTokenPath, httpapi.Methods{http.MethodGet: token, http.MethodPost: token})
}
