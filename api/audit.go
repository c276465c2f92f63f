package api

import (
	"net/http"
	"time"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/audit"
	"github.com/kubegate/kubegate/httpapi"
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

// listAudit: GET /api/v1/cube/audit?user=&accessKey=&cluster=&status=&since=&until=&page=&pageSize=,
// newest first: everyone's calls for administrators, the caller's own for others.
func (a api) listAudit(w http.ResponseWriter, r *http.Request, id *kubegate.Identity) error {
	_, _, p, err := httpapi.PageParams(r)
	if err != nil {
		return err
	}
	f, err := audit.ParseQuery(r.URL.Query(), *id)
	if err != nil {
		return err
	}
	if err := audit.CheckDepth(p); err != nil {
		return err
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
