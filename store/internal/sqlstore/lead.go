package sqlstore

import (
	"context"
	"errors"
)

// Lead implements kubegate.Store through the dialect's lock, which every replica
// sharing the database sees (PostgreSQL's advisory locks, SQLite's lock files).
func (s *Store) Lead(ctx context.Context, name string) (context.Context, func(), error) {
	if s.d.Lead == nil {
		return nil, nil, errors.New("store: this backend cannot elect a leader")
	}
	return s.d.Lead(ctx, name)
}
