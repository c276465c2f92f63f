package postgres

import (
	"context"
	"hash/fnv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// leader takes leaderships as session advisory locks, each on a connection of
// its own: PostgreSQL releases the lock when that session ends, so a replica
// that dies or loses the database hands the leadership on by itself.
type leader struct {
	pool   *pgxpool.Pool
	schema string // schemas share the database's advisory locks: the key holds it
	// retry is how often a follower asks again, and check how often a leader
	// proves its connection alive.
	retry, check time.Duration
}

func (l leader) key(name string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("kubegate/lead/" + l.schema + "/" + name))
	return int64(h.Sum64()) //nolint:gosec // a lock key: any 64 bits do
}

func (l leader) lead(ctx context.Context, name string) (context.Context, func(), error) {
	key := l.key(name)
	for {
		conn, err := l.pool.Acquire(ctx)
		if err == nil {
			var got bool
			if err = conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&got); err == nil && got {
				return l.hold(ctx, conn, key)
			}
			conn.Release()
		}
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(l.retry):
		}
	}
}

// hold keeps the leadership while conn answers, and gives it up on release.
func (l leader) hold(ctx context.Context, conn *pgxpool.Conn, key int64) (context.Context, func(), error) {
	lead, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(l.check)
		defer t.Stop()
		for {
			select {
			case <-lead.Done():
				return
			case <-t.C:
				pctx, pcancel := context.WithTimeout(lead, l.check)
				err := conn.Ping(pctx)
				pcancel()
				if err != nil && lead.Err() == nil {
					cancel() // the session, and with it the lock, may be gone
					return
				}
			}
		}
	}()
	var once sync.Once
	release := func() {
		once.Do(func() {
			cancel()
			<-done
			uctx, ucancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer ucancel()
			if _, err := conn.Exec(uctx, `SELECT pg_advisory_unlock($1)`, key); err != nil {
				_ = conn.Conn().Close(uctx) // ending the session releases the lock
			}
			conn.Release()
		})
	}
	return lead, release, nil
}
