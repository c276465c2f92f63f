// Package review asks a cluster what someone may do there, through the cluster's
// own authorizer: SelfSubjectAccessReviews sent as the caller a request acts for
// (the member's caller client: impersonated, failing closed without an
// identity) or as the gateway itself. Answers the proxy asks for often are
// remembered briefly (Reviewer), so a cached list costs the cluster nothing for
// its RBAC decision most of the time.
package review

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubegate/kubegate/cluster"
	"github.com/kubegate/kubegate/request"
)

// Decision is a cluster's answer to "may this subject do this".
type Decision struct {
	Allowed bool
	// Reason is the authorizer's explanation, when it gave one.
	Reason string
}

// AsCaller asks m whether the caller ctx carries may do what attrs say.
func AsCaller(ctx context.Context, m *cluster.Member, attrs authorizationv1.ResourceAttributes) (Decision, error) {
	c, err := m.CallerClient()
	if err != nil {
		return Decision{}, err
	}
	return ask(ctx, c.AuthorizationV1().SelfSubjectAccessReviews(), attrs)
}

// AsGateway asks m whether the gateway's own identity may do what attrs say.
func AsGateway(ctx context.Context, m *cluster.Member, attrs authorizationv1.ResourceAttributes) (Decision, error) {
	c, err := m.Client()
	if err != nil {
		return Decision{}, err
	}
	return ask(ctx, c.AuthorizationV1().SelfSubjectAccessReviews(), attrs)
}

type selfReviews interface {
	Create(ctx context.Context, r *authorizationv1.SelfSubjectAccessReview, o metav1.CreateOptions) (*authorizationv1.SelfSubjectAccessReview, error)
}

func ask(ctx context.Context, reviews selfReviews, attrs authorizationv1.ResourceAttributes) (Decision, error) {
	r, err := reviews.Create(ctx, &authorizationv1.SelfSubjectAccessReview{
		Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &attrs},
	}, metav1.CreateOptions{})
	if err != nil {
		return Decision{}, err
	}
	return Decision{Allowed: r.Status.Allowed, Reason: r.Status.Reason}, nil
}

// TTL is how long a Reviewer reuses an answer: a RoleBinding removed in the
// cluster stops what it allowed through the cache within it. The apiserver's
// own webhook authorizer caches allowed answers for 5 minutes by default;
// seconds keep revocation prompt.
const TTL = 5 * time.Second

// maxAnswers bounds the remembered answers (callers × scopes); past it, the
// expired ones go, and while none has, new answers are not kept. Keys are
// valid Kubernetes names (bounded) and the caller's identity.
const maxAnswers = 10_000

// Reviewer asks as the caller and remembers each answer for TTL, per member,
// caller and attributes.
type Reviewer struct {
	now func() time.Time

	mu      sync.Mutex
	answers map[answerKey]answer
}

type answerKey struct {
	member       *cluster.Member // a cluster registered again is asked again
	user, groups string
	attrs        authorizationv1.ResourceAttributes
}

type answer struct {
	Decision
	expires time.Time
}

// NewReviewer returns a Reviewer reading time from now.
func NewReviewer(now func() time.Time) *Reviewer {
	return &Reviewer{now: now, answers: map[answerKey]answer{}}
}

// AsCaller is review.AsCaller, remembered for TTL. The attributes are request
// input: names Kubernetes could not hold are refused with an error, never
// asked about nor remembered.
func (r *Reviewer) AsCaller(ctx context.Context, m *cluster.Member, attrs authorizationv1.ResourceAttributes) (Decision, error) {
	id := request.Identity(ctx)
	if id == nil {
		return Decision{}, cluster.ErrNoIdentity // fail closed
	}
	if err := ValidNames(attrs); err != nil {
		return Decision{}, err
	}
	k := answerKey{member: m, user: id.Name, groups: strings.Join(id.Groups, "\x00"), attrs: attrs}
	now := r.now()
	r.mu.Lock()
	ans, ok := r.answers[k]
	if ok && !now.Before(ans.expires) {
		delete(r.answers, k)
		ok = false
	}
	r.mu.Unlock()
	if ok {
		return ans.Decision, nil
	}
	d, err := AsCaller(ctx, m, attrs)
	if err != nil {
		// %v: a failed review is no answer (not the cluster's refusal).
		return Decision{}, fmt.Errorf("cluster %s: access review: %v", m.Name, err) //nolint:errorlint // on purpose
	}
	r.remember(k, answer{Decision: d, expires: now.Add(TTL)}, now)
	return d, nil
}

func (r *Reviewer) remember(k answerKey, ans answer, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.answers) >= maxAnswers {
		for key, old := range r.answers {
			if !now.Before(old.expires) {
				delete(r.answers, key)
			}
		}
		if len(r.answers) >= maxAnswers {
			return // full of live answers: this one is used once, not kept
		}
	}
	r.answers[k] = ans
}

// Len says how many answers are remembered.
func (r *Reviewer) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.answers)
}

// Engage implements cluster.Part: a member's answers go with its registration.
func (r *Reviewer) Engage(m *cluster.Member) {
	context.AfterFunc(m.Context(), func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		for k := range r.answers {
			if k.member == m {
				delete(r.answers, k)
			}
		}
	})
}

// ValidNames checks that the namespace, resource, group and name of attrs could
// name Kubernetes objects: a namespace is a DNS label (max 63), a resource, group
// or name DNS subdomain characters (max 253).
func ValidNames(a authorizationv1.ResourceAttributes) error {
	for _, f := range []struct {
		what, v string
		max     int
	}{{"namespace", a.Namespace, 63}, {"resource", a.Resource, 253}, {"API group", a.Group, 253}, {"name", a.Name, 253}} {
		if !validName(f.v, f.max) {
			return fmt.Errorf("review: not a Kubernetes %s: %q", f.what, f.v)
		}
	}
	return nil
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
