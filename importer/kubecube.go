// Package importer brings users and access keys over from the platforms kubegate
// stands in for, so that their scripts keep working: KubeCube keeps both as
// custom resources (user.kubecube.io/v1 User and Key) in its control cluster.
package importer

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/account"
)

// KubeCube's resources.
//
//nolint:gochecknoglobals // constant resource names.
var (
	kubecubeUsers = schema.GroupVersionResource{Group: "user.kubecube.io", Version: "v1", Resource: "users"}
	kubecubeKeys  = schema.GroupVersionResource{Group: "user.kubecube.io", Version: "v1", Resource: "keys"}
)

// Accounts is what an import writes to (account.Service).
type Accounts interface {
	GetUser(ctx context.Context, name string) (kubegate.User, error)
	ImportUser(ctx context.Context, u account.ImportedUser) (kubegate.User, error)
	ImportKey(ctx context.Context, userID, accessKey, secret, description string, created time.Time) (kubegate.AccessKey, error)
	ImportedKeyExpiry() (time.Time, error)
	KeyOwner(ctx context.Context, accessKey string) (string, bool, error)
}

// Options are the choices of an import.
type Options struct {
	// DryRun writes nothing.
	DryRun bool
	// ExistingUsers gives keys to users that existed before the import and did not
	// come from KubeCube. Without it their keys are skipped: a KubeCube user
	// named like a kubegate one (admin, above all) is not necessarily that person,
	// and the key would be theirs.
	ExistingUsers bool
	// Admins makes KubeCube's platform administrators (status.platformAdmin)
	// gateway administrators; without it they come over as ordinary users.
	Admins bool
}

// Report says what an import did with each object.
type Report struct {
	Imported, Skipped []string
}

// Print writes the report, one line per object, then the counts.
func (r Report) Print(w io.Writer, dryRun bool) {
	verb := "imported"
	if dryRun {
		verb = "would import"
	}
	for _, l := range r.Imported {
		fmt.Fprintf(w, "%s %s\n", verb, l)
	}
	for _, l := range r.Skipped {
		fmt.Fprintf(w, "skipped %s\n", l)
	}
	fmt.Fprintf(w, "%d %s, %d skipped\n", len(r.Imported), verb, len(r.Skipped))
}

// KubeCube imports KubeCube's users and keys from the cluster behind dyn. Users
// come without their passwords (KubeCube keeps unsalted MD5 hashes, which
// kubegate does not accept): an administrator sets one; their keys work at once,
// their secrets hashed on the way in, and expire as the lifetime policy says.
// What exists already is skipped, so a second run changes nothing. Every grant of
// administration and every key given to a user that existed before is named in
// the report, in a dry run too.
func KubeCube(ctx context.Context, dyn dynamic.Interface, accounts Accounts, o Options) (Report, error) {
	var r Report
	users, err := dyn.Resource(kubecubeUsers).List(ctx, metav1.ListOptions{})
	if err != nil {
		return r, fmt.Errorf("listing KubeCube users (user.kubecube.io/v1): %w", err)
	}
	sort.Slice(users.Items, func(i, j int) bool { return users.Items[i].GetName() < users.Items[j].GetName() })
	ids := map[string]string{}    // KubeCube user name → kubegate user id ("" in a dry run)
	existing := map[string]bool{} // users that were there before and are not KubeCube's
	for _, u := range users.Items {
		name := u.GetName()
		if found, err := accounts.GetUser(ctx, name); err == nil {
			ids[name] = found.ID
			// A user an earlier import made is this import's to finish (a run
			// that stopped half-way); any other is someone else.
			existing[name] = found.Source != "kubecube"
			r.Skipped = append(r.Skipped, "user "+name+": exists already")
			continue
		} else if kubegate.ErrorCode(err) != kubegate.ENotFound {
			return r, err
		}
		if err := account.ValidateUserName(name); err != nil {
			r.Skipped = append(r.Skipped, "user "+name+": "+kubegate.ErrorMessage(err))
			continue
		}
		state, _, _ := unstructured.NestedString(u.Object, "spec", "state")
		email, _, _ := unstructured.NestedString(u.Object, "spec", "email")
		display, _, _ := unstructured.NestedString(u.Object, "spec", "displayName")
		platformAdmin, _, _ := unstructured.NestedBool(u.Object, "status", "platformAdmin")
		in := account.ImportedUser{
			Name: name, Email: email, FirstName: display, Enabled: state != "forbidden", Admin: platformAdmin && o.Admins, Source: "kubecube",
			Description: "imported from KubeCube", CreatedAt: u.GetCreationTimestamp().Time,
		}
		note := ""
		if !in.Enabled {
			note += " (disabled, as in KubeCube)"
		}
		switch {
		case in.Admin:
			note += " AS A GATEWAY ADMINISTRATOR (KubeCube platform administrator)"
		case platformAdmin:
			note += " as an ordinary user (a KubeCube platform administrator: pass --import-admins to make them administrators)"
		}
		if !o.DryRun {
			created, err := accounts.ImportUser(ctx, in)
			if err != nil {
				return r, fmt.Errorf("importing user %s: %w", name, err)
			}
			ids[name] = created.ID
		} else {
			ids[name] = ""
		}
		r.Imported = append(r.Imported, "user "+name+note+": no password until an administrator sets one")
	}

	keys, err := dyn.Resource(kubecubeKeys).List(ctx, metav1.ListOptions{})
	if err != nil {
		return r, fmt.Errorf("listing KubeCube keys (user.kubecube.io/v1): %w", err)
	}
	expiry := ""
	if at, err := accounts.ImportedKeyExpiry(); err != nil {
		return r, fmt.Errorf("importing keys: %w", err)
	} else if !at.IsZero() {
		expiry = " (expires " + at.Format(time.RFC3339) + ", the lifetime policy)"
	}
	sort.Slice(keys.Items, func(i, j int) bool { return keys.Items[i].GetName() < keys.Items[j].GetName() })
	for _, k := range keys.Items {
		ak := k.GetName()
		owner, _, _ := unstructured.NestedString(k.Object, "spec", "user")
		secret, _, _ := unstructured.NestedString(k.Object, "spec", "secretKey")
		what := "key " + ak + " of " + owner
		if _, found, err := accounts.KeyOwner(ctx, ak); err != nil {
			return r, err
		} else if found {
			r.Skipped = append(r.Skipped, what+": exists already")
			continue
		}
		id, ok := ids[owner]
		switch {
		case !ok:
			r.Skipped = append(r.Skipped, what+": its user was not imported")
			continue
		case existing[owner] && !o.ExistingUsers:
			r.Skipped = append(r.Skipped, what+": user "+owner+" existed before the import and is not KubeCube's (pass --existing-users to give it the key)")
			continue
		case secret == "" || strings.ContainsAny(ak, " /"):
			r.Skipped = append(r.Skipped, what+": no secret key, or not an access key name")
			continue
		}
		note := expiry
		if existing[owner] {
			note += ", given to the existing user " + owner
		}
		if !o.DryRun {
			if _, err := accounts.ImportKey(ctx, id, ak, secret, "imported from KubeCube", k.GetCreationTimestamp().Time); err != nil {
				if kubegate.ErrorCode(err) == kubegate.EInvalid {
					r.Skipped = append(r.Skipped, what+": "+kubegate.ErrorMessage(err))
					continue
				}
				return r, fmt.Errorf("importing %s: %w", what, err)
			}
		}
		r.Imported = append(r.Imported, what+note)
	}
	return r, nil
}
