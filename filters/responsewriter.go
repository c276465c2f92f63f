package filters

import (
	"bufio"
	"errors"
	"net"
	"net/http"
)

// ResponseWriter records the status and size of a response. It keeps the wrapped
// writer's Flush and Hijack (watches and upgraded connections need them) and
// exposes Unwrap for http.ResponseController.
type ResponseWriter struct {
	w       http.ResponseWriter
	status  int
	written int64
}

// NewResponseWriter wraps w; wrapping an existing *ResponseWriter returns it.
func NewResponseWriter(w http.ResponseWriter) *ResponseWriter {
	if rw, ok := w.(*ResponseWriter); ok {
		return rw
	}
	return &ResponseWriter{w: w}
}

// Header implements http.ResponseWriter.
func (rw *ResponseWriter) Header() http.Header { return rw.w.Header() }

// WriteHeader implements http.ResponseWriter.
func (rw *ResponseWriter) WriteHeader(code int) {
	// 1xx responses are informational; the final status is still to come.
	if rw.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		rw.status = code
	}
	rw.w.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (rw *ResponseWriter) Write(b []byte) (int, error) {
	if rw.status == 0 {
		rw.status = http.StatusOK
	}
	n, err := rw.w.Write(b)
	rw.written += int64(n)
	return n, err
}

// Flush sends buffered data to the client.
func (rw *ResponseWriter) Flush() {
	if rw.status == 0 {
		rw.status = http.StatusOK
	}
	_ = http.NewResponseController(rw.w).Flush()
}

// Hijack takes over the connection (protocol upgrades).
func (rw *ResponseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, buf, err := http.NewResponseController(rw.w).Hijack()
	if err == nil && rw.status == 0 {
		rw.status = http.StatusSwitchingProtocols
	}
	if err != nil {
		return nil, nil, errors.Join(errors.New("response writer cannot hijack"), err)
	}
	return c, buf, nil
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (rw *ResponseWriter) Unwrap() http.ResponseWriter { return rw.w }

// Status is the status sent, 200 if only a body was written, 0 if nothing yet.
func (rw *ResponseWriter) Status() int { return rw.status }

// Code is the status the client got: Status, or 200 when the handler wrote
// nothing (net/http then sends 200).
func (rw *ResponseWriter) Code() int {
	if rw.status == 0 {
		return http.StatusOK
	}
	return rw.status
}

// WroteHeader reports whether the status line has been sent.
func (rw *ResponseWriter) WroteHeader() bool { return rw.status != 0 }

// Written is the number of body bytes written.
func (rw *ResponseWriter) Written() int64 { return rw.written }
