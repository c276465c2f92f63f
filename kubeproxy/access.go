package kubeproxy

import (
	authorizationv1 "k8s.io/api/authorization/v1"

	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/cluster"
	"github.com/kubegate/kubegate/request"
	"github.com/kubegate/kubegate/review"
)

// access decides whether a caller may list what the cache would answer, by the
// cluster's RBAC (review.Reviewer: asked as the caller, remembered briefly).
type access struct {
	reviews *review.Reviewer
}

func newAccess(now func() time.Time) *access {
	return &access{reviews: review.NewReviewer(now)}
}

// mayList asks target, as the caller ctx carries, whether the caller may list
// info's resource in its namespace ("" for all). A refusal comes back as the
// 403 the cluster itself would answer the list with; a review that could not be
// asked (names Kubernetes could not hold, an unreachable cluster) as an error
// that is no refusal: the cluster answers the list itself.
func (a *access) mayList(ctx context.Context, target *cluster.Member, info *kubegate.KubeRequest) error {
	d, err := a.reviews.AsCaller(ctx, target, authorizationv1.ResourceAttributes{
		Verb: "list", Group: info.APIGroup, Version: info.APIVersion, Resource: info.Resource, Namespace: info.Namespace,
	})
	if err != nil {
		return fmt.Errorf("kubeproxy: %w", err)
	}
	if !d.Allowed {
		return forbidden(request.Identity(ctx).Name, info, d.Reason)
	}
	return nil
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
