// Package logging builds the process logger from the configured format and level.
package logging

import (
	"io"
	"log/slog"
)

// New returns a logger writing text or JSON lines to w at level and above.
func New(w io.Writer, format string, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
