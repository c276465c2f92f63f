package kubeproxy

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/cluster"
	"github.com/kubegate/kubegate/listquery"
)

// serveWatch streams a watch, forwarding only the events whose object matches the
// selector. As with a Kubernetes label selector, an object that stops matching is
// reported DELETED, and one that starts matching ADDED.
func (p *Proxy) serveWatch(w http.ResponseWriter, r *http.Request, target *cluster.Member, path string) error {
	query := r.URL.Query()
	for _, k := range listquery.Params {
		if _, ok := query[k]; ok && k != "selector" {
			return kubegate.Errorf(kubegate.EInvalid, "parameter %s cannot be combined with watch; a watch takes only selector", k)
		}
	}
	sel := query.Get("selector")
	conds, err := listquery.ParseSelector(sel)
	if err != nil {
		return err
	}
	q := &listquery.Query{Conds: conds}
	params := url.Values{}
	for k, vs := range query {
		if k != "selector" {
			params[k] = vs
		}
	}
	pushDown(q, params)
	u := *target.Server
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawQuery = params.Encode()
	ctx := withUpstream(r.Context(), target, path)
	// The host is a cluster an admin registered; the path passed the request classification.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := transport{}.RoundTrip(req)
	if err != nil {
		return kubegate.Errorf(kubegate.EUnavailable, "cluster %s is unreachable: %v", target.Name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return &upstreamError{code: resp.StatusCode, header: resp.Header, body: body}
	}
	w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.Flush()

	dec := json.NewDecoder(resp.Body)
	sent := map[string]bool{} // objects the client has been told about, by UID
	enc := json.NewEncoder(w)
	for {
		var ev struct {
			Type   string          `json:"type"`
			Object json.RawMessage `json:"object"`
		}
		if err := dec.Decode(&ev); err != nil {
			return nil // the stream ended or the client left; headers are sent
		}
		out := ev.Type
		switch ev.Type {
		case "ADDED", "MODIFIED", "DELETED":
			var obj map[string]any
			if err := json.Unmarshal(ev.Object, &obj); err != nil {
				return nil
			}
			uid := ""
			if md, ok := obj["metadata"].(map[string]any); ok {
				uid, _ = md["uid"].(string)
			}
			match := q.Match(obj)
			switch {
			case ev.Type == "DELETED" && (sent[uid] || match):
				delete(sent, uid)
			case ev.Type != "DELETED" && match:
				if !sent[uid] {
					out = "ADDED"
				}
				sent[uid] = true
			case ev.Type == "MODIFIED" && sent[uid]:
				out = "DELETED"
				delete(sent, uid)
			default:
				continue
			}
		}
		if err := enc.Encode(map[string]any{"type": out, "object": ev.Object}); err != nil {
			return nil
		}
		_ = rc.Flush()
	}
}
