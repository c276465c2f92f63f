// Package sqlitetest opens throwaway SQLite stores for tests: the one helper every
// package's tests use, so a store option added later is set in one place.
package sqlitetest

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/kubegate/kubegate/store/seal"
	"github.com/kubegate/kubegate/store/sqlite"
)

// Sealer is the fixed test encryption key's sealer.
func Sealer(t testing.TB) *seal.Sealer {
	t.Helper()
	s, err := seal.New(bytes.Repeat([]byte{42}, 32), nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// OpenAt opens (creating) the store at path with the test key and a fast change
// poll; it is closed when the test ends.
func OpenAt(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path, sqlite.Options{Sealer: Sealer(t), PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Open opens a new, empty store in the test's temporary directory.
func Open(t testing.TB) *sqlite.Store {
	t.Helper()
	return OpenAt(t, filepath.Join(t.TempDir(), "kubegate.db"))
}
