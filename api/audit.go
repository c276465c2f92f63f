package api

import (
	"net/http"
	"time"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/internal/httpapi"
)

type auditView struct {
	Time       string  `json:"time"`
	RequestID  string  `json:"requestID"`
	User       string  `json:"user"`
	AccessKey  string  `json:"accessKey,omitempty"`
	Cluster    string  `json:"cluster,omitempty"`
	Verb       string  `json:"verb"`
	Path       string  `json:"path"`
	StatusCode int     `json:"statusCode"`
	LatencyMS  float64 `json:"latencyMs"`
	SourceIP   string  `json:"sourceIP"`
	// Scope is the credential's scope decision: allowed, or refused: <part>.
	Scope string `json:"scope,omitempty"`
}

// listAudit: GET /api/v1/cube/audit?user=&cluster=&since=&until=&page=&pageSize=,
// newest first.
func (a api) listAudit(w http.ResponseWriter, r *http.Request, _ *kubegate.Identity) error {
	_, _, p, err := httpapi.PageParams(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := kubegate.AuditFilter{User: q.Get("user"), Cluster: q.Get("cluster")}
	for name, dst := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if v := q.Get(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return kubegate.Errorf(kubegate.EInvalid, "parameter %s must be an RFC 3339 time, got %q", name, v)
			}
			*dst = t
		}
	}
	events, total, err := a.o.Audit.ListAudit(r.Context(), f, p)
	if err != nil {
		return err
	}
	items := make([]auditView, 0, len(events))
	for _, e := range events {
		items = append(items, auditView{
			Time: e.Time.Format(time.RFC3339Nano), RequestID: e.RequestID, User: e.User, AccessKey: e.AccessKey, Cluster: e.Cluster,
			Verb: e.Verb, Path: e.Path, StatusCode: e.StatusCode, LatencyMS: float64(e.Latency.Microseconds()) / 1000, SourceIP: e.SourceIP, Scope: e.Scope,
		})
	}
	return httpapi.WriteJSON(w, http.StatusOK, map[string]any{"total": total, "items": items})
}
