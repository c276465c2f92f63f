package seal_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/kubegate/kubegate/store/seal"
)

func TestSealOpenRoundTripBoundToPlace(t *testing.T) {
	s, err := seal.New(bytes.Repeat([]byte{7}, 32), nil)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := s.Seal([]byte("token-123"), "cluster/prod")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(ct, []byte("token-123")) {
		t.Fatal("ciphertext contains the plaintext")
	}
	pt, err := s.Open(ct, "cluster/prod")
	if err != nil || string(pt) != "token-123" {
		t.Fatalf("open = %q, %v", pt, err)
	}
	if _, err := s.Open(ct, "cluster/dev"); err == nil {
		t.Fatal("a value sealed for one row opened for another")
	}
	ct[len(ct)-1] ^= 1
	if _, err := s.Open(ct, "cluster/prod"); err == nil {
		t.Fatal("tampered value opened")
	}
	other, _ := seal.New(bytes.Repeat([]byte{8}, 32), nil)
	ct2, _ := s.Seal([]byte("x"), "a")
	if _, err := other.Open(ct2, "a"); err == nil {
		t.Fatal("opened with the wrong key")
	}
	if _, err := seal.New([]byte("short"), nil); err == nil {
		t.Fatal("short key accepted")
	}
}

func TestKeyFileIsCreatedOnceWithMode0600(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "encryption.key")
	k1, created, err := seal.LoadOrCreateKeyFile(path, nil)
	if err != nil || !created || len(k1) != 32 {
		t.Fatalf("create = %d bytes, %v, %v", len(k1), created, err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode = %v, %v", st.Mode(), err)
	}
	k2, created, err := seal.LoadOrCreateKeyFile(path, nil)
	if err != nil || created || !bytes.Equal(k1, k2) {
		t.Fatalf("second load created=%v err=%v equal=%v", created, err, bytes.Equal(k1, k2))
	}
	bad := filepath.Join(t.TempDir(), "bad.key")
	_ = os.WriteFile(bad, []byte("not a key"), 0o600)
	if _, _, err := seal.LoadOrCreateKeyFile(bad, nil); err == nil {
		t.Fatal("a malformed key file was accepted")
	}
}
