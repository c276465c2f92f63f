package review

import (
	"context"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubegate/kubegate/cluster"
)

// Rules is what a cluster says a subject may do in one namespace: the rules of
// every binding that applies, however it was made. Incomplete means the
// cluster's authorizer could not list everything (a webhook authorizer, say):
// the subject may be able to do more.
type Rules struct {
	Resource    []authorizationv1.ResourceRule
	NonResource []authorizationv1.NonResourceRule
	Incomplete  bool
	Reason      string
}

// RulesAsCaller asks m, as the caller ctx carries, for the caller's rules in
// namespace (a SelfSubjectRulesReview, which any authenticated subject may
// send: nothing beyond impersonation is needed).
func RulesAsCaller(ctx context.Context, m *cluster.Member, namespace string) (Rules, error) {
	c, err := m.CallerClient()
	if err != nil {
		return Rules{}, err
	}
	r, err := c.AuthorizationV1().SelfSubjectRulesReviews().Create(ctx, &authorizationv1.SelfSubjectRulesReview{
		Spec: authorizationv1.SelfSubjectRulesReviewSpec{Namespace: namespace},
	}, metav1.CreateOptions{})
	if err != nil {
		return Rules{}, err
	}
	return Rules{Resource: r.Status.ResourceRules, NonResource: r.Status.NonResourceRules, Incomplete: r.Status.Incomplete, Reason: r.Status.EvaluationError}, nil
}
