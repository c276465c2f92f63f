package api

import (
	"net/http"
	"time"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/account"
	"github.com/kubegate/kubegate/httpapi"
)

// keyView is an access key as the API shows it: never the secret.
type keyView struct {
	AccessKey         string `json:"accessKey"`
	User              string `json:"user"`
	Description       string `json:"description"`
	Status            string `json:"status"`
	CreatedAt         string `json:"createdAt"`
	ExpiresAt         string `json:"expiresAt,omitempty"`
	LastUsedAt        string `json:"lastUsedAt,omitempty"`
	LastUsedIP        string `json:"lastUsedIP,omitempty"`
	LastUsedUserAgent string `json:"lastUsedUserAgent,omitempty"`
	// Scope narrows what the key may do; absent for a key that can do what its
	// owner can.
	Scope *kubegate.Scope `json:"scope,omitempty"`
	// Expired says the key is past its expiry (and refused).
	Expired bool `json:"expired,omitempty"`
}

func toKeyView(k kubegate.AccessKey, user string) keyView {
	var scope *kubegate.Scope
	if !k.Scope.IsZero() {
		scope = &k.Scope
	}
	return keyView{
		Scope: scope, Expired: !k.ExpiresAt.IsZero() && !time.Now().Before(k.ExpiresAt),
		AccessKey: k.AccessKey, User: user, Description: k.Description, Status: string(k.Status),
		CreatedAt: httpapi.TimeString(k.CreatedAt), ExpiresAt: httpapi.TimeString(k.ExpiresAt),
		LastUsedAt: httpapi.TimeString(k.LastUsedAt), LastUsedIP: k.LastUsedIP, LastUsedUserAgent: k.LastUsedUserAgent,
	}
}

// keyOwner is whose keys a request acts on: the caller's, or, for an admin naming
// ?user=, that user's.
func (a api) keyOwner(r *http.Request, id *kubegate.Identity) (userID, name string, err error) {
	other := r.URL.Query().Get("user")
	if other == "" || other == id.Name {
		return id.UserID, id.Name, nil
	}
	if !id.Admin {
		return "", "", kubegate.Errorf(kubegate.EForbidden, "only administrators may act on another user's keys")
	}
	u, err := a.o.Accounts.GetUser(r.Context(), other)
	if err != nil {
		return "", "", err
	}
	return u.ID, u.Name, nil
}

type createKeyRequest struct {
	Description string         `json:"description"`
	ExpiresAt   string         `json:"expiresAt"`
	Scope       kubegate.Scope `json:"scope"`
}

func (a api) createKey(w http.ResponseWriter, r *http.Request, id *kubegate.Identity) error {
	var req createKeyRequest
	if err := httpapi.DecodeJSON(w, r, &req, true); err != nil {
		return err
	}
	var expires time.Time
	if req.ExpiresAt != "" {
		t, err := time.Parse(time.RFC3339, req.ExpiresAt)
		if err != nil {
			return kubegate.Errorf(kubegate.EInvalid, "expiresAt must be an RFC 3339 time such as 2030-01-02T15:04:05Z, got %q", req.ExpiresAt)
		}
		expires = t
	}
	userID, name, err := a.keyOwner(r, id)
	if err != nil {
		return err
	}
	k, secret, err := a.o.Accounts.CreateKey(r.Context(), userID, account.NewKey{Description: req.Description, ExpiresAt: expires, Scope: req.Scope})
	if err != nil {
		return err
	}
	// The only response that ever carries the secret key.
	return httpapi.WriteJSON(w, http.StatusOK, struct {
		keyView
		SecretKey string `json:"secretKey"`
	}{toKeyView(k, name), secret})
}

func (a api) listKeys(w http.ResponseWriter, r *http.Request, id *kubegate.Identity) error {
	userID, name, err := a.keyOwner(r, id)
	if err != nil {
		return err
	}
	keys, err := a.o.Accounts.ListKeys(r.Context(), userID)
	if err != nil {
		return err
	}
	items := make([]keyView, 0, len(keys))
	for _, k := range keys {
		items = append(items, toKeyView(k, name))
	}
	return httpapi.WriteJSON(w, http.StatusOK, map[string]any{"total": len(items), "items": items})
}

func accessKeyParam(r *http.Request) (string, error) {
	ak := r.URL.Query().Get("accessKey")
	if ak == "" {
		return "", kubegate.Errorf(kubegate.EInvalid, "parameter accessKey is required")
	}
	return ak, nil
}

type updateKeyRequest struct {
	Status      *kubegate.KeyStatus `json:"status"`
	Description *string             `json:"description"`
	// Scope replaces the key's scope (an empty object removes it); it applies to
	// the key's tokens already issued, within a second.
	Scope *kubegate.Scope `json:"scope"`
}

func (a api) updateKey(w http.ResponseWriter, r *http.Request, id *kubegate.Identity) error {
	ak, err := accessKeyParam(r)
	if err != nil {
		return err
	}
	var req updateKeyRequest
	if err := httpapi.DecodeJSON(w, r, &req, false); err != nil {
		return err
	}
	if req.Status == nil && req.Description == nil && req.Scope == nil {
		return kubegate.Errorf(kubegate.EInvalid, "nothing to change: give status (Active or Inactive), description or scope")
	}
	userID, name, err := a.keyOwner(r, id)
	if err != nil {
		return err
	}
	k, err := a.o.Accounts.UpdateKey(r.Context(), userID, ak, account.KeyPatch{Status: req.Status, Description: req.Description, Scope: req.Scope})
	if err != nil {
		return err
	}
	return httpapi.WriteJSON(w, http.StatusOK, toKeyView(k, name))
}

func (a api) deleteKey(w http.ResponseWriter, r *http.Request, id *kubegate.Identity) error {
	ak, err := accessKeyParam(r)
	if err != nil {
		return err
	}
	userID, _, err := a.keyOwner(r, id)
	if err != nil {
		return err
	}
	if err := a.o.Accounts.DeleteKey(r.Context(), userID, ak); err != nil {
		return err
	}
	return httpapi.WriteSuccess(w, "access key "+ak+" deleted")
}
