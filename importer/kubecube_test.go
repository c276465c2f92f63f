package importer_test

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic/fake"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/account"
	"github.com/kubegate/kubegate/importer"
	"github.com/kubegate/kubegate/store/sqlite/sqlitetest"
)

func kubecube(t *testing.T, objs ...map[string]any) *fake.FakeDynamicClient {
	t.Helper()
	list := map[schema.GroupVersionResource]string{
		{Group: "user.kubecube.io", Version: "v1", Resource: "users"}: "UserList",
		{Group: "user.kubecube.io", Version: "v1", Resource: "keys"}:  "KeyList",
	}
	dyn := fake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), list)
	for _, o := range objs {
		// Created through their resource: the fake would guess "keies" for Key.
		gvr := schema.GroupVersionResource{Group: "user.kubecube.io", Version: "v1", Resource: strings.ToLower(o["kind"].(string)) + "s"}
		if _, err := dyn.Resource(gvr).Create(context.Background(), &unstructured.Unstructured{Object: o}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return dyn
}

func kcUser(name string, admin bool) map[string]any {
	return map[string]any{"apiVersion": "user.kubecube.io/v1", "kind": "User", "metadata": map[string]any{"name": name},
		"spec": map[string]any{"state": "normal"}, "status": map[string]any{"platformAdmin": admin}}
}

func kcKey(ak, owner string) map[string]any {
	return map[string]any{"apiVersion": "user.kubecube.io/v1", "kind": "Key", "metadata": map[string]any{"name": ak},
		"spec": map[string]any{"secretKey": strings.Repeat("s", 32), "user": owner}}
}

func newAccounts(t *testing.T) *account.Service {
	t.Helper()
	s, err := account.New(account.Options{Store: sqlitetest.Open(t), Password: account.PasswordParams{MemoryKiB: 64, Time: 1, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Bootstrap(context.Background(), "bootstrap-password"); err != nil {
		t.Fatal(err)
	}
	return s
}

// A KubeCube user named like a kubegate user that was there first (the bootstrap
// admin above all) is not given KubeCube's keys unless asked; KubeCube's platform
// administrators come over as ordinary users unless asked; a dry run says both;
// and imported keys expire as the lifetime policy says.
func TestKubeCubeImportGrantsNothingUnasked(t *testing.T) {
	ctx := context.Background()
	dyn := kubecube(t, kcUser("admin", true), kcUser("chief", true), kcUser("dev", false),
		kcKey("AKADMIN0000000000000000000000000", "admin"), kcKey("AKCHIEF0000000000000000000000000", "chief"), kcKey("AKDEV00000000000000000000000000", "dev"))
	accounts := newAccounts(t)
	if err := accounts.SetPolicy(ctx, kubegate.CredentialPolicy{KeyMaxLifetime: 90 * 24 * time.Hour, TokenMaxLifetime: 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}

	dry, err := importer.KubeCube(ctx, dyn, accounts, importer.Options{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	report := strings.Join(append(dry.Imported, dry.Skipped...), "\n")
	for _, want := range []string{
		"key AKADMIN0000000000000000000000000 of admin: user admin existed before the import and is not KubeCube's (pass --existing-users",
		"user chief as an ordinary user (a KubeCube platform administrator: pass --import-admins",
		"key AKDEV00000000000000000000000000 of dev (expires ",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("the dry run does not say %q:\n%s", want, report)
		}
	}

	if _, err := importer.KubeCube(ctx, dyn, accounts, importer.Options{}); err != nil {
		t.Fatal(err)
	}
	if owner, found, _ := accounts.KeyOwner(ctx, "AKADMIN0000000000000000000000000"); found {
		t.Fatalf("KubeCube's admin key was given to kubegate's admin (%s)", owner)
	}
	chief, err := accounts.GetUser(ctx, "chief")
	if err != nil || chief.Admin {
		t.Fatalf("a KubeCube platform administrator became a gateway administrator unasked: %+v, %v", chief, err)
	}
	dev, _ := accounts.GetUser(ctx, "dev")
	keys, _ := accounts.ListKeys(ctx, dev.ID)
	if len(keys) != 1 || keys[0].ExpiresAt.IsZero() || keys[0].ExpiresAt.After(time.Now().Add(91*24*time.Hour)) {
		t.Fatalf("an imported key ignores the 90-day policy: %+v", keys)
	}

	// Asked, the key goes to the existing user, and the report says so.
	again, err := importer.KubeCube(ctx, dyn, accounts, importer.Options{ExistingUsers: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(again.Imported, "\n"); !strings.Contains(got, "key AKADMIN0000000000000000000000000 of admin (expires") || !strings.Contains(got, "given to the existing user admin") {
		t.Fatalf("the import with --existing-users: %s", got)
	}
}

// KubeCube's platform administrators become gateway administrators when asked.
func TestKubeCubeImportOfAdministrators(t *testing.T) {
	ctx := context.Background()
	accounts := newAccounts(t)
	r, err := importer.KubeCube(ctx, kubecube(t, kcUser("chief", true)), accounts, importer.Options{Admins: true})
	if err != nil {
		t.Fatal(err)
	}
	if chief, _ := accounts.GetUser(ctx, "chief"); !chief.Admin || !strings.Contains(r.Imported[0], "AS A GATEWAY ADMINISTRATOR") {
		t.Fatalf("chief %+v, report %v", chief, r.Imported)
	}
}

// A policy that requires keys to expire without saying when leaves an import no
// date to give them: it stops, saying so, rather than import keys that break it.
func TestKubeCubeImportRefusesAPolicyItCannotMeet(t *testing.T) {
	ctx := context.Background()
	accounts := newAccounts(t)
	if err := accounts.SetPolicy(ctx, kubegate.CredentialPolicy{KeyExpiryRequired: true, TokenMaxLifetime: 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	_, err := importer.KubeCube(ctx, kubecube(t, kcUser("dev", false), kcKey("AKDEV00000000000000000000000000", "dev")), accounts, importer.Options{})
	if err == nil || !strings.Contains(err.Error(), "keyMaxLifetime") {
		t.Fatalf("an import under a policy it cannot meet: %v", err)
	}
}
