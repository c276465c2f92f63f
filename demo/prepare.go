package demo

import (
	"context"
	"fmt"
	"path/filepath"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/grants"
	"github.com/kubegate/kubegate/kubeenv"
)

// GatewayUser is the identity the gateway uses in the demo's clusters.
const GatewayUser = "kubegate-gateway"

// CacheReadRules is what the demo (and the Helm chart's default,
// listCache.read) lets the gateway list and watch for its list cache: the
// resources people list, by name. Never Secrets (the cache does not hold them),
// never "*" (which would include them).
func CacheReadRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods", "services", "configmaps", "namespaces", "nodes", "events", "serviceaccounts", "endpoints", "persistentvolumeclaims", "persistentvolumes"}, Verbs: []string{"list", "watch"}},
		{APIGroups: []string{"apps"}, Resources: []string{"deployments", "statefulsets", "daemonsets", "replicasets"}, Verbs: []string{"list", "watch"}},
		{APIGroups: []string{"batch"}, Resources: []string{"jobs", "cronjobs"}, Verbs: []string{"list", "watch"}},
		{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"ingresses"}, Verbs: []string{"list", "watch"}},
	}
}

// GrantCacheReader lets the gateway's identity in c list and watch
// CacheReadRules, what its list cache needs (docs/clusters.md weighs it).
func GrantCacheReader(ctx context.Context, c *kubeenv.Cluster) error {
	cs, err := c.Clientset()
	if err != nil {
		return err
	}
	_, err = cs.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "kubegate-cache-reader"}, Rules: CacheReadRules(),
	}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("preparing cluster %s: %w", c.Name, err)
	}
	_, err = cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "kubegate-cache-reader"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "kubegate-cache-reader"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: GatewayUser}},
	}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("preparing cluster %s: %w", c.Name, err)
	}
	return nil
}

// GrantsRole is what the gateway needs in a cluster to keep the grants'
// bindings there: managing bindings, seeing namespaces, and binding only the
// grantable roles, so that Kubernetes' own escalation check stops a grant of
// anything else.
func GrantsRole(grantable []string) *rbacv1.ClusterRole {
	return &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "kubegate-grants"},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{rbacv1.GroupName}, Resources: []string{"rolebindings", "clusterrolebindings"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
			{APIGroups: []string{rbacv1.GroupName}, Resources: []string{"clusterroles"}, Verbs: []string{"bind"}, ResourceNames: grantable},
			{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get", "list", "watch"}},
		},
	}
}

// PrepareCluster sets a cluster up the way docs/clusters.md tells operators to: a
// least-privilege identity for the gateway that may impersonate and keep the
// grants' bindings (binding only the default grantable roles), and the gateway's
// admins bound to cluster-admin. It writes the gateway's kubeconfig into dir and
// returns its path.
func PrepareCluster(ctx context.Context, c *kubeenv.Cluster, dir string) (string, error) {
	cs, err := c.Clientset()
	if err != nil {
		return "", err
	}
	rbac := cs.RbacV1()
	objects := []func() error{
		func() error {
			_, err := rbac.ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
				ObjectMeta: metav1.ObjectMeta{Name: "kubegate-impersonator"},
				Rules: []rbacv1.PolicyRule{{
					APIGroups: []string{""}, Resources: []string{"users", "groups"}, Verbs: []string{"impersonate"},
				}},
			}, metav1.CreateOptions{})
			return err
		},
		func() error {
			_, err := rbac.ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
				ObjectMeta: metav1.ObjectMeta{Name: "kubegate-impersonator"},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "kubegate-impersonator"},
				Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: GatewayUser}},
			}, metav1.CreateOptions{})
			return err
		},
		func() error {
			_, err := rbac.ClusterRoles().Create(ctx, GrantsRole(grants.DefaultRoles()), metav1.CreateOptions{})
			return err
		},
		func() error {
			_, err := rbac.ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
				ObjectMeta: metav1.ObjectMeta{Name: "kubegate-grants"},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "kubegate-grants"},
				Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: GatewayUser}},
			}, metav1.CreateOptions{})
			return err
		},
		func() error {
			_, err := rbac.ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
				ObjectMeta: metav1.ObjectMeta{Name: "kubegate-admins"},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
				Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: kubegate.GroupAdmins}},
			}, metav1.CreateOptions{})
			return err
		},
	}
	for _, create := range objects {
		if err := create(); err != nil && !apierrors.IsAlreadyExists(err) {
			return "", fmt.Errorf("preparing cluster %s: %w", c.Name, err)
		}
	}
	cfg, err := c.UserConfig(GatewayUser)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "gateway-kubeconfig-"+c.Name)
	return path, c.WriteKubeconfig(path, cfg, "gateway")
}
