// Package seal encrypts secrets at rest (cluster credentials, signing keys) with
// AES-256-GCM. Each sealed value is bound to where it is stored (its associated
// data, e.g. "cluster/prod"), so a ciphertext copied to another row does not open.
package seal

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the size of an AES-256 key.
const KeySize = 32

// prefix versions the format: "kg1" + nonce + ciphertext-with-tag.
var prefix = []byte("kg1") //nolint:gochecknoglobals // constant bytes; Go has no const slices.

// Sealer seals and opens values with one key.
type Sealer struct {
	aead cipher.AEAD
	rand io.Reader
}

// New returns a Sealer for a 32-byte key. random supplies nonces (crypto/rand when nil).
func New(key []byte, random io.Reader) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("encryption key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	if random == nil {
		random = rand.Reader
	}
	return &Sealer{aead: aead, rand: random}, nil
}

// Seal encrypts plaintext bound to aad. An empty plaintext seals to nil.
func (s *Sealer) Seal(plaintext []byte, aad string) ([]byte, error) {
	if len(plaintext) == 0 {
		return nil, nil
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := io.ReadFull(s.rand, nonce); err != nil {
		return nil, fmt.Errorf("reading nonce: %w", err)
	}
	out := append(append([]byte{}, prefix...), nonce...)
	return s.aead.Seal(out, nonce, plaintext, []byte(aad)), nil
}

// Open decrypts a value sealed with the same key and aad.
func (s *Sealer) Open(sealed []byte, aad string) ([]byte, error) {
	if len(sealed) == 0 {
		return nil, nil
	}
	if !bytes.HasPrefix(sealed, prefix) || len(sealed) < len(prefix)+s.aead.NonceSize() {
		return nil, errors.New("sealed value: unknown format")
	}
	rest := sealed[len(prefix):]
	nonce, ct := rest[:s.aead.NonceSize()], rest[s.aead.NonceSize():]
	pt, err := s.aead.Open(nil, nonce, ct, []byte(aad))
	if err != nil {
		return nil, errors.New("sealed value: cannot decrypt (wrong --encryption-key-file, or tampered data)")
	}
	return pt, nil
}

// LoadKeyFile reads a key file: 32 raw bytes, or their base64 or hex encoding
// (whitespace around it is ignored).
func LoadKeyFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path) //nolint:gosec // the operator names the file.
	if err != nil {
		return nil, err
	}
	if len(data) == KeySize {
		return data, nil
	}
	text := strings.TrimSpace(string(data))
	if k, err := base64.StdEncoding.DecodeString(text); err == nil && len(k) == KeySize {
		return k, nil
	}
	if k, err := hex.DecodeString(text); err == nil && len(k) == KeySize {
		return k, nil
	}
	return nil, fmt.Errorf("%s: must hold a %d-byte key, raw or in base64 or hex", path, KeySize)
}

// LoadOrCreateKeyFile loads path, or creates it with a new random key (mode 0600,
// base64) when it does not exist. created says which happened.
func LoadOrCreateKeyFile(path string, random io.Reader) (key []byte, created bool, err error) {
	key, err = LoadKeyFile(path)
	if err == nil {
		return key, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, false, err
	}
	if random == nil {
		random = rand.Reader
	}
	key = make([]byte, KeySize)
	if _, err := io.ReadFull(random, key); err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, err
	}
	// O_EXCL: two processes starting at once must not both write a different key.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) //nolint:gosec // the operator names the directory.
	if errors.Is(err, os.ErrExist) {
		key, err = LoadKeyFile(path)
		return key, false, err
	}
	if err != nil {
		return nil, false, err
	}
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
		_ = f.Close()
		return nil, false, err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return nil, false, err
	}
	return key, true, f.Close()
}
