package audit

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/kubegate/kubegate"
)

// maxParam bounds each filter value: they only ever match stored names.
const maxParam = 256

// ParseQuery reads an audit query's filter from its parameters — user, accessKey,
// cluster, status (a code such as 403, or a class such as 4xx), since and until
// (RFC 3339, or a UTC "2006-01-02T15:04[:05]" as a browser's datetime input sends
// it) — and bounds it by who asks: administrators see everyone's calls, other
// users their own only (by user ID: a name can be reused after a deletion), and a
// credential (an access key's token, a personal access token) its own calls only,
// whatever scope it was narrowed to.
func ParseQuery(q url.Values, caller kubegate.Identity) (kubegate.AuditFilter, error) {
	for _, name := range []string{"user", "accessKey", "cluster", "status", "since", "until"} {
		if v := q.Get(name); len(v) > maxParam {
			return kubegate.AuditFilter{}, kubegate.Errorf(kubegate.EInvalid, "parameter %s must be at most %d bytes", name, maxParam)
		}
	}
	f := kubegate.AuditFilter{User: strings.TrimSpace(q.Get("user")), AccessKey: strings.TrimSpace(q.Get("accessKey")), Cluster: strings.TrimSpace(q.Get("cluster"))}
	if !caller.Admin {
		if f.User != "" && f.User != caller.Name {
			return kubegate.AuditFilter{}, kubegate.Errorf(kubegate.EForbidden, "only administrators see other users' calls: leave user empty or set it to %q", caller.Name)
		}
		f.User, f.UserID = "", caller.UserID
	}
	if caller.AccessKey != "" {
		if f.AccessKey != "" && f.AccessKey != caller.AccessKey {
			return kubegate.AuditFilter{}, kubegate.Errorf(kubegate.EForbidden, "a credential sees its own calls only: leave accessKey empty or set it to %q", caller.AccessKey)
		}
		f.AccessKey = caller.AccessKey
	}
	var err error
	if f.StatusMin, f.StatusMax, err = parseStatus(q.Get("status")); err != nil {
		return kubegate.AuditFilter{}, err
	}
	if f.Since, err = parseTime("since", q.Get("since")); err != nil {
		return kubegate.AuditFilter{}, err
	}
	if f.Until, err = parseTime("until", q.Get("until")); err != nil {
		return kubegate.AuditFilter{}, err
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		return kubegate.AuditFilter{}, kubegate.Errorf(kubegate.EInvalid, "until (%s) must be after since (%s)", f.Until.Format(time.RFC3339), f.Since.Format(time.RFC3339))
	}
	return f, nil
}

// MaxOffset bounds how deep a query pages: past it, narrow the filter instead
// (every page costs a scan of the rows before it).
const MaxOffset = 100_000

// CheckDepth refuses a page that starts past MaxOffset.
func CheckDepth(p kubegate.Page) error {
	if p.Offset > MaxOffset {
		return kubegate.Errorf(kubegate.EInvalid, "page starts at item %d, past the deepest the audit log pages (%d): narrow the filter (time range, user, key) instead", p.Offset+1, MaxOffset)
	}
	return nil
}

// parseStatus reads "" (any), a code from 100 to 599, or a class "1xx" to "5xx".
func parseStatus(v string) (lo, hi int, err error) {
	v = strings.ToLower(strings.TrimSpace(v))
	if v == "" {
		return 0, 0, nil
	}
	if len(v) == 3 && strings.HasSuffix(v, "xx") && v[0] >= '1' && v[0] <= '5' {
		c := int(v[0]-'0') * 100
		return c, c + 99, nil
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 100 && n <= 599 {
		return n, n, nil
	}
	return 0, 0, kubegate.Errorf(kubegate.EInvalid, "status must be a code from 100 to 599 or a class 1xx to 5xx, got %q", v)
}

func parseTime(name, v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, kubegate.Errorf(kubegate.EInvalid, "parameter %s must be an RFC 3339 time (2026-11-24T08:00:00Z) or 2026-11-24T08:00 in UTC, got %q", name, v)
}
