package audit_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/audit"
	"github.com/kubegate/kubegate/store/sqlite/sqlitetest"
)

// flakyStore fails the next `failures` audit writes, then passes them through.
type flakyStore struct {
	kubegate.Store
	mu       sync.Mutex
	failures int
}

func (f *flakyStore) AppendAudit(ctx context.Context, events []kubegate.AuditEvent) error {
	f.mu.Lock()
	fail := f.failures > 0
	if fail {
		f.failures--
	}
	f.mu.Unlock()
	if fail {
		return errors.New("database is down")
	}
	return f.Store.AppendAudit(ctx, events)
}

func event(i int) kubegate.AuditEvent {
	return kubegate.AuditEvent{Time: time.Unix(int64(1_700_000_000+i), 0).UTC(), RequestID: fmt.Sprint("r", i), User: "alice", Verb: "get", Path: "/x", StatusCode: 200}
}

func TestFailedWriteIsRetriedOnTheNextFlush(t *testing.T) {
	ctx := context.Background()
	st := &flakyStore{Store: sqlitetest.Open(t), failures: 1}
	r := audit.New(st, slog.New(slog.DiscardHandler), 0)
	r.Record(event(1))
	r.Record(event(2))
	if err := r.Flush(ctx); err == nil {
		t.Fatal("the first flush should report the store's failure")
	}
	r.Record(event(3)) // arrives while the failed batch waits
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got, total, err := st.ListAudit(ctx, kubegate.AuditFilter{}, kubegate.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if total != 3 || got[0].RequestID != "r3" || got[2].RequestID != "r1" {
		t.Fatalf("after the retry the store has %d events: %+v", total, got)
	}
}

func TestBufferIsBoundedByBytes(t *testing.T) {
	ctx := context.Background()
	st := &flakyStore{Store: sqlitetest.Open(t), failures: 100}
	r := audit.New(st, slog.New(slog.DiscardHandler), 1000) // room for a handful of events
	for i := range 100 {
		r.Record(event(i))
	}
	_ = r.Flush(ctx) // fails; what fits goes back
	st.failures = 0
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	_, total, err := st.ListAudit(ctx, kubegate.AuditFilter{}, kubegate.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if total == 0 || total >= 20 {
		t.Fatalf("a 1000-byte buffer kept %d of 100 events", total)
	}
}

func TestRetentionDeletesOldEvents(t *testing.T) {
	ctx := context.Background()
	st := sqlitetest.Open(t)
	now := time.Unix(1_700_000_000, 0).UTC()
	old, recent := event(1), event(2)
	old.Time, recent.Time = now.Add(-40*24*time.Hour), now.Add(-time.Hour)
	if err := st.AppendAudit(ctx, []kubegate.AuditEvent{old, recent}); err != nil {
		t.Fatal(err)
	}
	r := audit.New(st, slog.New(slog.DiscardHandler), 0)
	run, stop := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() { r.RunRetention(run, 30*24*time.Hour, func() time.Time { return now }); close(stopped) }()
	defer func() { stop(); <-stopped }()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		got, total, err := st.ListAudit(ctx, kubegate.AuditFilter{}, kubegate.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if total == 1 && got[0].RequestID == "r2" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after retention: %+v", got)
		}
	}
}
