package api

import (
	"net/http"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/httpapi"
)

// getPolicy: GET /api/v1/cube/settings/credential-policy, for everyone: the
// console tells users the limits before they hit them.
func (a api) getPolicy(w http.ResponseWriter, _ *http.Request, _ *kubegate.Identity) error {
	return httpapi.WriteJSON(w, http.StatusOK, a.o.Accounts.Policy())
}

// putPolicy: PUT /api/v1/cube/settings/credential-policy, administrators in a
// console session. A policy is replaced whole: every field is required.
func (a api) putPolicy(w http.ResponseWriter, r *http.Request, _ *kubegate.Identity) error {
	var p kubegate.CredentialPolicy
	if err := httpapi.DecodeJSON(w, r, &p, false); err != nil {
		return err
	}
	if err := a.o.Accounts.SetPolicy(r.Context(), p); err != nil {
		return err
	}
	return httpapi.WriteJSON(w, http.StatusOK, a.o.Accounts.Policy())
}
