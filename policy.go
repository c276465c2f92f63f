package kubegate

import (
	"bytes"
	"encoding/json"
	"time"
)

// CredentialPolicy is the administrators' lifetime policy for the credentials
// users create: access keys and personal access tokens.
type CredentialPolicy struct {
	// KeyMaxLifetime bounds an access key's lifetime; 0: no bound.
	KeyMaxLifetime time.Duration
	// KeyExpiryRequired refuses access keys that never expire (implied by a bound).
	KeyExpiryRequired bool
	// TokenMaxLifetime bounds a personal access token's lifetime; always set.
	TokenMaxLifetime time.Duration
}

// maxCredentialLifetime bounds what the policy may allow: ten years.
const maxCredentialLifetime = 10 * 365 * 24 * time.Hour

// Validate says what is wrong with a policy, naming the field.
func (p CredentialPolicy) Validate() error {
	switch {
	case p.KeyMaxLifetime < 0 || p.KeyMaxLifetime > maxCredentialLifetime:
		return Errorf(EInvalid, "keyMaxLifetime must be from 0 (no limit) to %s, got %s", maxCredentialLifetime, p.KeyMaxLifetime)
	case p.KeyMaxLifetime > 0 && p.KeyMaxLifetime < time.Hour:
		return Errorf(EInvalid, "keyMaxLifetime must be at least 1h (or 0 for no limit), got %s", p.KeyMaxLifetime)
	case p.TokenMaxLifetime < time.Hour || p.TokenMaxLifetime > maxCredentialLifetime:
		return Errorf(EInvalid, "tokenMaxLifetime must be from 1h to %s, got %s", maxCredentialLifetime, p.TokenMaxLifetime)
	}
	return nil
}

// ExpiryRequired says whether every new access key must have an expiry.
func (p CredentialPolicy) ExpiryRequired() bool { return p.KeyExpiryRequired || p.KeyMaxLifetime > 0 }

// policyJSON is a policy as JSON carries it: durations as Go durations ("720h",
// "0s"), every field present.
type policyJSON struct {
	KeyMaxLifetime    *string `json:"keyMaxLifetime"`
	KeyExpiryRequired *bool   `json:"keyExpiryRequired"`
	TokenMaxLifetime  *string `json:"tokenMaxLifetime"`
}

// MarshalJSON writes the policy as the API shows it and the store keeps it.
func (p CredentialPolicy) MarshalJSON() ([]byte, error) {
	key, token := p.KeyMaxLifetime.String(), p.TokenMaxLifetime.String()
	return json.Marshal(policyJSON{KeyMaxLifetime: &key, KeyExpiryRequired: &p.KeyExpiryRequired, TokenMaxLifetime: &token})
}

// UnmarshalJSON reads a whole policy, naming a missing or malformed field; it
// does not validate the values (Validate does).
func (p *CredentialPolicy) UnmarshalJSON(b []byte) error {
	var j policyJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return Errorf(EInvalid, "a credential policy is an object of keyMaxLifetime, keyExpiryRequired and tokenMaxLifetime: %v", err)
	}
	if j.KeyMaxLifetime == nil || j.KeyExpiryRequired == nil || j.TokenMaxLifetime == nil {
		return Errorf(EInvalid, "keyMaxLifetime, keyExpiryRequired and tokenMaxLifetime are all required")
	}
	var out CredentialPolicy
	for _, f := range []struct {
		name string
		v    string
		dst  *time.Duration
	}{{"keyMaxLifetime", *j.KeyMaxLifetime, &out.KeyMaxLifetime}, {"tokenMaxLifetime", *j.TokenMaxLifetime, &out.TokenMaxLifetime}} {
		d, err := time.ParseDuration(f.v)
		if err != nil {
			return Errorf(EInvalid, "%s must be a duration such as 720h, got %q", f.name, f.v)
		}
		*f.dst = d
	}
	out.KeyExpiryRequired = *j.KeyExpiryRequired
	*p = out
	return nil
}
