package account

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kubegate/kubegate"
)

// PersonalTokenPrefix starts every personal access token: it tells them from
// JWTs at a glance (and to secret scanners).
const PersonalTokenPrefix = "kgpat."

// Personal access tokens (DCE 5.0) are access keys of their own kind whose
// bearer token is the prefix, the access key and the secret: shown once, stored
// as a hash, limited per user, with a bounded lifetime, last use recorded, and
// refused on every replica once deleted, as keys are.

// CreatePersonalToken makes a personal access token for userID called name,
// valid until expiresAt (zero: the longest lifetime allowed), and returns it and
// the bearer token, which is never stored or shown again.
func (s *Service) CreatePersonalToken(ctx context.Context, userID, name string, expiresAt time.Time, scope kubegate.Scope) (kubegate.AccessKey, string, error) {
	if err := scope.Validate(); err != nil {
		return kubegate.AccessKey{}, "", err
	}
	if name = strings.TrimSpace(name); name == "" || utf8.RuneCountInString(name) > 64 || !utf8.ValidString(name) {
		return kubegate.AccessKey{}, "", kubegate.Errorf(kubegate.EInvalid, "name must be 1 to 64 characters")
	}
	now := s.opts.Now().UTC().Truncate(time.Microsecond)
	maxTTL := s.Policy().TokenMaxLifetime
	longest := now.Add(maxTTL)
	switch {
	case expiresAt.IsZero():
		expiresAt = longest
	case !expiresAt.After(now):
		return kubegate.AccessKey{}, "", kubegate.Errorf(kubegate.EInvalid, "expiredAt must be in the future")
	case expiresAt.After(longest):
		return kubegate.AccessKey{}, "", kubegate.Errorf(kubegate.EInvalid, "expiredAt is beyond the longest lifetime of a personal access token (%s): %s at the latest",
			maxTTL, longest.Format(time.RFC3339))
	}
	k, secret, err := s.mintKey(ctx, kubegate.AccessKey{
		Kind: kubegate.KindPersonalToken, Name: name, UserID: userID,
		Scope: scope, CreatedAt: now, ExpiresAt: expiresAt,
	}, s.opts.MaxPersonalTokensPerUser)
	if err != nil {
		return kubegate.AccessKey{}, "", err
	}
	return k, PersonalTokenPrefix + k.AccessKey + "." + secret, nil
}

// ListPersonalTokens lists the personal access tokens of userID.
func (s *Service) ListPersonalTokens(ctx context.Context, userID string) ([]kubegate.AccessKey, error) {
	return s.listKind(ctx, userID, kubegate.KindPersonalToken)
}

// DeletePersonalToken deletes a personal access token of userID, by its id (its
// access key).
func (s *Service) DeletePersonalToken(ctx context.Context, userID, id string) error {
	return s.deleteKind(ctx, userID, id, kubegate.KindPersonalToken)
}

// PersonalToken checks a personal access token presented as a bearer token and
// returns the identity it stands for; the key it is (Identity.AccessKey) makes
// it a credential that cannot manage credentials.
func (s *Service) PersonalToken(raw string, c Client) (kubegate.Identity, error) {
	fail := kubegate.Errorf(kubegate.EUnauthorized, "invalid personal access token")
	ak, secret, ok := strings.Cut(strings.TrimPrefix(raw, PersonalTokenPrefix), ".")
	if !ok || !strings.HasPrefix(raw, PersonalTokenPrefix) {
		return kubegate.Identity{}, fail
	}
	return s.verifySecret(kubegate.KindPersonalToken, ak, secret, c, fail)
}
