package filters

import (
	"crypto/subtle"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/httperr"
	"github.com/kubegate/kubegate/request"
)

// WithClientIP determines the client's address: the connection's peer, unless that
// peer is a trusted proxy, in which case X-Forwarded-For is walked from the right
// to the first address that is not a trusted proxy. A client cannot spoof its
// address by sending X-Forwarded-For itself.
func WithClientIP(h http.Handler, trusted []netip.Prefix) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := peerIP(r.RemoteAddr)
		if isTrusted(ip, trusted) {
			hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
			for i := len(hops) - 1; i >= 0; i-- {
				hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
				if err != nil {
					break
				}
				ip = hop.Unmap()
				if !isTrusted(ip, trusted) {
					break
				}
			}
		}
		s := ""
		if ip.IsValid() {
			s = ip.String()
		}
		h.ServeHTTP(w, r.WithContext(request.WithClientIP(r.Context(), s)))
	})
}

func peerIP(remote string) netip.Addr {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return ip.Unmap()
}

func isTrusted(ip netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Authenticator establishes the identity of a request from its bearer token or
// session cookie (authn.Service). It returns a nil identity for a request that
// carries neither, and an error for one whose credential is invalid or revoked;
// viaCookie says the session cookie was used, which makes state-changing requests
// need the CSRF header. With sessions false the session cookie is ignored.
type Authenticator interface {
	Authenticate(r *http.Request, sessions bool) (id *kubegate.Identity, viaCookie bool, err error)
	// RenewSession returns the next token of a console login due for one (its
	// idle expiry slides while it is used), or an empty token.
	RenewSession(id *kubegate.Identity) (raw string, expires time.Time, err error)
}

// WithAuthentication puts the caller's identity in the context. A presented but
// invalid credential is a 401 at once, as in the Kubernetes apiserver; an absent one
// leaves the request anonymous for the handlers to refuse or serve. A state-changing
// request authenticated by the session cookie must echo the CSRF cookie in the
// X-CSRF-Token header (the double-submit pattern). A console login's cookie is
// renewed as it is used; secureCookies marks the cookies it sets Secure.
func WithAuthentication(h http.Handler, authn Authenticator, secureCookies bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c := request.InfoFrom(r.Context()).Class; c == request.ClassHealth || c == request.ClassAssets {
			h.ServeHTTP(w, r) // probes, scrapers and stylesheets carry no user's credential
			return
		}
		// Routes that serve clusters' content take bearer tokens only: a tenant's page
		// proxied onto the gateway's origin must not act with the console's cookie.
		id, viaCookie, err := authn.Authenticate(r, !request.InfoFrom(r.Context()).BearerOnly())
		if err != nil && viaCookie {
			// A session that ended (logged out elsewhere, password changed, user
			// disabled): forget the cookie and go on anonymous, so that the browser
			// reaches the login page instead of a 401 on every request, login included.
			ExpireSessionCookies(w, secureCookies)
			id, viaCookie, err = nil, false, nil
		}
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="kubegate"`)
			httperr.Write(w, err)
			return
		}
		if id != nil && viaCookie && !safeMethod(r.Method) && !validCSRF(r) {
			httperr.Write(w, kubegate.Errorf(kubegate.EForbidden, "missing or wrong %s header for a cookie-authenticated %s", request.CSRFHeader, r.Method))
			return
		}
		if viaCookie {
			// Best effort: a renewal that fails (the signer's trouble) leaves the
			// current token, still valid, and the request goes on.
			if raw, exp, err := authn.RenewSession(id); err == nil && raw != "" {
				SetSessionCookie(w, raw, exp, secureCookies)
			}
		}
		ctx := r.Context()
		if f, ok := ctx.Value(factsKey).(*facts); ok && id != nil {
			f.user = id.Name
		}
		if id != nil {
			ctx = request.WithIdentity(ctx, id)
		}
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// SetSessionCookie gives the browser a console login's token, HttpOnly, until it
// expires; secure marks it Secure (over plain HTTP a Secure cookie never comes back).
func SetSessionCookie(w http.ResponseWriter, raw string, expires time.Time, secure bool) {
	http.SetCookie(w, &http.Cookie{ //nolint:gosec // Secure as the caller says; see above.
		Name: request.SessionCookie, Value: raw, Path: "/", Expires: expires,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode,
	})
}

// SetLoginCookies starts a console login in the browser: the session cookie (see
// SetSessionCookie) and the CSRF cookie, readable by the console's script, which
// echoes it in X-CSRF-Token, for the whole login (until ends).
func SetLoginCookies(w http.ResponseWriter, raw string, expires time.Time, csrf string, ends time.Time, secure bool) {
	SetSessionCookie(w, raw, expires, secure)
	http.SetCookie(w, &http.Cookie{ //nolint:gosec // the CSRF cookie must be readable by script; it grants nothing alone.
		Name: request.CSRFCookie, Value: csrf, Path: "/", Expires: ends, Secure: secure, SameSite: http.SameSiteStrictMode,
	})
}

// ExpireSessionCookies tells the browser to forget the session and CSRF cookies;
// secure marks them Secure, as they were set.
func ExpireSessionCookies(w http.ResponseWriter, secure bool) {
	for _, name := range []string{request.SessionCookie, request.CSRFCookie} {
		http.SetCookie(w, &http.Cookie{ //nolint:gosec // an expired, empty cookie; Secure as the caller says.
			Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: name == request.SessionCookie, Secure: secure, SameSite: http.SameSiteLaxMode})
	}
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

func validCSRF(r *http.Request) bool {
	c, err := r.Cookie(request.CSRFCookie)
	if err != nil || len(c.Value) < 16 {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(r.Header.Get(request.CSRFHeader)), []byte(c.Value)) == 1
}
