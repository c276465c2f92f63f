package account

import (
	"context"
	"encoding/json"

	"github.com/kubegate/kubegate"
)

// PolicySetting is the name the credential policy is stored under.
const PolicySetting = "credential-policy"

// Policy is the credential lifetime policy in force: the one an administrator
// set, or else the one the server started with (its flags).
func (s *Service) Policy() kubegate.CredentialPolicy {
	s.policyMu.RLock()
	defer s.policyMu.RUnlock()
	return s.policy
}

// SetPolicy stores a new credential lifetime policy; every replica applies it
// from the change it announces. It binds credentials created from now on.
func (s *Service) SetPolicy(ctx context.Context, p kubegate.CredentialPolicy) error {
	if err := p.Validate(); err != nil {
		return err
	}
	raw, err := json.Marshal(p)
	if err != nil {
		return err
	}
	if err := s.opts.Store.PutSetting(ctx, PolicySetting, string(raw)); err != nil {
		return err
	}
	// Read back rather than assumed: another administrator's write may have
	// landed since, and this replica must end up with the store's last word.
	s.loadPolicy(ctx)
	return nil
}

// loadPolicy applies the stored policy; none stored, or one that cannot be read,
// leaves the starting one in force (logged: a bad policy must not stop a replica).
func (s *Service) loadPolicy(ctx context.Context) {
	p := s.startPolicy
	raw, err := s.opts.Store.Setting(ctx, PolicySetting)
	switch {
	case kubegate.ErrorCode(err) == kubegate.ENotFound:
	case err != nil:
		if ctx.Err() == nil {
			s.opts.Logger.Error("reading the credential policy; keeping the one in force", "error", err)
		}
		return
	default:
		var stored kubegate.CredentialPolicy
		if err := json.Unmarshal([]byte(raw), &stored); err != nil {
			s.opts.Logger.Error("the stored credential policy is unreadable; using the flags' policy", "error", err)
		} else if err := stored.Validate(); err != nil {
			s.opts.Logger.Error("the stored credential policy is invalid; using the flags' policy", "error", err)
		} else {
			p = stored
		}
	}
	s.policyMu.Lock()
	s.policy = p
	s.policyMu.Unlock()
}
