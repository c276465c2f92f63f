// Package store holds what every storage backend shares: their options. The
// backends are store/sqlite and store/postgres; store/storetest is their
// conformance suite.
package store

import (
	"log/slog"
	"time"

	"github.com/kubegate/kubegate/store/seal"
)

// Options configures a backend.
type Options struct {
	// Sealer encrypts cluster credentials and signing keys at rest. Required.
	Sealer *seal.Sealer
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// PollInterval is how often watchers look for changes (SQLite: 200ms;
	// PostgreSQL: 2s, notifications being the fast path).
	PollInterval time.Duration
	Logger       *slog.Logger
}
