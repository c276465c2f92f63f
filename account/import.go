package account

import (
	"context"
	"time"

	"github.com/kubegate/kubegate"
)

// ImportedUser is a user brought over from another platform, without a password:
// an administrator sets one before the user can log in (their keys work at once).
type ImportedUser struct {
	Name        string
	Email       string
	FirstName   string
	Description string
	Enabled     bool
	Admin       bool
	Source      string // the platform: "kubecube"
	CreatedAt   time.Time
}

// ImportUser creates u unless a user of that name exists (EConflict).
func (s *Service) ImportUser(ctx context.Context, in ImportedUser) (kubegate.User, error) {
	if err := ValidateUserName(in.Name); err != nil {
		return kubegate.User{}, err
	}
	id, err := s.newUUID()
	if err != nil {
		return kubegate.User{}, err
	}
	now := s.opts.Now().UTC().Truncate(time.Microsecond)
	created := in.CreatedAt.UTC().Truncate(time.Microsecond)
	if created.IsZero() {
		created = now
	}
	u := kubegate.User{
		ID: id, Name: in.Name, Email: in.Email, FirstName: in.FirstName, Description: in.Description,
		Enabled: in.Enabled, Admin: in.Admin, Source: in.Source, CreatedAt: created, UpdatedAt: now,
	}
	if err := s.opts.Store.CreateUser(ctx, u); err != nil {
		return kubegate.User{}, err
	}
	s.view.apply(ctx, kubegate.Change{Kind: kubegate.ChangeUser, Key: u.ID})
	return u, nil
}

// ImportedKeyExpiry is when a key imported now expires under the lifetime
// policy: never without one, at the longest lifetime with one; a policy that
// requires an expiry without a longest lifetime gives no date to choose
// (EInvalid).
func (s *Service) ImportedKeyExpiry() (time.Time, error) {
	p := s.Policy()
	switch {
	case p.KeyMaxLifetime > 0:
		return s.opts.Now().UTC().Truncate(time.Second).Add(p.KeyMaxLifetime), nil
	case p.KeyExpiryRequired:
		return time.Time{}, kubegate.Errorf(kubegate.EInvalid,
			"the lifetime policy requires keys to expire but sets no longest lifetime to give an imported key: set keyMaxLifetime")
	}
	return time.Time{}, nil
}

// ImportKey creates an access key pair brought over from another platform with
// its own access key and secret (hashed now; the plain secret is not kept),
// unless that access key exists (EConflict). The per-user limit does not apply:
// an import must not lose a key a script uses. The lifetime policy does: the key
// expires at ImportedKeyExpiry.
func (s *Service) ImportKey(ctx context.Context, userID, accessKey, secret, description string, created time.Time) (kubegate.AccessKey, error) {
	if len(secret) < 16 {
		return kubegate.AccessKey{}, kubegate.Errorf(kubegate.EInvalid, "the secret key is too short to be one")
	}
	expires, err := s.ImportedKeyExpiry()
	if err != nil {
		return kubegate.AccessKey{}, err
	}
	id, err := s.newUUID()
	if err != nil {
		return kubegate.AccessKey{}, err
	}
	if created.IsZero() {
		created = s.opts.Now()
	}
	k := kubegate.AccessKey{
		ID: id, Kind: kubegate.KindKey, AccessKey: accessKey, SecretHash: hashSecret(secret), UserID: userID, Description: description,
		Status: kubegate.KeyActive, CreatedAt: created.UTC().Truncate(time.Microsecond), ExpiresAt: expires,
	}
	if err := s.opts.Store.CreateAccessKey(ctx, k, 0); err != nil {
		return kubegate.AccessKey{}, err
	}
	s.view.apply(ctx, kubegate.Change{Kind: kubegate.ChangeAccessKey, Key: accessKey})
	return k, nil
}

// KeyOwner says whether the access key (of any kind) exists, and whose it is.
func (s *Service) KeyOwner(ctx context.Context, accessKey string) (userID string, found bool, err error) {
	k, err := s.opts.Store.GetAccessKey(ctx, accessKey)
	switch {
	case err == nil:
		return k.UserID, true, nil
	case kubegate.ErrorCode(err) == kubegate.ENotFound:
		return "", false, nil
	default:
		return "", false, err
	}
}
