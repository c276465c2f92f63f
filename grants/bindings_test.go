package grants

import (
	"reflect"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/kubegate/kubegate"
)

func TestDesiredBindings(t *testing.T) {
	namespaces := []string{"a", "b", "c"}
	team := kubegate.GrantSubject{Kind: kubegate.SubjectTeam, Name: "web"}
	user := kubegate.GrantSubject{Kind: kubegate.SubjectUser, Name: "id-ann"}
	for _, tc := range []struct {
		name        string
		grant       kubegate.Grant
		namespaces  []string
		missing     []string
		subjectKind string
		subjectName string
	}{
		{"a team in named namespaces, one missing", kubegate.Grant{ID: "g1", Subject: team, Role: "view", Namespaces: []string{"a", "z"}}, []string{"a"}, []string{"z"}, "Group", "kubegate:team:web"},
		{"a user in every namespace", kubegate.Grant{ID: "g2", Subject: user, Role: "edit", Namespaces: []string{"*"}}, namespaces, nil, "User", "ann"},
		{"cluster-wide", kubegate.Grant{ID: "g3", Subject: user, Role: "view", ClusterWide: true}, []string{""}, nil, "User", "ann"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, missing := desired(tc.grant, "inst", "ann", namespaces)
			if !reflect.DeepEqual(missing, tc.missing) {
				t.Fatalf("missing = %v, want %v", missing, tc.missing)
			}
			var ns []string
			for _, b := range got {
				ns = append(ns, b.Namespace)
				if b.Name != "kubegate-"+tc.grant.ID || b.RoleRef != (rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: tc.grant.Role}) ||
					len(b.Subjects) != 1 || b.Subjects[0].Kind != tc.subjectKind || b.Subjects[0].Name != tc.subjectName {
					t.Fatalf("binding = %+v", b)
				}
				want := map[string]string{kubegate.ManagedByLabel: "kubegate", kubegate.GrantLabel: tc.grant.ID, kubegate.InstanceLabel: "inst"}
				if !reflect.DeepEqual(b.labels(), want) {
					t.Fatalf("labels = %v", b.labels())
				}
				if !b.matches(want, b.RoleRef, b.Subjects) {
					t.Fatal("a binding does not match itself")
				}
				if b.matches(map[string]string{kubegate.ManagedByLabel: "kubegate", kubegate.GrantLabel: tc.grant.ID}, b.RoleRef, b.Subjects) {
					t.Fatal("a binding of another installation matches")
				}
				if b.matches(want, b.RoleRef, append([]rbacv1.Subject{{Kind: "User", Name: "intruder"}}, b.Subjects...)) {
					t.Fatal("a binding with a subject added by hand matches")
				}
			}
			if !reflect.DeepEqual(ns, tc.namespaces) {
				t.Fatalf("namespaces = %v, want %v", ns, tc.namespaces)
			}
		})
	}
}
