package grants

import (
	"slices"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/kubegate/kubegate"
)

// FieldManager owns, in server-side apply, what the gateway sets on bindings.
const FieldManager = "kubegate"

// binding is one RBAC binding a grant implies in a cluster: a RoleBinding in
// Namespace, or the ClusterRoleBinding when Namespace is "".
type binding struct {
	Namespace string
	Name      string
	Grant     string
	Instance  string
	RoleRef   rbacv1.RoleRef
	Subjects  []rbacv1.Subject
}

// subjectOf is the RBAC subject of a grant: the user by the name they are
// impersonated with, or the team's group.
func subjectOf(g kubegate.Grant, userName string) rbacv1.Subject {
	if g.Subject.Kind == kubegate.SubjectTeam {
		return rbacv1.Subject{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: kubegate.TeamGroup(g.Subject.Name)}
	}
	return rbacv1.Subject{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: userName}
}

// desired is the bindings grant g implies in a cluster whose namespaces are
// namespaces (those that exist and are not terminating), and the namespaces it
// names that the cluster does not have.
func desired(g kubegate.Grant, instance, userName string, namespaces []string) (out []binding, missing []string) {
	base := binding{
		Name: kubegate.BindingName(g.ID), Grant: g.ID, Instance: instance,
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: g.Role},
		Subjects: []rbacv1.Subject{subjectOf(g, userName)},
	}
	switch {
	case g.ClusterWide:
		return []binding{base}, nil
	case g.AllNamespaces():
		for _, ns := range namespaces {
			b := base
			b.Namespace = ns
			out = append(out, b)
		}
		return out, nil
	}
	for _, ns := range g.Namespaces {
		if !slices.Contains(namespaces, ns) {
			missing = append(missing, ns)
			continue
		}
		b := base
		b.Namespace = ns
		out = append(out, b)
	}
	return out, missing
}

// labels are what mark a binding as the grant's.
func (b binding) labels() map[string]string {
	return map[string]string{kubegate.ManagedByLabel: kubegate.ManagedBy, kubegate.GrantLabel: b.Grant, kubegate.InstanceLabel: b.Instance}
}

// matches says whether an existing binding already is b: the labels, role and
// subjects the gateway sets (others' fields are left alone).
func (b binding) matches(labels map[string]string, roleRef rbacv1.RoleRef, subjects []rbacv1.Subject) bool {
	for k, v := range b.labels() {
		if labels[k] != v {
			return false
		}
	}
	return roleRef == b.RoleRef && slices.Equal(subjects, b.Subjects)
}
