package audit_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/audit"
)

func TestParseQuery(t *testing.T) {
	admin := kubegate.Identity{Name: "root", Admin: true}
	alice := kubegate.Identity{Name: "alice", UserID: "u-alice"}
	aliceKey := kubegate.Identity{Name: "alice", UserID: "u-alice", AccessKey: "AK1"}
	at := func(s string) time.Time { tm, _ := time.Parse(time.RFC3339, s); return tm }
	for _, tc := range []struct {
		name   string
		query  string
		caller kubegate.Identity
		want   kubegate.AuditFilter
		code   string
	}{
		{"admin sees everyone", "", admin, kubegate.AuditFilter{}, ""},
		{"admin picks a user", "user=bob&cluster=prod", admin, kubegate.AuditFilter{User: "bob", Cluster: "prod"}, ""},
		{"a user sees their own, by ID", "accessKey=AK1", alice, kubegate.AuditFilter{UserID: "u-alice", AccessKey: "AK1"}, ""},
		{"a user may name themselves", "user=alice", alice, kubegate.AuditFilter{UserID: "u-alice"}, ""},
		{"a credential sees its own calls", "", aliceKey, kubegate.AuditFilter{UserID: "u-alice", AccessKey: "AK1"}, ""},
		{"a credential may not see another's", "accessKey=AK2", aliceKey, kubegate.AuditFilter{}, kubegate.EForbidden},
		{"browser times with seconds", "since=2026-11-24T09:30:15", admin, kubegate.AuditFilter{Since: at("2026-11-24T09:30:15Z")}, ""},
		{"a user may not name another", "user=bob", alice, kubegate.AuditFilter{}, kubegate.EForbidden},
		{"status class", "status=4xx", admin, kubegate.AuditFilter{StatusMin: 400, StatusMax: 499}, ""},
		{"status code", "status=403", admin, kubegate.AuditFilter{StatusMin: 403, StatusMax: 403}, ""},
		{"bad status", "status=6xx", admin, kubegate.AuditFilter{}, kubegate.EInvalid},
		{"status out of range", "status=99", admin, kubegate.AuditFilter{}, kubegate.EInvalid},
		{"RFC 3339 and browser times", "since=2026-11-24T08:00:00%2B08:00&until=2026-11-24T09:30", admin,
			kubegate.AuditFilter{Since: at("2026-11-24T00:00:00Z"), Until: at("2026-11-24T09:30:00Z")}, ""},
		{"bad time", "since=yesterday", admin, kubegate.AuditFilter{}, kubegate.EInvalid},
		{"empty range", "since=2026-11-24T09:00&until=2026-11-24T09:00", admin, kubegate.AuditFilter{}, kubegate.EInvalid},
		{"oversized value", "cluster=" + string(make([]byte, 300)), admin, kubegate.AuditFilter{}, kubegate.EInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, err := url.ParseQuery(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			got, err := audit.ParseQuery(q, tc.caller)
			if code := kubegate.ErrorCode(err); code != tc.code {
				t.Fatalf("error %v, want code %q", err, tc.code)
			}
			if err == nil && (got.User != tc.want.User || got.UserID != tc.want.UserID || got.AccessKey != tc.want.AccessKey || got.Cluster != tc.want.Cluster ||
				got.StatusMin != tc.want.StatusMin || got.StatusMax != tc.want.StatusMax || !got.Since.Equal(tc.want.Since) || !got.Until.Equal(tc.want.Until)) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
