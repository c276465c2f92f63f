package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/audit"
	"github.com/kubegate/kubegate/httpapi"
	"github.com/kubegate/kubegate/httperr"
)

// AuditLog answers audit queries (the store).
type AuditLog interface {
	ListAudit(ctx context.Context, f kubegate.AuditFilter, p kubegate.Page) ([]kubegate.AuditEvent, int, error)
}

// auditPageSize is how many calls the audit page shows at once.
const auditPageSize = 50

type auditRow struct {
	Time, User, AccessKey, Cluster, Verb, Path, SourceIP, Latency string
	// ScopeRefused names the part of the credential's scope that refused the call.
	ScopeRefused string
	Status       int
	// StatusClass colours the status: ok, redirect, denied, failed.
	StatusClass string
}

type auditPage struct {
	Rows []auditRow
	// The filter as the form shows it.
	User, AccessKey, Cluster, Status, Since, Until string
	Clusters                                       []string
	Statuses                                       []string
	Filtered                                       bool
	Total, Page, Pages                             int
	PrevURL, NextURL                               string
}

// statuses are the status classes the filter offers.
func (auditPage) statuses() []string { return []string{"2xx", "3xx", "4xx", "5xx"} }

// auditLog shows the caller's calls (an administrator's: everyone's), newest
// first, filtered by the same parameters as GET /api/v1/cube/audit. A bad filter
// is shown on the page, next to the form that fixes it.
func (c *Console) auditLog(w http.ResponseWriter, r *http.Request) {
	p := c.newPage(r, "audit")
	q := r.URL.Query()
	x := auditPage{
		User: q.Get("user"), AccessKey: q.Get("accessKey"), Cluster: q.Get("cluster"), Status: q.Get("status"),
		Since: q.Get("since"), Until: q.Get("until"), Page: 1, Pages: 1,
	}
	x.Statuses = x.statuses()
	x.Clusters = c.clusterNames()
	x.Filtered = x.User != "" || x.AccessKey != "" || x.Cluster != "" || x.Status != "" || x.Since != "" || x.Until != ""
	p.Extras = &x
	fail := func(err error) {
		p.Error = kubegate.ErrorMessage(err)
		c.renderStatus(w, r, p, int(httperr.Status(err).Code))
	}
	page, err := pageParam(q)
	if err != nil {
		fail(err)
		return
	}
	f, err := audit.ParseQuery(q, *p.User)
	if err != nil {
		fail(err)
		return
	}
	// The form shows the times as it takes them, whatever form the URL had.
	x.Since, x.Until = formTime(f.Since), formTime(f.Until)
	window := kubegate.Page{Limit: auditPageSize, Offset: (page - 1) * auditPageSize}
	if err := audit.CheckDepth(window); err != nil {
		fail(err)
		return
	}
	events, total, err := c.o.Audit.ListAudit(r.Context(), f, window)
	if err != nil {
		httpapi.WriteError(w, r, err) // the store's trouble, not the filter's: logged once, a 500
		return
	}
	x.Total, x.Page = total, page
	x.Pages, x.PrevURL, x.NextURL = pager(r.URL, page, total, auditPageSize)
	for _, e := range events {
		row := auditRow{
			Time: e.Time.UTC().Format("2006-01-02 15:04:05"), User: e.User, AccessKey: e.AccessKey, Cluster: e.Cluster,
			Verb: e.Verb, Path: e.Path, SourceIP: e.SourceIP, Status: e.StatusCode,
			Latency: latency(e.Latency),
		}
		if part, refused := strings.CutPrefix(e.Scope, "refused: "); refused {
			row.ScopeRefused = part
		}
		switch {
		case e.StatusCode < 300:
			row.StatusClass = "ok"
		case e.StatusCode < 400:
			row.StatusClass = "redirect"
		case e.StatusCode < 500:
			row.StatusClass = "denied"
		default:
			row.StatusClass = "failed"
		}
		x.Rows = append(x.Rows, row)
	}
	c.render(w, r, p)
}

// formTime is t as a datetime-local input shows it, in UTC; "" for none.
func formTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04")
}

func latency(d time.Duration) string {
	if d < 10*time.Millisecond {
		return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
	}
	return fmt.Sprintf("%d ms", d.Milliseconds())
}

// pageParam reads ?page=, a whole number from 1 (the default) to 100000.
func pageParam(q url.Values) (int, error) {
	v := q.Get("page")
	if v == "" {
		return 1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 100000 {
		return 0, kubegate.Errorf(kubegate.EInvalid, "page must be a whole number from 1 to 100000, got %q", v)
	}
	return n, nil
}

// pager counts the pages of total items and links to the pages around page,
// keeping the rest of u's query.
func pager(u *url.URL, page, total, size int) (pages int, prev, next string) {
	pages = max(1, (total+size-1)/size)
	link := func(n int) string {
		q := u.Query()
		q.Set("page", strconv.Itoa(n))
		return (&url.URL{Path: u.Path, RawQuery: q.Encode()}).String()
	}
	if page > 1 {
		prev = link(min(page-1, pages))
	}
	if page < pages {
		next = link(page + 1)
	}
	return pages, prev, next
}
