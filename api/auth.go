package api

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/account"
	"github.com/kubegate/kubegate/filters"
	"github.com/kubegate/kubegate/token"
)

// SessionCookie carries the console's token, HttpOnly.
const SessionCookie = "kubegate_session"

// Authenticator verifies bearer tokens and session cookies: the signature and
// claims first (cached), then, on every request, that the access key and user are
// still valid, from the in-memory account view.
type Authenticator struct {
	Tokens   *token.Service
	Accounts *account.Service
}

// Authenticate implements filters.Authenticator.
func (a *Authenticator) Authenticate(r *http.Request) (*kubegate.Identity, bool, error) {
	raw, viaCookie := "", false
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, rest, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(rest) == "" {
			return nil, false, kubegate.Errorf(kubegate.EUnauthorized, "the Authorization header must be \"Bearer <token>\"")
		}
		raw = strings.TrimSpace(rest)
	} else if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
		raw, viaCookie = c.Value, true
	} else {
		return nil, false, nil
	}
	id, err := a.Verify(raw)
	return id, viaCookie, err
}

// Verify turns a raw token into the identity it stands for, if still valid.
func (a *Authenticator) Verify(raw string) (*kubegate.Identity, error) {
	claims, err := a.Tokens.Verify(raw)
	if err != nil {
		return nil, err
	}
	if a.Accounts.View().Revoked(claims.ID) {
		return nil, kubegate.Errorf(kubegate.EUnauthorized, "token revoked: logged out")
	}
	id, err := a.Accounts.Check(claims.AccessKey, claims.Subject)
	if err != nil {
		return nil, kubegate.Errorf(kubegate.EUnauthorized, "token revoked: %s", kubegate.ErrorMessage(err))
	}
	id.TokenID = claims.ID
	if claims.ExpiresAt != nil {
		id.TokenExpiresAt = claims.ExpiresAt.Time
	}
	return &id, nil
}

type loginRequest struct {
	Name     string `json:"name"`
	Password string `json:"password"`
}

type userInfo struct {
	Name   string   `json:"name"`
	Groups []string `json:"groups"`
	Admin  bool     `json:"admin"`
}

func (a *API) login(w http.ResponseWriter, r *http.Request) error {
	var req loginRequest
	if err := decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	if req.Name == "" {
		return kubegate.Errorf(kubegate.EInvalid, "name is required")
	}
	if req.Password == "" {
		return kubegate.Errorf(kubegate.EInvalid, "password is required")
	}
	ip := filters.ClientIP(r.Context())
	if err := a.checkBlocked(ip, "user:"+req.Name); err != nil {
		return err
	}
	u, err := a.opts.Accounts.Login(r.Context(), req.Name, req.Password)
	if err != nil {
		if kubegate.ErrorCode(err) == kubegate.EUnauthorized {
			a.perIP.Fail(ip)
			a.perKey.Fail("user:" + req.Name)
		}
		return err
	}
	id := kubegate.Identity{UserID: u.ID, Name: u.Name, Groups: kubegate.GroupsFor(u), Admin: u.Admin}
	issued, err := a.opts.Tokens.Issue(id, a.opts.SessionTTL)
	if err != nil {
		return err
	}
	csrf := make([]byte, 16)
	if _, err := rand.Read(csrf); err != nil {
		return err
	}
	// Secure follows whether the gateway serves HTTPS: over plain HTTP (the demo) a
	// Secure cookie would never come back.
	http.SetCookie(w, &http.Cookie{ //nolint:gosec // see above.
		Name: SessionCookie, Value: issued.Token, Path: "/", Expires: issued.ExpiresAt,
		HttpOnly: true, Secure: a.opts.SecureCookies, SameSite: http.SameSiteLaxMode,
	})
	// Readable by the console's script, which echoes it in X-CSRF-Token.
	http.SetCookie(w, &http.Cookie{ //nolint:gosec // the CSRF cookie must be readable by script; it grants nothing alone.
		Name: filters.CSRFCookie, Value: hex.EncodeToString(csrf), Path: "/", Expires: issued.ExpiresAt,
		Secure: a.opts.SecureCookies, SameSite: http.SameSiteStrictMode,
	})
	return writeJSON(w, http.StatusOK, map[string]any{
		"token": issued.Token, "expiresAt": timeString(issued.ExpiresAt),
		"user": userInfo{Name: u.Name, Groups: id.Groups, Admin: u.Admin},
	})
}

// logout revokes the token the request came with (session cookie or bearer), on
// every replica, and clears the cookies.
func (a *API) logout(w http.ResponseWriter, r *http.Request) error {
	if id := filters.Identity(r.Context()); id != nil {
		if err := a.opts.Accounts.RevokeToken(r.Context(), *id); err != nil {
			return err
		}
	}
	for _, name := range []string{SessionCookie, filters.CSRFCookie} {
		http.SetCookie(w, &http.Cookie{ //nolint:gosec // an expired, empty cookie; Secure follows the listener as at login.
			Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: name == SessionCookie, Secure: a.opts.SecureCookies, SameSite: http.SameSiteLaxMode})
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) whoami(w http.ResponseWriter, _ *http.Request, id *kubegate.Identity) error {
	return writeJSON(w, http.StatusOK, map[string]any{
		"name": id.Name, "groups": id.Groups, "admin": id.Admin, "accessKey": id.AccessKey,
	})
}

type passwordRequest struct {
	OldPassword string `json:"oldPassword"`
	NewPassword string `json:"newPassword"`
}

func (a *API) changePassword(w http.ResponseWriter, r *http.Request, id *kubegate.Identity) error {
	var req passwordRequest
	if err := decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	if req.OldPassword == "" || req.NewPassword == "" {
		return kubegate.Errorf(kubegate.EInvalid, "oldPassword and newPassword are required")
	}
	if err := a.opts.Accounts.ChangePassword(r.Context(), id.UserID, req.OldPassword, req.NewPassword); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
