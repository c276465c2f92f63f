// Package httperr is the one place where errors become HTTP responses: every error
// body kubegate writes is a Kubernetes-style `kind: Status` object, so one client
// error path serves the gateway and the clusters behind it alike.
package httperr

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubegate/kubegate"
)

// codes maps an error code to its HTTP status and Kubernetes reason.
func codes(code string) (int, metav1.StatusReason) {
	switch code {
	case kubegate.EInvalid:
		return http.StatusBadRequest, metav1.StatusReasonBadRequest
	case kubegate.EUnauthorized:
		return http.StatusUnauthorized, metav1.StatusReasonUnauthorized
	case kubegate.EForbidden:
		return http.StatusForbidden, metav1.StatusReasonForbidden
	case kubegate.ENotFound:
		return http.StatusNotFound, metav1.StatusReasonNotFound
	case kubegate.EMethod:
		return http.StatusMethodNotAllowed, metav1.StatusReasonMethodNotAllowed
	case kubegate.EConflict:
		return http.StatusConflict, metav1.StatusReasonConflict
	case kubegate.ETooLarge:
		return http.StatusRequestEntityTooLarge, metav1.StatusReasonRequestEntityTooLarge
	case kubegate.EMediaType:
		return http.StatusUnsupportedMediaType, metav1.StatusReasonUnsupportedMediaType
	case kubegate.ERequestTimeout:
		return http.StatusRequestTimeout, metav1.StatusReasonTimeout
	case kubegate.EURITooLong:
		return http.StatusRequestURITooLong, metav1.StatusReasonBadRequest
	case kubegate.ETooManyRequests:
		return http.StatusTooManyRequests, metav1.StatusReasonTooManyRequests
	case kubegate.EUnavailable:
		return http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable
	case kubegate.ETimeout:
		return http.StatusGatewayTimeout, metav1.StatusReasonTimeout
	default:
		return http.StatusInternalServerError, metav1.StatusReasonInternalError
	}
}

// Status builds the Status object for err.
func Status(err error) *metav1.Status {
	code, reason := codes(kubegate.ErrorCode(err))
	st := &metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure,
		Message:  kubegate.ErrorMessage(err),
		Reason:   reason,
		Code:     int32(code), //nolint:gosec // HTTP status codes fit in int32.
	}
	var e *kubegate.Error
	if errors.As(err, &e) && e.RetryAfter > 0 {
		st.Details = &metav1.StatusDetails{RetryAfterSeconds: retryAfterSeconds(e)}
	}
	return st
}

// Response is an error that is already an HTTP response: a cluster's own error,
// passed to the client unchanged.
type Response interface {
	error
	WriteResponse(w http.ResponseWriter)
}

// Write writes err as a Status with the matching HTTP code, or, for a Response,
// as itself. Internal errors are reported to the caller without their cause; the
// caller's logger has it.
func Write(w http.ResponseWriter, err error) {
	var resp Response
	if errors.As(err, &resp) {
		resp.WriteResponse(w)
		return
	}
	st := Status(err)
	var e *kubegate.Error
	if errors.As(err, &e) && e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(retryAfterSeconds(e))))
	}
	WriteStatus(w, st)
}

// WriteStatus writes a ready-made Status.
func WriteStatus(w http.ResponseWriter, st *metav1.Status) {
	body, err := json.Marshal(st)
	if err != nil { // a Status always marshals; keep a body anyway.
		body = []byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","code":500,"reason":"InternalError"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Del("Content-Length")
	w.WriteHeader(int(st.Code))
	_, _ = w.Write(append(body, '\n'))
}

func retryAfterSeconds(e *kubegate.Error) int32 {
	s := int32((e.RetryAfter + 999_999_999) / 1_000_000_000) //nolint:gosec // bounded by the limiter's window.
	if s < 1 {
		s = 1
	}
	return s
}
