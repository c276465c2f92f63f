// Package kubecube serves what is KubeCube's own in the gateway's API: the access
// key exchange at /api/v1/cube/key/token, as KubeCube's OpenAPI guide calls it.
package kubecube

import (
	"net/http"
	"time"

	"github.com/kubegate/kubegate/api/exchange"
	"github.com/kubegate/kubegate/filters"
	"github.com/kubegate/kubegate/internal/httpapi"
)

// Options configures the KubeCube routes.
type Options struct {
	Exchanger exchange.Exchanger
	// MaxTokenTTL is named when a requested lifetime is clamped.
	MaxTokenTTL time.Duration
}

// Register adds KubeCube's routes to mux:
// GET|POST /api/v1/cube/key/token?accessKey=&secretKey=[&expiresIn=].
func Register(mux *http.ServeMux, o Options) {
	// expiresIn (seconds) is kubegate's addition; the lifetime defaults to the
	// token policy's.
	params := exchange.Params{AccessKey: "accessKey", SecretKey: "secretKey", Lifetime: "expiresIn", Unit: time.Second}
	token := exchange.Handler(o.Exchanger, params, o.MaxTokenTTL)
	mux.Handle(filters.KubeCubeTokenPath, httpapi.Methods{http.MethodGet: token, http.MethodPost: token})
}
