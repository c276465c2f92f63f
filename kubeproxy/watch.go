package kubeproxy

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/cluster"
	"github.com/kubegate/kubegate/listquery"
	"github.com/kubegate/kubegate/request"
)

// watchEvent is one event of a Kubernetes watch stream.
type watchEvent struct {
	Type   string          `json:"type"`
	Object json.RawMessage `json:"object"`
}

// watchQuery reads a watch's selector (the only list parameter a watch
// takes) and the parameters passed upstream, with the selector's exact
// conditions pushed down.
func watchQuery(query url.Values, own ...string) (*listquery.Query, url.Values, error) {
	for _, k := range listquery.Params {
		if _, ok := query[k]; ok && k != "selector" {
			return nil, nil, kubegate.Errorf(kubegate.EInvalid, "parameter %s cannot be combined with watch; a watch takes only selector", k)
		}
	}
	conds, err := listquery.ParseSelector(query.Get("selector"))
	if err != nil {
		return nil, nil, err
	}
	q := &listquery.Query{Conds: conds}
	params := url.Values{}
	for k, vs := range query {
		params[k] = vs
	}
	delete(params, "selector")
	for _, k := range own {
		delete(params, k)
	}
	pushDown(q, params)
	return q, params, nil
}

// openWatch starts a watch of path on target as the caller ctx carries; an
// answer other than 200 is the cluster's own, as an upstreamError.
func openWatch(ctx context.Context, target *cluster.Member, path string, params url.Values) (*http.Response, error) {
	u := *target.Server
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawQuery = params.Encode()
	// The host is a cluster an admin registered; the path passed the request classification.
	req, err := http.NewRequestWithContext(withUpstream(ctx, target, path), http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := transport{}.RoundTrip(req)
	if err != nil {
		return nil, kubegate.Errorf(kubegate.EUnavailable, "cluster %s is unreachable: %v", target.Name, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return nil, &upstreamError{code: resp.StatusCode, header: resp.Header, body: body}
	}
	return resp, nil
}

// watchFilter passes the events whose object matches the selector. As with a
// Kubernetes label selector, an object that stops matching is reported
// DELETED, and one that starts matching ADDED.
type watchFilter struct {
	q    *listquery.Query
	sent map[string]bool // objects the client has been told about, by UID
}

func newWatchFilter(q *listquery.Query) *watchFilter {
	return &watchFilter{q: q, sent: map[string]bool{}}
}

// pass says what type ev goes out as, if at all; ok false with an error: the
// object is not JSON, the stream is broken.
func (f *watchFilter) pass(ev watchEvent) (out string, ok bool, err error) {
	switch ev.Type {
	case "ADDED", "MODIFIED", "DELETED":
	default:
		return ev.Type, true, nil // BOOKMARK, ERROR
	}
	var obj map[string]any
	if err := json.Unmarshal(ev.Object, &obj); err != nil {
		return "", false, err
	}
	uid := ""
	if md, ok := obj["metadata"].(map[string]any); ok {
		uid, _ = md["uid"].(string)
	}
	match := f.q.Match(obj)
	switch {
	case ev.Type == "DELETED" && (f.sent[uid] || match):
		delete(f.sent, uid)
		return "DELETED", true, nil
	case ev.Type != "DELETED" && match:
		out = ev.Type
		if !f.sent[uid] {
			out = "ADDED"
		}
		f.sent[uid] = true
		return out, true, nil
	case ev.Type == "MODIFIED" && f.sent[uid]:
		delete(f.sent, uid)
		return "DELETED", true, nil
	}
	return "", false, nil
}

// serveWatch streams a watch, forwarding only the events whose object matches
// the selector.
func (p *Proxy) serveWatch(w http.ResponseWriter, r *http.Request, target *cluster.Member, path string) error {
	q, params, err := watchQuery(r.URL.Query())
	if err != nil {
		return err
	}
	resp, err := openWatch(r.Context(), target, path, params)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.Flush()

	dec := json.NewDecoder(resp.Body)
	f := newWatchFilter(q)
	enc := json.NewEncoder(w)
	for {
		var ev watchEvent
		if err := dec.Decode(&ev); err != nil {
			return nil // the stream ended or the client left; headers are sent
		}
		out, ok, err := f.pass(ev)
		if err != nil {
			return nil
		}
		if !ok {
			continue
		}
		if err := enc.Encode(map[string]any{"type": out, "object": ev.Object}); err != nil {
			return nil
		}
		_ = rc.Flush()
	}
}

// serveWatchAcross streams a watch of every cluster of a set as one stream:
// each cluster's events (with the selector's filter, if any), each object —
// bookmarks too, whose resourceVersion is then that cluster's — annotated
// with its cluster. Every cluster must start its watch (else the answer is
// the failure, naming each); when any cluster's stream ends, the whole stream
// ends, and the client lists again, as after any watch.
func (p *Proxy) serveWatchAcross(w http.ResponseWriter, r *http.Request, info *request.Info) error {
	query := r.URL.Query()
	if rv := query.Get("resourceVersion"); rv != "" && rv != "0" {
		return kubegate.Errorf(kubegate.EInvalid, "parameter resourceVersion: a watch across clusters starts from now (or 0); resource versions are each cluster's own: watch one cluster to resume from one")
	}
	if _, err := boolParam(query, StrictParam); err != nil {
		return err
	}
	q, params, err := watchQuery(query, StrictParam)
	if err != nil {
		return err
	}
	names, err := p.clusterSet(r.Context(), info.ClusterSet, &info.KubeRequest)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	streams := make([]*http.Response, len(names))
	var failed []ClusterAnswer
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			target, err := p.targets.Member(name)
			if err == nil {
				streams[i], err = openWatch(ctx, target, info.Path, params) //nolint:bodyclose // closed below, once every stream is open or failed
			}
			if err != nil {
				mu.Lock()
				failed = append(failed, failedAnswer(name, statusOf(err)))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	defer func() {
		for _, s := range streams {
			if s != nil {
				s.Body.Close()
			}
		}
	}()
	if len(failed) > 0 {
		return acrossFailure(info.Cluster, failed)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.Flush()

	events := make(chan watchEvent)
	for i, s := range streams {
		go func() {
			defer cancel() // one stream ends: they all do
			dec := json.NewDecoder(s.Body)
			f := newWatchFilter(q)
			for {
				var ev watchEvent
				if dec.Decode(&ev) != nil {
					return
				}
				out, ok, err := f.pass(ev)
				if err != nil {
					return
				}
				if !ok {
					continue
				}
				obj, err := annotate(ev.Object, names[i])
				if err != nil {
					return
				}
				select {
				case events <- watchEvent{Type: out, Object: obj}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	enc := json.NewEncoder(w)
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-events:
			if enc.Encode(ev) != nil {
				return nil
			}
			_ = rc.Flush()
		}
	}
}
