package api

import (
	"fmt"
	"math"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/account"
	"github.com/kubegate/kubegate/filters"
)

// exchangeRequest is a token request in either dialect, normalised.
type exchangeRequest struct {
	accessKey string
	secret    string
	ttl       time.Duration // 0: the default
}

// tokenParams names a dialect's parameters.
type tokenParams struct {
	accessKey, secretKey string
	// lifetime is the name of the lifetime parameter and its unit.
	lifetime string
	unit     time.Duration
}

//nolint:gochecknoglobals // constant descriptions of the two dialects.
var (
	kubecubeParams = tokenParams{accessKey: "accessKey", secretKey: "secretKey", lifetime: "expiresIn", unit: time.Second}
	dceParams      = tokenParams{accessKey: "ak", secretKey: "sk", lifetime: "cycle", unit: 24 * time.Hour}
)

// kubecubeToken: GET /api/v1/cube/key/token?accessKey=&secretKey= (KubeCube), or POST
// with a form or JSON body so the secret stays out of URLs; optional expiresIn (s).
func (a *API) kubecubeToken(w http.ResponseWriter, r *http.Request) error {
	req, err := a.parseExchange(w, r, kubecubeParams)
	if err != nil {
		return err
	}
	return a.exchange(w, r, req, a.opts.TokenTTL)
}

// dceToken: GET /apis/ghippo.io/v1alpha1/token?ak=&sk=&cycle= (DCE 5.0); cycle is the
// lifetime in days, 3 by default. POST takes the same fields, plus expiresIn.
func (a *API) dceToken(w http.ResponseWriter, r *http.Request) error {
	req, err := a.parseExchange(w, r, dceParams)
	if err != nil {
		return err
	}
	return a.exchange(w, r, req, 3*24*time.Hour)
}

// parseExchange reads the parameters from the query (GET) or the body (POST).
func (a *API) parseExchange(w http.ResponseWriter, r *http.Request, p tokenParams) (exchangeRequest, error) {
	values := map[string]string{}
	if r.Method == http.MethodPost && r.ContentLength != 0 {
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		switch ct {
		case "application/json":
			var body map[string]any
			if err := decodeJSON(w, r, &body, false); err != nil {
				return exchangeRequest{}, err
			}
			for k, v := range body {
				switch v := v.(type) {
				case string:
					values[k] = v
				case float64:
					values[k] = strconv.FormatFloat(v, 'f', -1, 64)
				default:
					return exchangeRequest{}, kubegate.Errorf(kubegate.EInvalid, "request body: field %q must be a string or a number", k)
				}
			}
		case "application/x-www-form-urlencoded":
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
			if err := r.ParseForm(); err != nil {
				return exchangeRequest{}, kubegate.Errorf(kubegate.EInvalid, "request body is not a valid form: %v", err)
			}
			for k, v := range r.PostForm {
				values[k] = v[0]
			}
		default:
			return exchangeRequest{}, kubegate.Errorf(kubegate.EInvalid, "unsupported Content-Type %q: send application/json or application/x-www-form-urlencoded", ct)
		}
	}
	for k, v := range r.URL.Query() {
		if _, ok := values[k]; !ok {
			values[k] = v[0]
		}
	}
	for k := range values {
		switch k {
		case p.accessKey, p.secretKey, p.lifetime, "expiresIn":
		default:
			return exchangeRequest{}, kubegate.Errorf(kubegate.EInvalid, "unknown parameter %q; allowed: %s, %s, %s", k, p.accessKey, p.secretKey, p.lifetime)
		}
	}
	req := exchangeRequest{accessKey: values[p.accessKey], secret: values[p.secretKey]}
	if req.accessKey == "" {
		return req, kubegate.Errorf(kubegate.EInvalid, "parameter %s (the access key) is required", p.accessKey)
	}
	if req.secret == "" {
		return req, kubegate.Errorf(kubegate.EInvalid, "parameter %s (the secret key) is required", p.secretKey)
	}
	for _, lp := range []struct {
		name string
		unit time.Duration
	}{{p.lifetime, p.unit}, {"expiresIn", time.Second}} {
		v, ok := values[lp.name]
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return req, kubegate.Errorf(kubegate.EInvalid, "parameter %s must be a positive integer, got %q", lp.name, v)
		}
		if n > math.MaxInt64/int64(lp.unit) {
			n = math.MaxInt64 / int64(lp.unit) // clamped below with a warning
		}
		req.ttl = time.Duration(n) * lp.unit
	}
	return req, nil
}

// exchange checks the pair (rate-limited per client address and per access key) and
// answers {"token", "tokenType", "expiresIn", "expiresAt"}.
func (a *API) exchange(w http.ResponseWriter, r *http.Request, req exchangeRequest, defaultTTL time.Duration) error {
	ip := filters.ClientIP(r.Context())
	if err := a.checkBlocked(ip, "ak:"+req.accessKey); err != nil {
		return err
	}
	id, err := a.opts.Accounts.Exchange(r.Context(), req.accessKey, req.secret, account.Client{IP: ip, UserAgent: r.UserAgent()})
	if err != nil {
		if kubegate.ErrorCode(err) == kubegate.EUnauthorized {
			a.perIP.Fail(ip)
			a.perKey.Fail("ak:" + req.accessKey)
		}
		return err
	}
	ttl := req.ttl
	if ttl == 0 {
		ttl = defaultTTL
	}
	if ttl > a.opts.MaxTokenTTL {
		w.Header().Add("Warning", fmt.Sprintf(`299 - "requested token lifetime %s exceeds the maximum %s; the token expires after %s"`,
			humanDuration(ttl), humanDuration(a.opts.MaxTokenTTL), humanDuration(a.opts.MaxTokenTTL)))
		ttl = a.opts.MaxTokenTTL
	}
	issued, err := a.opts.Tokens.Issue(id, ttl)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{
		"token":     issued.Token,
		"tokenType": "Bearer",
		"expiresIn": int64(issued.ExpiresAt.Sub(issued.IssuedAt) / time.Second),
		"expiresAt": timeString(issued.ExpiresAt),
	})
}

// checkBlocked answers 429 when the client address or the key has failed too often.
func (a *API) checkBlocked(ip, key string) error {
	wait, blocked := a.perIP.Blocked(ip)
	if !blocked {
		wait, blocked = a.perKey.Blocked(key)
	}
	if blocked {
		return &kubegate.Error{Code: kubegate.ETooManyRequests, RetryAfter: wait,
			Message: fmt.Sprintf("too many failed attempts; retry after %d seconds", int((wait+time.Second-1)/time.Second))}
	}
	return nil
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
