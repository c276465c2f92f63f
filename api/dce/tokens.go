package dce

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/httpapi"
)

// PersonalTokens manages personal access tokens (account.Service).
type PersonalTokens interface {
	CreatePersonalToken(ctx context.Context, userID, name string, expiresAt time.Time, scope kubegate.Scope) (kubegate.AccessKey, string, error)
	ListPersonalTokens(ctx context.Context, userID string) ([]kubegate.AccessKey, error)
	DeletePersonalToken(ctx context.Context, userID, id string) error
	User(id string) (kubegate.User, bool)
}

// accessToken is a personal access token as ghippo lists it: times are epoch
// milliseconds in strings, as every ghippo time.
type accessToken struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	CreatedAt string          `json:"createdAt"`
	UpdatedAt string          `json:"updatedAt"`
	ExpiredAt string          `json:"expiredAt"`
	Scope     *kubegate.Scope `json:"scope,omitempty"` // kubegate's addition
}

type createTokenRequest struct {
	Name      string         `json:"name"`
	ExpiredAt string         `json:"expiredAt"`
	Scope     kubegate.Scope `json:"scope"` // kubegate's addition
}

// parseExpiry reads ghippo's expiredAt: RFC 3339, or epoch seconds or milliseconds
// in a string; "" for the longest lifetime allowed.
func parseExpiry(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	switch {
	case err != nil || n <= 0:
		return time.Time{}, kubegate.Errorf(kubegate.EInvalid, "expiredAt must be an RFC 3339 time or epoch seconds or milliseconds, got %q", v)
	case n > 1e11: // milliseconds from 1973 on
		return time.UnixMilli(n), nil
	default:
		return time.Unix(n, 0), nil
	}
}

// tokenOwner is whose tokens a request acts on: the caller's (current-user), or
// the user {id} of the admin forms.
func (a api) tokenOwner(r *http.Request, id *kubegate.Identity) (string, error) {
	uid := r.PathValue("id")
	if uid == "" {
		return id.UserID, nil
	}
	if _, ok := a.o.Tokens.User(uid); !ok {
		return "", kubegate.Errorf(kubegate.ENotFound, "user %q not found", uid)
	}
	return uid, nil
}

// createToken: POST .../current-user/accesstoken or .../users/{id}/accesstoken
// {"name","expiredAt"} → {"id","token"}, the only response with the token.
func (a api) createToken(w http.ResponseWriter, r *http.Request, id *kubegate.Identity) error {
	var req createTokenRequest
	if err := httpapi.DecodeJSON(w, r, &req, false); err != nil {
		return err
	}
	expires, err := parseExpiry(req.ExpiredAt)
	if err != nil {
		return err
	}
	owner, err := a.tokenOwner(r, id)
	if err != nil {
		return err
	}
	k, tok, err := a.o.Tokens.CreatePersonalToken(r.Context(), owner, req.Name, expires, req.Scope)
	if err != nil {
		return err
	}
	return httpapi.WriteJSON(w, http.StatusOK, map[string]string{"id": k.AccessKey, "token": tok})
}

// listTokens: GET .../current-user/accesstokens or .../users/{id}/accesstokens.
func (a api) listTokens(w http.ResponseWriter, r *http.Request, id *kubegate.Identity) error {
	owner, err := a.tokenOwner(r, id)
	if err != nil {
		return err
	}
	tokens, err := a.o.Tokens.ListPersonalTokens(r.Context(), owner)
	if err != nil {
		return err
	}
	items := make([]accessToken, 0, len(tokens))
	for _, k := range tokens {
		t := accessToken{ID: k.AccessKey, Name: k.Name, CreatedAt: epochMillis(k.CreatedAt), UpdatedAt: epochMillis(k.CreatedAt), ExpiredAt: epochMillis(k.ExpiresAt)}
		if !k.Scope.IsZero() {
			t.Scope = &k.Scope
		}
		items = append(items, t)
	}
	return httpapi.WriteJSON(w, http.StatusOK, map[string]any{"items": items})
}

// deleteToken: DELETE .../current-user/accesstokens/{aid} or .../users/{id}/accesstokens/{aid} → {}.
func (a api) deleteToken(w http.ResponseWriter, r *http.Request, id *kubegate.Identity) error {
	owner, err := a.tokenOwner(r, id)
	if err != nil {
		return err
	}
	if err := a.o.Tokens.DeletePersonalToken(r.Context(), owner, r.PathValue("aid")); err != nil {
		return err
	}
	return httpapi.WriteJSON(w, http.StatusOK, map[string]any{})
}

// currentUser: GET /apis/ghippo.io/v1alpha1/current-user, ghippo's GetUserResponse.
func (a api) currentUser(w http.ResponseWriter, _ *http.Request, id *kubegate.Identity) error {
	u, ok := a.o.Tokens.User(id.UserID)
	if !ok {
		return kubegate.Errorf(kubegate.ENotFound, "user %q not found", id.Name)
	}
	return httpapi.WriteJSON(w, http.StatusOK, map[string]any{
		"uid": u.ID, "username": u.Name, "email": u.Email, "locale": "", "source": u.Source, "phoneNumber": "",
		"firstname": u.FirstName, "lastname": u.LastName, "mainAccountId": "", "mainAccountName": "", "inviteUrl": "", "inviteCode": "",
		"canTransferToMain": false, "hasCertified": false, "isMainAccount": true, "isSubAccount": false, "mainAccountWorkspace": "0",
	})
}
