package kubegate

import (
	"time"
)

// AuditEvent is one API call through the gateway.
type AuditEvent struct {
	ID         int64
	Time       time.Time
	RequestID  string
	User       string
	UserID     string
	AccessKey  string
	Cluster    string
	Verb       string
	Path       string
	StatusCode int
	Latency    time.Duration
	SourceIP   string
	// Scope is the credential's scope decision: "" (no scope), "allowed", or
	// "refused: <part>".
	Scope string
}

// AuditFilter selects audit events; zero fields do not filter.
type AuditFilter struct {
	User      string
	UserID    string
	AccessKey string
	Cluster   string
	// StatusMin and StatusMax bound the response status code, inclusive.
	StatusMin, StatusMax int
	Since                time.Time
	Until                time.Time
}
