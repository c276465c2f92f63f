package filters

import (
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/httperr"
	"github.com/kubegate/kubegate/request"
)

// Limits bound what one request may cost before any handler sees it.
type Limits struct {
	// MaxURIBytes bounds the request URI (path and query): longer is a 414.
	MaxURIBytes int
	// BodyTimeout bounds reading a request body, so a client trickling one cannot
	// hold a handler for ever. Upgraded connections (exec, port-forward) are not
	// bounded: they are long by nature.
	BodyTimeout time.Duration
	// MaxLongRunningPerUser bounds the watches, followed logs, exec and
	// port-forward sessions one user holds open (WithLongRunningLimit).
	MaxLongRunningPerUser int
}

// WithRequestLimits refuses over-long URIs and puts a deadline on reading the body.
// (Headers are bounded by the server's MaxHeaderBytes: a 431.)
func WithRequestLimits(h http.Handler, l Limits) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if l.MaxURIBytes > 0 && len(r.RequestURI) > l.MaxURIBytes {
			httperr.Write(w, kubegate.Errorf(kubegate.EURITooLong, "the request URI is %d bytes long; the limit is %d", len(r.RequestURI), l.MaxURIBytes))
			return
		}
		if l.BodyTimeout > 0 && r.Body != nil && r.Body != http.NoBody && !realUpgrade(request.InfoFrom(r.Context())) {
			rc := http.NewResponseController(w)
			if rc.SetReadDeadline(time.Now().Add(l.BodyTimeout)) == nil {
				// Once the body is read, the deadline goes: the server's read in the
				// background would otherwise end a long response at it.
				r.Body = &deadlineBody{ReadCloser: r.Body, w: w, limit: l.BodyTimeout, clear: func() { _ = rc.SetReadDeadline(time.Time{}) }}
			}
		}
		h.ServeHTTP(w, r)
	})
}

// realUpgrade says the request may become a long-lived connection: an upgrade
// on a proxy route. Anywhere else an Upgrade header earns nothing.
func realUpgrade(i *request.Info) bool { return i.Upgrade && i.Class == request.ClassProxy }

type deadlineBody struct {
	io.ReadCloser
	w     http.ResponseWriter
	limit time.Duration
	clear func()
	once  sync.Once
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.once.Do(b.clear)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			// The rest of the body will not come: answer and close, rather than let
			// the server wait to drain it for keep-alive.
			b.w.Header().Set("Connection", "close")
			return n, kubegate.Errorf(kubegate.ERequestTimeout, "the request body did not arrive within %s", b.limit)
		}
	}
	return n, err
}

func (b *deadlineBody) Close() error {
	b.once.Do(b.clear)
	return b.ReadCloser.Close()
}
