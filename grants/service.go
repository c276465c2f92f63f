// Package grants gives users and teams Kubernetes roles across clusters: the
// Service keeps grants (who × role × where) and the Reconciler keeps, in each
// registered cluster, the RBAC bindings they imply.
package grants

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/kubegate/kubegate"
)

// DefaultRoles are the ClusterRoles granted unless the operator says otherwise:
// Kubernetes' own user-facing roles.
func DefaultRoles() []string { return []string{"view", "edit", "admin"} }

// RolesSetting names the operator's setting in errors.
const RolesSetting = "--grantable-roles"

// Users is what grants read of the accounts.
type Users interface {
	User(id string) (kubegate.User, bool)
	GetUser(ctx context.Context, name string) (kubegate.User, error)
}

// Options configures a Service.
type Options struct {
	Store kubegate.Store
	Users Users
	// Roles are the ClusterRoles that may be granted (DefaultRoles when nil).
	Roles  []string
	Now    func() time.Time
	Rand   io.Reader
	Logger *slog.Logger
}

// Service manages grants. Reads and writes go to the store; the Reconciler
// makes them true in the clusters.
type Service struct{ opts Options }

// New returns a Service.
func New(opts Options) *Service {
	if opts.Roles == nil {
		opts.Roles = DefaultRoles()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{opts: opts}
}

// Roles returns the ClusterRoles that may be granted.
func (s *Service) Roles() []string { return slices.Clone(s.opts.Roles) }

// NewGrant is what an administrator asks for; a user subject is named by the
// user's name.
type NewGrant struct {
	Subject     kubegate.GrantSubject
	Role        string
	Clusters    []string
	Namespaces  []string
	ClusterWide bool
}

// Create stores a grant made by the administrator called by.
func (s *Service) Create(ctx context.Context, by string, ng NewGrant) (kubegate.Grant, error) {
	if !slices.Contains(s.opts.Roles, ng.Role) {
		return kubegate.Grant{}, kubegate.Errorf(kubegate.EInvalid, "role %q may not be granted: the operator allows %s (%s)",
			ng.Role, strings.Join(s.opts.Roles, ", "), RolesSetting)
	}
	subject := ng.Subject
	if subject.Kind == kubegate.SubjectUser {
		u, err := s.opts.Users.GetUser(ctx, subject.Name)
		if kubegate.ErrorCode(err) == kubegate.ENotFound {
			return kubegate.Grant{}, kubegate.Errorf(kubegate.EInvalid, "subject: no user %q", subject.Name)
		} else if err != nil {
			return kubegate.Grant{}, err
		}
		if !u.Enabled {
			return kubegate.Grant{}, kubegate.Errorf(kubegate.EInvalid, "subject: user %q is disabled", subject.Name)
		}
		subject.Name = u.ID
	}
	b := make([]byte, 10)
	if _, err := io.ReadFull(s.opts.Rand, b); err != nil {
		return kubegate.Grant{}, fmt.Errorf("reading randomness: %w", err)
	}
	g := kubegate.Grant{
		// Lower-case letters and digits: the ID goes into binding names.
		ID: "g" + base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding).EncodeToString(b), Subject: subject, Role: ng.Role,
		Clusters: ng.Clusters, Namespaces: ng.Namespaces, ClusterWide: ng.ClusterWide,
		CreatedBy: by, CreatedAt: s.opts.Now().UTC().Truncate(time.Microsecond),
	}
	if err := g.Validate(); err != nil {
		return kubegate.Grant{}, err
	}
	if err := s.opts.Store.CreateGrant(ctx, g); err != nil {
		return kubegate.Grant{}, err
	}
	return g, nil
}

// List returns every grant with its status.
func (s *Service) List(ctx context.Context) ([]kubegate.Grant, error) {
	return s.opts.Store.ListGrants(ctx)
}

// Get returns the grant id with its status.
func (s *Service) Get(ctx context.Context, id string) (kubegate.Grant, error) {
	if kubegate.ValidateGrantID(id) != nil {
		return kubegate.Grant{}, kubegate.Errorf(kubegate.ENotFound, "grant %q not found", id)
	}
	return s.opts.Store.GetGrant(ctx, id)
}

// Delete deletes the grant id; its bindings go from every cluster.
func (s *Service) Delete(ctx context.Context, id string) error {
	if kubegate.ValidateGrantID(id) != nil {
		return kubegate.Errorf(kubegate.ENotFound, "grant %q not found", id)
	}
	return s.opts.Store.DeleteGrant(ctx, id)
}

// SubjectName is how a grant's subject reads: the user's name, or the team's.
func (s *Service) SubjectName(g kubegate.Grant) string {
	if g.Subject.Kind == kubegate.SubjectUser {
		if u, ok := s.opts.Users.User(g.Subject.Name); ok {
			return u.Name
		}
	}
	return g.Subject.Name
}
