package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/kubegate/kubegate"
)

const (
	// gapTimeout is how long a missing change ID is waited for: PostgreSQL hands
	// out sequence numbers at insert and commits in any order, so ID n+1 can be
	// visible before n. A gap older than this was a rolled-back transaction.
	gapTimeout = 30 * time.Second
	// changeRetention is how long change rows are kept for watchers to read.
	changeRetention = time.Hour
)

// cursor tracks which changes a watcher has delivered.
type cursor struct {
	last int64               // highest ID delivered
	gaps map[int64]time.Time // IDs below last not seen yet, with when they were noticed
}

// Watch implements kubegate.Store by polling the changes table, which every write
// appends to in its own transaction. A backend's Wake makes the poll immediate.
func (s *Store) Watch(ctx context.Context) (<-chan kubegate.Change, error) {
	cur := &cursor{gaps: map[int64]time.Time{}}
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM changes`).Scan(&cur.last); err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	var wake <-chan struct{}
	if s.d.Wake != nil {
		wake = s.d.Wake(ctx)
	}
	out := make(chan kubegate.Change, 256)
	go func() {
		defer close(out)
		// Closing out says the watch has stopped, its helpers (a LISTEN loop) too.
		defer func() {
			if wake != nil {
				for range wake { //nolint:revive // draining until the helper has stopped and closed it
				}
			}
		}()
		tick := time.NewTicker(s.opts.PollInterval)
		defer tick.Stop()
		failing := false
		lastPrune := time.Time{}
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			case <-wake:
			}
			changes, err := s.poll(ctx, cur)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				if !failing {
					s.opts.Logger.Warn("watching store changes failed; will retry", "err", err)
				}
				failing = true
				continue
			}
			if failing {
				// Changes may have been pruned or missed while the database was
				// unreachable: consumers must reload.
				failing = false
				changes = append(changes, kubegate.Change{Kind: kubegate.ChangeResync})
			}
			for _, c := range changes {
				select {
				case out <- c:
				case <-ctx.Done():
					return
				}
			}
			if now := s.opts.Now(); now.Sub(lastPrune) > 10*time.Minute {
				lastPrune = now
				if _, err := s.db.ExecContext(ctx, s.q(`DELETE FROM changes WHERE at < ?`), toDB(now.Add(-changeRetention))); err != nil {
					s.opts.Logger.Warn("pruning old store changes failed", "err", err)
				}
				if _, err := s.db.ExecContext(ctx, s.q(`DELETE FROM write_marks WHERE (cluster, grp, resource) IN
					(SELECT cluster, grp, resource FROM write_marks WHERE at < ?`+s.skipLocked()+`)`), toDB(now.Add(-changeRetention))); err != nil {
					s.opts.Logger.Warn("pruning old write marks failed", "err", err)
				}
			}
		}
	}()
	return out, nil
}

func (s *Store) poll(ctx context.Context, cur *cursor) ([]kubegate.Change, error) {
	query := `SELECT id, kind, key FROM changes WHERE id > ?`
	args := []any{cur.last}
	if len(cur.gaps) > 0 {
		ph := make([]string, 0, len(cur.gaps))
		for id := range cur.gaps {
			ph = append(ph, "?")
			args = append(args, id)
		}
		query += ` OR id IN (` + strings.Join(ph, ",") + `)`
	}
	rows, err := s.db.QueryContext(ctx, s.q(query+` ORDER BY id`), args...)
	if err != nil {
		return nil, err
	}
	type row struct {
		id   int64
		kind string
		key  string
	}
	found, err := collect(rows, func(r scanner) (row, error) {
		var x row
		return x, r.Scan(&x.id, &x.kind, &x.key)
	})
	if err != nil {
		return nil, err
	}
	now := time.Now()
	var changes []kubegate.Change
	for _, x := range found {
		if _, ok := cur.gaps[x.id]; ok {
			delete(cur.gaps, x.id)
		} else if x.id > cur.last {
			for g := cur.last + 1; g < x.id && len(cur.gaps) < 10_000; g++ {
				cur.gaps[g] = now
			}
			cur.last = x.id
		} else {
			continue
		}
		changes = append(changes, kubegate.Change{Kind: kubegate.ChangeKind(x.kind), Key: x.key})
	}
	for id, since := range cur.gaps {
		if now.Sub(since) > gapTimeout {
			delete(cur.gaps, id)
		}
	}
	return changes, nil
}
