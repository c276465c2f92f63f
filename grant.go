package kubegate

import (
	"regexp"
	"slices"
	"time"
)

// Grant gives a user or a team a Kubernetes ClusterRole on some or all clusters,
// in some or all namespaces or cluster-wide. The gateway turns it into RBAC
// bindings in each cluster it names (RoleBindings per namespace, or one
// ClusterRoleBinding) and keeps them there. A grant does not change: to change
// one, delete it and grant again.
type Grant struct {
	// ID is a DNS label made by the gateway; the bindings are named after it.
	ID      string
	Subject GrantSubject
	// Role is the ClusterRole granted; the operator decides which may be
	// (--grantable-roles).
	Role string
	// Clusters are the clusters the grant applies to; ["*"] is every cluster,
	// those registered later too.
	Clusters []string
	// Namespaces are the namespaces the role is bound in; ["*"] is every
	// namespace, those created later too. Empty when ClusterWide.
	Namespaces []string
	// ClusterWide binds the role across the cluster (a ClusterRoleBinding).
	ClusterWide bool
	CreatedBy   string // the user name of the administrator who granted it
	CreatedAt   time.Time
	// Status is, by cluster, what the gateway last achieved there.
	Status []GrantStatus
}

// Everywhere in Grant.Clusters and Grant.Namespaces means all of them.
const Everywhere = "*"

// SubjectKind says whom a grant is for.
type SubjectKind string

// Subject kinds.
const (
	SubjectUser SubjectKind = "User"
	SubjectTeam SubjectKind = "Team"
)

// GrantSubject is the user or team a grant is for. A user is named by ID in the
// store (the bindings name the user's name); a team by its name.
type GrantSubject struct {
	Kind SubjectKind
	Name string // user ID or team name
}

// GrantState is how far a grant got in one cluster.
type GrantState string

// Grant states.
const (
	// GrantApplied: the cluster holds every binding the grant implies.
	GrantApplied GrantState = "Applied"
	// GrantPending: not yet, for a reason that passes (the cluster is
	// unreachable, a named namespace does not exist yet); retried.
	GrantPending GrantState = "Pending"
	// GrantFailed: the cluster refused (e.g. the gateway may not bind the role);
	// retried with back-off, as an operator may fix it.
	GrantFailed GrantState = "Failed"
)

// GrantStatus is the state of a grant in one cluster, with the cluster's own
// message when it is not Applied.
type GrantStatus struct {
	Cluster   string
	State     GrantState
	Message   string
	UpdatedAt time.Time
}

// MaxGrantTargets bounds the clusters and the namespaces a grant names.
const MaxGrantTargets = 256

// ManagedByLabel and ManagedBy mark every binding the gateway makes; GrantLabel
// names the grant it stands for, and InstanceLabel the installation (the store)
// whose grant it is, so that two installations sharing a cluster leave each
// other's bindings alone. Bindings without them are never touched.
const (
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedBy      = "kubegate"
	GrantLabel     = "kubegate.io/grant"
	InstanceLabel  = "kubegate.io/instance"
)

// BindingName is the name of the RoleBindings and ClusterRoleBinding of the
// grant id.
func BindingName(id string) string { return "kubegate-" + id }

// grantID is what the gateway makes: a letter, then letters and digits.
var grantID = regexp.MustCompile(`^[a-z][a-z0-9]{1,39}$`)

// ValidateGrantID says whether id can be a grant's.
func ValidateGrantID(id string) error {
	if !grantID.MatchString(id) {
		return Errorf(EInvalid, "grant id %q is not one the gateway makes", id)
	}
	return nil
}

