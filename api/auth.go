package api

import (
	"crypto/rand"
	"encoding/hex"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/filters"
	"github.com/kubegate/kubegate/httpapi"
	"github.com/kubegate/kubegate/request"
)

type loginRequest struct {
	Name     string `json:"name"`
	Password string `json:"password"`
	// LoginType is KubeCube's: "normal" (a local user and password) is the only
	// kind kubegate has; absent means normal.
	LoginType string `json:"loginType"`
}

type userInfo struct {
	Name   string   `json:"name"`
	Groups []string `json:"groups"`
	Admin  bool     `json:"admin"`
}

// login: a JSON body only, and from the gateway's own origin when the browser
// says where it comes from. A form or text/plain body could be posted cross-site
// without a preflight and log the victim's browser in as the attacker (login CSRF).
func (a api) login(w http.ResponseWriter, r *http.Request) error {
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
		return kubegate.Errorf(kubegate.EMediaType, "login takes a JSON body: send Content-Type: application/json, not %q", r.Header.Get("Content-Type"))
	}
	if origin := r.Header.Get("Origin"); origin != "" && !a.sameOrigin(r, origin) {
		return kubegate.Errorf(kubegate.EForbidden, "cross-origin login from %q refused", origin)
	}
	var req loginRequest
	if err := httpapi.DecodeJSON(w, r, &req, false); err != nil {
		return err
	}
	if req.Name == "" {
		return kubegate.Errorf(kubegate.EInvalid, "name is required")
	}
	if req.Password == "" {
		return kubegate.Errorf(kubegate.EInvalid, "password is required")
	}
	if req.LoginType != "" && req.LoginType != "normal" {
		return kubegate.Errorf(kubegate.EInvalid, "loginType %q is not supported: use normal (a local user and password)", req.LoginType)
	}
	filters.NoteAttempt(r.Context(), req.Name, "")
	s, err := a.o.Sessions.Login(r.Context(), req.Name, req.Password, request.ClientIP(r.Context()))
	if err != nil {
		return err
	}
	csrf := make([]byte, 16)
	if _, err := rand.Read(csrf); err != nil {
		return err
	}
	// Secure follows whether the gateway serves HTTPS: over plain HTTP (the demo) a
	// Secure cookie would never come back.
	filters.SetLoginCookies(w, s.Token.Token, s.Token.ExpiresAt, hex.EncodeToString(csrf), s.Ends, a.o.SecureCookies)
	return httpapi.WriteJSON(w, http.StatusOK, map[string]any{
		"token": s.Bearer.Token, "expiresAt": httpapi.TimeString(s.Bearer.ExpiresAt),
		"user": userInfo{Name: s.User.Name, Groups: kubegate.GroupsFor(s.User), Admin: s.User.Admin},
	})
}

// sameOrigin says whether a browser's Origin header names the gateway itself.
func (a api) sameOrigin(r *http.Request, origin string) bool {
	o, err := url.Parse(origin)
	if err != nil || o.Host == "" {
		return false
	}
	self, err := url.Parse(httpapi.ExternalURL(nil, a.o.ExternalURL, r))
	return err == nil && strings.EqualFold(o.Scheme, self.Scheme) && strings.EqualFold(o.Host, self.Host)
}

// logout revokes the token the request came with (session cookie or bearer), on
// every replica, and clears the cookies.
func (a api) logout(w http.ResponseWriter, r *http.Request) error {
	if id := request.Identity(r.Context()); id != nil {
		if err := a.o.Sessions.Logout(r.Context(), *id); err != nil {
			return err
		}
	}
	filters.ExpireSessionCookies(w, a.o.SecureCookies) // Secure follows the listener, as at login
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a api) whoami(w http.ResponseWriter, _ *http.Request, id *kubegate.Identity) error {
	return httpapi.WriteJSON(w, http.StatusOK, map[string]any{
		"name": id.Name, "groups": id.Groups, "admin": id.Admin, "accessKey": id.AccessKey,
	})
}

type passwordRequest struct {
	OldPassword string `json:"oldPassword"`
	NewPassword string `json:"newPassword"`
}

func (a api) changePassword(w http.ResponseWriter, r *http.Request, id *kubegate.Identity) error {
	var req passwordRequest
	if err := httpapi.DecodeJSON(w, r, &req, false); err != nil {
		return err
	}
	if req.OldPassword == "" || req.NewPassword == "" {
		return kubegate.Errorf(kubegate.EInvalid, "oldPassword and newPassword are required")
	}
	if err := a.o.Sessions.ChangePassword(r.Context(), *id, req.OldPassword, req.NewPassword, request.ClientIP(r.Context())); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
