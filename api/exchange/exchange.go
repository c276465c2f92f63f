// Package exchange serves the access key exchange that both dialects offer under
// their own names (KubeCube's accessKey/secretKey, DCE's ak/sk/cycle): parameters
// from the query, a form or a JSON body, so secrets need not appear in URLs, and
// one response shape.
package exchange

import (
	"context"
	"fmt"
	"math"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/account"
	"github.com/kubegate/kubegate/authn"
	"github.com/kubegate/kubegate/filters"
	"github.com/kubegate/kubegate/httpapi"
	"github.com/kubegate/kubegate/request"
)

// Exchanger checks an access key pair and issues a token (authn.Service).
type Exchanger interface {
	Exchange(ctx context.Context, req authn.ExchangeRequest) (authn.Exchanged, error)
}

// Params names a dialect's parameters.
type Params struct {
	AccessKey, SecretKey string
	// Lifetime is the name of the dialect's lifetime parameter, counted in Unit;
	// expiresIn (seconds) is accepted by every dialect.
	Lifetime string
	Unit     time.Duration
	// DefaultTTL is the dialect's default lifetime; 0 is the token policy's.
	DefaultTTL time.Duration
}

// Handler answers an exchange in the dialect p describes with {"token",
// "tokenType", "expiresIn", "expiresAt"}; maxTTL is named in the warning a clamped
// lifetime gets.
func Handler(x Exchanger, p Params, maxTTL time.Duration) httpapi.Handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		req, err := parse(w, r, p)
		if err != nil {
			return err
		}
		filters.NoteAttempt(r.Context(), "", req.AccessKey)
		req.Client = account.Client{IP: request.ClientIP(r.Context()), UserAgent: r.UserAgent()}
		out, err := x.Exchange(r.Context(), req)
		if err != nil {
			return err
		}
		issued := out.Token
		if out.Clamped {
			w.Header().Add("Warning", fmt.Sprintf(`299 - "requested token lifetime %s exceeds the maximum %s; the token expires after %s"`,
				humanDuration(req.TTL), humanDuration(maxTTL), humanDuration(maxTTL)))
		}
		return httpapi.WriteJSON(w, http.StatusOK, map[string]any{
			"token":     issued.Token,
			"tokenType": "Bearer",
			"expiresIn": int64(issued.ExpiresAt.Sub(issued.IssuedAt) / time.Second),
			"expiresAt": httpapi.TimeString(issued.ExpiresAt),
		})
	}
}

// parse reads the parameters from the query (GET) or the body (POST).
func parse(w http.ResponseWriter, r *http.Request, p Params) (authn.ExchangeRequest, error) {
	values := map[string]string{}
	if r.Method == http.MethodPost && r.ContentLength != 0 {
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		switch ct {
		case "application/json":
			var body map[string]any
			if err := httpapi.DecodeJSON(w, r, &body, false); err != nil {
				return authn.ExchangeRequest{}, err
			}
			for k, v := range body {
				switch v := v.(type) {
				case string:
					values[k] = v
				case float64:
					values[k] = strconv.FormatFloat(v, 'f', -1, 64)
				default:
					return authn.ExchangeRequest{}, kubegate.Errorf(kubegate.EInvalid, "request body: field %q must be a string or a number", k)
				}
			}
		case "application/x-www-form-urlencoded":
			r.Body = http.MaxBytesReader(w, r.Body, httpapi.MaxBody)
			if err := r.ParseForm(); err != nil {
				return authn.ExchangeRequest{}, kubegate.Errorf(kubegate.EInvalid, "request body is not a valid form: %v", err)
			}
			for k, v := range r.PostForm {
				values[k] = v[0]
			}
		default:
			return authn.ExchangeRequest{}, kubegate.Errorf(kubegate.EInvalid, "unsupported Content-Type %q: send application/json or application/x-www-form-urlencoded", ct)
		}
	}
	for k, v := range r.URL.Query() {
		if _, ok := values[k]; !ok {
			values[k] = v[0]
		}
	}
	for k := range values {
		switch k {
		case p.AccessKey, p.SecretKey, p.Lifetime, "expiresIn":
		default:
			return authn.ExchangeRequest{}, kubegate.Errorf(kubegate.EInvalid, "unknown parameter %q; allowed: %s, %s, %s", k, p.AccessKey, p.SecretKey, p.Lifetime)
		}
	}
	req := authn.ExchangeRequest{AccessKey: values[p.AccessKey], SecretKey: values[p.SecretKey], DefaultTTL: p.DefaultTTL}
	if req.AccessKey == "" {
		return req, kubegate.Errorf(kubegate.EInvalid, "parameter %s (the access key) is required", p.AccessKey)
	}
	if req.SecretKey == "" {
		return req, kubegate.Errorf(kubegate.EInvalid, "parameter %s (the secret key) is required", p.SecretKey)
	}
	for _, lp := range []struct {
		name string
		unit time.Duration
	}{{p.Lifetime, p.Unit}, {"expiresIn", time.Second}} {
		v, ok := values[lp.name]
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return req, kubegate.Errorf(kubegate.EInvalid, "parameter %s must be a positive integer, got %q", lp.name, v)
		}
		if n > math.MaxInt64/int64(lp.unit) {
			n = math.MaxInt64 / int64(lp.unit) // the token policy clamps it, with a warning
		}
		req.TTL = time.Duration(n) * lp.unit
	}
	return req, nil
}

func humanDuration(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	default:
		return d.String()
	}
}