// roleName is a ClusterRole name as RBAC allows it (a path segment: the
// bootstrap roles hold colons).
var roleName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9.:_-]{0,252}$`)

// ValidateRoleName says whether name can be a ClusterRole's.
func ValidateRoleName(name string) error {
	if !roleName.MatchString(name) {
		return Errorf(EInvalid, "role %q is not a ClusterRole name", name)
	}
	return nil
}

// Validate says what is wrong with a grant, naming the field; clusters and
// namespaces are sorted and made unique.
func (g *Grant) Validate() error {
	if err := ValidateGrantID(g.ID); err != nil {
		return err
	}
	switch g.Subject.Kind {
	case SubjectUser:
		if g.Subject.Name == "" || len(g.Subject.Name) > 64 {
			return Errorf(EInvalid, "subject: %q is not a user ID", g.Subject.Name)
		}
	case SubjectTeam:
		if err := ValidateTeamName(g.Subject.Name); err != nil {
			return Errorf(EInvalid, "subject: %v", err)
		}
	default:
		return Errorf(EInvalid, "subject.kind must be %s or %s, not %q", SubjectUser, SubjectTeam, g.Subject.Kind)
	}
	if err := ValidateRoleName(g.Role); err != nil {
		return err
	}
	var err error
	if g.Clusters, err = targets("clusters", g.Clusters, ValidateClusterName); err != nil {
		return err
	}
	if g.ClusterWide {
		if len(g.Namespaces) > 0 {
			return Errorf(EInvalid, "namespaces must be empty on a cluster-wide grant")
		}
		return nil
	}
	if len(g.Namespaces) == 0 {
		return Errorf(EInvalid, "namespaces must name at least one namespace, or %q for all, unless the grant is cluster-wide", Everywhere)
	}
	g.Namespaces, err = targets("namespaces", g.Namespaces, func(ns string) error {
		if !clusterName.MatchString(ns) {
			return Errorf(EInvalid, "namespace %q is not a namespace name", ns)
		}
		return nil
	})
	return err
}

// targets checks the clusters or namespaces of a grant: at least one, at most
// MaxGrantTargets, each valid, or Everywhere alone.
func targets(field string, names []string, valid func(string) error) ([]string, error) {
	if len(names) == 0 {
		return nil, Errorf(EInvalid, "%s must name at least one, or %q for all", field, Everywhere)
	}
	if len(names) > MaxGrantTargets {
		return nil, Errorf(EInvalid, "%s names at most %d", field, MaxGrantTargets)
	}
	if slices.Contains(names, Everywhere) {
		if len(names) > 1 {
			return nil, Errorf(EInvalid, "%s: %q stands alone", field, Everywhere)
		}
		return []string{Everywhere}, nil
	}
	for _, n := range names {
		if err := valid(n); err != nil {
			return nil, Errorf(EInvalid, "%s: %v", field, err)
		}
	}
	return slices.Compact(slices.Sorted(slices.Values(names))), nil
}

// Covers says whether the grant applies to the cluster called name.
func (g Grant) Covers(cluster string) bool {
	return len(g.Clusters) == 1 && g.Clusters[0] == Everywhere || slices.Contains(g.Clusters, cluster)
}

// Reaches says whether the grant binds in namespace ns of the cluster.
func (g Grant) Reaches(cluster, ns string) bool {
	return g.Covers(cluster) && (g.ClusterWide || g.AllNamespaces() || slices.Contains(g.Namespaces, ns))
}

// StatusIn returns the grant's status in each of clusters it covers, in their
// order; one not reconciled yet is Pending with no UpdatedAt.
func (g Grant) StatusIn(clusters []string) []GrantStatus {
	var out []GrantStatus
	for _, c := range clusters {
		if !g.Covers(c) {
			continue
		}
		st := GrantStatus{Cluster: c, State: GrantPending}
		if i := slices.IndexFunc(g.Status, func(s GrantStatus) bool { return s.Cluster == c }); i >= 0 {
			st = g.Status[i]
		}
		out = append(out, st)
	}
	return out
}

// AllNamespaces says whether the grant binds in every namespace.
func (g Grant) AllNamespaces() bool {
	return !g.ClusterWide && len(g.Namespaces) == 1 && g.Namespaces[0] == Everywhere
}
