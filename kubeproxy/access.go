package kubeproxy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/cluster"
	"github.com/kubegate/kubegate/request"
)

// accessTTL is how long a cluster's answer to "may this caller list this" is
// reused: a RoleBinding removed in the cluster stops a user's cached lists
// within it. The apiserver's own webhook authorizer caches allowed answers for
// 5 minutes by default; seconds keep revocation prompt.
const accessTTL = 5 * time.Second

// maxAccessEntries bounds the remembered answers (callers × scopes); past it,
// the expired ones go, and while none has, new answers are not kept. Keys are
// valid Kubernetes names (bounded) and the caller's identity.
const maxAccessEntries = 10_000

// access remembers SelfSubjectAccessReview answers per cluster, caller and
// scope for accessTTL, so that a cached list costs the cluster nothing for
// its RBAC decision most of the time.
type access struct {
	now func() time.Time

	mu      sync.Mutex
	answers map[accessKey]accessAnswer
}

type accessKey struct {
	target                     *cluster.Member // a cluster registered again is asked again
	user, groups               string
	group, resource, namespace string
}

type accessAnswer struct {
	allowed bool
	reason  string
	expires time.Time
}

func newAccess(now func() time.Time) *access {
	return &access{now: now, answers: map[accessKey]accessAnswer{}}
}

// mayList asks target, as the caller ctx carries, whether the caller may list
// info's resource in its namespace ("" for all), through a
// SelfSubjectAccessReview sent with the caller's impersonation headers. A
// refusal comes back as the 403 the cluster itself would answer the list with.
func (a *access) mayList(ctx context.Context, target *cluster.Member, info *kubegate.KubeRequest) error {
	id := request.Identity(ctx)
	if id == nil {
		return fmt.Errorf("kubeproxy: a list without an identity") // fail closed
	}
	// The key is made of request input: names Kubernetes could not hold are not
	// asked about (nor remembered); the cluster answers the list itself.
	if !validName(info.Namespace, 63) || !validName(info.Resource, 253) || !validName(info.APIGroup, 253) {
		return fmt.Errorf("kubeproxy: not a Kubernetes name in %q", info.Path)
	}
	k := accessKey{target: target, user: id.Name, groups: strings.Join(id.Groups, "\x00"),
		group: info.APIGroup, resource: info.Resource, namespace: info.Namespace}
	now := a.now()
	a.mu.Lock()
	ans, ok := a.answers[k]
	if ok && !now.Before(ans.expires) {
		delete(a.answers, k)
	}
	a.mu.Unlock()
	if !ok || !now.Before(ans.expires) {
		var err error
		if ans, err = a.review(ctx, target, info); err != nil {
			return err
		}
		ans.expires = now.Add(accessTTL)
		a.remember(k, ans, now)
	}
	if !ans.allowed {
		return forbidden(id.Name, info, ans.reason)
	}
	return nil
}

func (a *access) remember(k accessKey, ans accessAnswer, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.answers) >= maxAccessEntries {
		for key, old := range a.answers {
			if !now.Before(old.expires) {
				delete(a.answers, key)
			}
		}
		if len(a.answers) >= maxAccessEntries {
			return // full of live answers: this one is used once, not kept
		}
	}
	a.answers[k] = ans
}

// review sends the SelfSubjectAccessReview.
func (a *access) review(ctx context.Context, target *cluster.Member, info *kubegate.KubeRequest) (accessAnswer, error) {
	body, err := json.Marshal(map[string]any{
		"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
		"spec": map[string]any{"resourceAttributes": map[string]string{
			"verb": "list", "group": info.APIGroup, "version": info.APIVersion, "resource": info.Resource, "namespace": info.Namespace,
		}},
	})
	if err != nil {
		return accessAnswer{}, err
	}
	ctx = withUpstream(ctx, target, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")
	resp, err := send(ctx, transport{}, target, http.MethodPost, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", nil, "application/json", body)
	if err != nil {
		// %v: a failed review is no answer to the list (not the cluster's refusal of it).
		return accessAnswer{}, fmt.Errorf("cluster %s: access review: %v", target.Name, err) //nolint:errorlint // on purpose
	}
	defer resp.Body.Close()
	var r struct {
		Status struct {
			Allowed bool   `json:"allowed"`
			Reason  string `json:"reason"`
		} `json:"status"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&r); err != nil {
		return accessAnswer{}, fmt.Errorf("cluster %s: decoding an access review: %w", target.Name, err)
	}
	return accessAnswer{allowed: r.Status.Allowed, reason: r.Status.Reason}, nil
}

// forbidden is the 403 the apiserver answers a list the caller may not make,
// word for word, so that clients see the same refusal from the cache as from
// the cluster.
func forbidden(user string, info *kubegate.KubeRequest, reason string) error {
	qualified := info.Resource
	if info.APIGroup != "" {
		qualified += "." + info.APIGroup
	}
	scope := "at the cluster scope"
	if info.Namespace != "" {
		scope = fmt.Sprintf("in the namespace %q", info.Namespace)
	}
	msg := fmt.Sprintf("%s is forbidden: User %q cannot list resource %q in API group %q %s", qualified, user, info.Resource, info.APIGroup, scope)
	if reason != "" {
		msg += ": " + reason
	}
	body, _ := json.Marshal(map[string]any{
		"kind": "Status", "apiVersion": "v1", "metadata": map[string]any{}, "status": "Failure",
		"message": msg, "reason": "Forbidden", "details": map[string]string{"group": info.APIGroup, "kind": info.Resource}, "code": http.StatusForbidden,
	})
	return &upstreamError{code: http.StatusForbidden, header: http.Header{"Content-Type": {"application/json"}}, body: body}
}

// validName says s is empty or could name a namespace (a DNS label, max 63),
// a resource or an API group (DNS subdomain characters, max 253).
func validName(s string, maxLen int) bool {
	if len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-':
		case c == '.' && maxLen > 63: // subdomains, not labels
		default:
			return false
		}
	}
	return true
}
