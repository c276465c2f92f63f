package account

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/kubegate/kubegate"
)

// PasswordParams are argon2id's cost parameters. The defaults follow OWASP's
// recommendation (19 MiB, 2 passes, 1 lane).
type PasswordParams struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
}

// DefaultPasswordParams is the production cost.
func DefaultPasswordParams() PasswordParams {
	return PasswordParams{MemoryKiB: 19 * 1024, Time: 2, Threads: 1}
}

// kdfLimiter bounds the memory password hashing may take: at most `slots` hashes
// run at once, at most `queue` more wait, and the rest are refused at once with a
// 429, so a burst of logins cannot exhaust memory (each argon2id hash takes
// MemoryKiB).
type kdfLimiter struct {
	slots   chan struct{}
	waiting atomic.Int32
	queue   int32
}

func newKDFLimiter(slots, queue int) *kdfLimiter {
	return &kdfLimiter{slots: make(chan struct{}, slots), queue: int32(queue)} //nolint:gosec // small configured numbers.
}

// do runs f when a slot is free.
func (l *kdfLimiter) do(ctx context.Context, f func()) error {
	select {
	case l.slots <- struct{}{}:
	default:
		if l.waiting.Add(1) > l.queue {
			l.waiting.Add(-1)
			return &kubegate.Error{Code: kubegate.ETooManyRequests, RetryAfter: time.Second,
				Message: "too many password checks in progress; retry after 1 second"}
		}
		select {
		case l.slots <- struct{}{}:
			l.waiting.Add(-1)
		case <-ctx.Done():
			l.waiting.Add(-1)
			return kubegate.Errorf(kubegate.EUnavailable, "gave up waiting to check the password: %v", ctx.Err())
		}
	}
	defer func() { <-l.slots }()
	f()
	return nil
}

// hash hashes a password within the service's KDF bound.
func (s *Service) hash(ctx context.Context, password string) (string, error) {
	var h string
	var err error
	if lerr := s.kdf.do(ctx, func() { h, err = hashPassword(password, s.opts.Password, s.opts.Rand) }); lerr != nil {
		return "", lerr
	}
	return h, err
}

// check checks a password within the service's KDF bound.
func (s *Service) check(ctx context.Context, encoded, password string) (bool, error) {
	var ok bool
	var err error
	if lerr := s.kdf.do(ctx, func() { ok, err = checkPassword(encoded, password) }); lerr != nil {
		return false, lerr
	}
	return ok, err
}

// hashPassword encodes an argon2id hash in the PHC string format.
func hashPassword(password string, p PasswordParams, random io.Reader) (string, error) {
	salt := make([]byte, 16)
	if _, err := io.ReadFull(random, salt); err != nil {
		return "", err
	}
	sum := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, 32)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(sum)), nil
}

// checkPassword reports whether password matches the encoded hash, in time that
// does not depend on where they differ.
func checkPassword(encoded, password string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errors.New("unknown password hash format")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errors.New("unknown argon2 version")
	}
	var p PasswordParams
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil {
		return false, errors.New("malformed argon2 parameters")
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false, err
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(want))) //nolint:gosec // 32 bytes.
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
