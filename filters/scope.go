package filters

import (
	"net/http"
	"slices"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/httperr"
	"github.com/kubegate/kubegate/request"
)

// WithScope refuses, before anything reaches a cluster, a request its
// credential's scope does not allow (clusters, namespaces, read-only verbs,
// source addresses), with a 403 naming the part of the scope that refused it. The
// scope is the credential's current one, so narrowing it applies to tokens already
// issued. The decision is noted for the audit.
func WithScope(h http.Handler) http.Handler {
	secrets := secretDecoder()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := request.Identity(r.Context())
		if id == nil || id.Scope.IsZero() {
			h.ServeHTTP(w, r)
			return
		}
		if r.URL.Path == request.LogoutPath {
			// Revoking itself only ever narrows what a credential can do: every
			// scope allows it, from anywhere.
			h.ServeHTTP(w, r)
			return
		}
		info := request.InfoFrom(r.Context())
		req := kubegate.ScopeRequest{
			ClientIP: request.ClientIP(r.Context()), Namespace: info.Namespace, Resource: info.IsResourceRequest, Verb: info.Verb,
			SafeMethod: safeMethod(r.Method), Connect: info.Connect, Mints: info.Mints,
		}
		if info.Path != "" && info.PathErr == nil { // a request that reaches a cluster
			req.Cluster = info.Cluster
			if !req.Mints && !id.Scope.MintCredentials {
				mints, err := createsTokenSecret(r, info, secrets)
				if err != nil {
					httperr.Write(w, err)
					return
				}
				req.Mints = mints
			}
		}
		f, _ := r.Context().Value(factsKey).(*facts)
		// A list across clusters is checked for each cluster it names; across
		// all of them, the proxy leaves out the clusters the scope refuses.
		clusters := []string{req.Cluster}
		switch {
		case slices.Equal(info.ClusterSet, []string{request.AllClusters}):
			clusters = []string{""}
		case info.ClusterSet != nil:
			clusters = info.ClusterSet
		}
		for _, c := range clusters {
			req.Cluster = c
			if part, reason := id.Scope.Refuses(req); part != "" {
				if f != nil {
					f.scope = "refused: " + part
				}
				httperr.Write(w, kubegate.Errorf(kubegate.EForbidden, "refused by the credential's scope (%s): %s", part, reason))
				return
			}
		}
		if f != nil {
			f.scope = "allowed"
		}
		h.ServeHTTP(w, r)
	})
}
