package sqlite

import (
	"context"
	"errors"
	"os"
	"sync"
	"syscall"
	"time"
)

// leader takes leaderships as flock(2) locks on files beside the database:
// every process (and every Store) opening the same file sees them, and the
// kernel lets go when a holder dies.
type leader struct {
	path  string // the database's
	retry time.Duration
}

func (l leader) lead(ctx context.Context, name string) (context.Context, func(), error) {
	f, err := os.OpenFile(l.path+".lead-"+name, os.O_CREATE|os.O_RDWR, 0o600) //nolint:gosec // beside the operator's database, named by the code.
	if err != nil {
		return nil, nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			_ = f.Close()
			return nil, nil, err
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, nil, ctx.Err()
		case <-time.After(l.retry):
		}
	}
	lead, cancel := context.WithCancel(ctx)
	var once sync.Once
	return lead, func() { once.Do(func() { cancel(); _ = f.Close() }) }, nil // closing unlocks
}
