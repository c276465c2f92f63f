package grants

import (
	"context"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/cluster"
	"github.com/kubegate/kubegate/request"
	"github.com/kubegate/kubegate/review"
)

// Members are the registered clusters (cluster.Registry).
type Members interface {
	List() []kubegate.Cluster
	Member(name string) (*cluster.Member, error)
}

// Groups says which groups a user acts with now (account.Service).
type Groups interface {
	GroupsOf(u kubegate.User) []string
}

// AccessOptions configures Access.
type AccessOptions struct {
	Members Members
	Groups  Groups
	// Grants returns the grants as they stand (Reconciler.Grants).
	Grants func() []kubegate.Grant
	// TTL is how long an answer is reused (10 s when 0).
	TTL time.Duration
	Now func() time.Time
}

// Access answers what a user may actually do, per cluster and namespace, from
// each cluster's own RBAC: a SelfSubjectRulesReview as the user (impersonated
// with their current groups), so bindings made by hand count as much as grants.
// Answers are remembered briefly and asked a page of namespaces at a time, with
// few reviews at once.
type Access struct {
	opts AccessOptions

	mu      sync.Mutex
	answers map[accessKey]accessAnswer
	// reviews bounds the reviews in flight, over every question at once.
	reviews chan struct{}
}

// NewAccess returns an Access.
func NewAccess(opts AccessOptions) *Access {
	if opts.TTL == 0 {
		opts.TTL = 10 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Access{opts: opts, answers: map[accessKey]accessAnswer{}, reviews: make(chan struct{}, reviewsAtOnce)}
}

// MaxAccessPage bounds the namespaces one question covers per cluster.
const MaxAccessPage = 50

// maxAccessAnswers bounds the remembered answers.
const maxAccessAnswers = 10_000

// reviewsAtOnce bounds the reviews in flight, over every question.
const reviewsAtOnce = 8

type accessKey struct {
	cluster   *cluster.Member
	user      string
	groups    string
	namespace string
}

type accessAnswer struct {
	rules review.Rules
	err   error
	at    time.Time
}

// Level sums up what someone may do in a namespace.
type Level string

// Levels, from least to most.
const (
	LevelNone  Level = "none"  // nothing beyond what everyone may (reviews of themselves)
	LevelRead  Level = "read"  // get, list, watch only
	LevelWrite Level = "write" // changes some resources
	LevelAll   Level = "all"   // every verb on every resource
)

// GrantRef names a grant that gives something where it is shown.
type GrantRef struct {
	ID   string
	Role string
}

// NamespaceAccess is what the user may do in one namespace.
type NamespaceAccess struct {
	Namespace  string
	Level      Level
	Rules      []authorizationv1.ResourceRule // without everyone's self-reviews
	Incomplete bool                           // the cluster could not say everything
	Grants     []GrantRef                     // the grants that apply here
	Error      string                         // the cluster could not be asked
}

// ClusterAccess is a page of a user's namespaces in one cluster.
type ClusterAccess struct {
	Cluster    string
	Error      string // the cluster could not list its namespaces
	Total      int    // namespaces in the cluster
	Namespaces []NamespaceAccess
}

// AccessQuery selects a page of namespaces (Page.Limit at most MaxAccessPage)
// in some clusters (all when empty).
type AccessQuery struct {
	Clusters []string
	Page     kubegate.Page
	// Limited is a user asking about themselves: the namespaces shown are
	// those the user may list in the cluster, or else those their grants name,
	// within Scope (the credential's): the gateway's own list is not theirs to
	// see.
	Limited bool
	Scope   kubegate.Scope
}

// Of returns what u may do.
func (a *Access) Of(ctx context.Context, u kubegate.User, q AccessQuery) ([]ClusterAccess, error) {
	if q.Page.Limit <= 0 || q.Page.Limit > MaxAccessPage {
		return nil, kubegate.Errorf(kubegate.EInvalid, "pageSize must be 1 to %d", MaxAccessPage)
	}
	var names []string
	for _, c := range a.opts.Members.List() {
		if (len(q.Clusters) == 0 || slices.Contains(q.Clusters, c.Name)) && (!q.Limited || q.Scope.ReachesCluster(c.Name)) {
			names = append(names, c.Name)
		}
	}
	for _, c := range q.Clusters {
		if !slices.Contains(names, c) {
			return nil, kubegate.Errorf(kubegate.ENotFound, "cluster %q not found", c)
		}
	}
	groups := a.opts.Groups.GroupsOf(u)
	id := &kubegate.Identity{UserID: u.ID, Name: u.Name, Groups: groups}
	ctx = request.WithIdentity(ctx, id)
	mine := a.grantsOf(u, groups)
	out := make([]ClusterAccess, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() { out[i] = a.cluster(ctx, name, id, mine, q) })
	}
	wg.Wait()
	return out, nil
}

// grantsOf are the grants for u or one of u's teams.
func (a *Access) grantsOf(u kubegate.User, groups []string) []kubegate.Grant {
	var out []kubegate.Grant
	for _, g := range a.opts.Grants() {
		if g.Subject.Kind == kubegate.SubjectUser && g.Subject.Name == u.ID ||
			g.Subject.Kind == kubegate.SubjectTeam && slices.Contains(groups, kubegate.TeamGroup(g.Subject.Name)) {
			out = append(out, g)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (a *Access) cluster(ctx context.Context, name string, id *kubegate.Identity, mine []kubegate.Grant, q AccessQuery) ClusterAccess {
	p := q.Page
	ca := ClusterAccess{Cluster: name, Namespaces: []NamespaceAccess{}}
	m, err := a.opts.Members.Member(name)
	if err != nil {
		ca.Error = err.Error()
		return ca
	}
	client, err := m.Client()
	if err != nil {
		ca.Error = err.Error()
		return ca
	}
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	list, err := client.CoreV1().Namespaces().List(lctx, metav1.ListOptions{})
	if err != nil {
		ca.Error = err.Error()
		return ca
	}
	all := make([]string, 0, len(list.Items))
	for _, ns := range list.Items {
		all = append(all, ns.Name)
	}
	if q.Limited {
		all = a.visible(ctx, m, all, mine, q.Scope)
	}
	sort.Strings(all)
	ca.Total = len(all)
	page := all[min(p.Offset, len(all)):min(p.Offset+p.Limit, len(all))]
	ca.Namespaces = make([]NamespaceAccess, len(page))
	var wg sync.WaitGroup
	for i, ns := range page {
		wg.Go(func() {
			a.reviews <- struct{}{}
			defer func() { <-a.reviews }()
			ca.Namespaces[i] = a.namespace(ctx, m, id, ns, mine)
		})
	}
	wg.Wait()
	return ca
}

// visible narrows the cluster's namespaces to what the user may see: all of
// them if the user may list namespaces there, else those their grants name
// (all, for a grant on every namespace or cluster-wide); then to the
// credential's scope.
func (a *Access) visible(ctx context.Context, m *cluster.Member, all []string, mine []kubegate.Grant, scope kubegate.Scope) []string {
	d, err := review.AsCaller(ctx, m, authorizationv1.ResourceAttributes{Verb: "list", Resource: "namespaces"})
	out := all
	if err != nil || !d.Allowed {
		out = slices.DeleteFunc(slices.Clone(all), func(ns string) bool {
			return !slices.ContainsFunc(mine, func(g kubegate.Grant) bool { return g.Reaches(m.Name, ns) })
		})
	}
	if len(scope.Namespaces) > 0 {
		out = slices.DeleteFunc(slices.Clone(out), func(ns string) bool {
			return !slices.Contains(scope.Namespaces, ns) && !slices.Contains(scope.Namespaces, m.Name+"/"+ns)
		})
	}
	return out
}

func (a *Access) namespace(ctx context.Context, m *cluster.Member, id *kubegate.Identity, ns string, mine []kubegate.Grant) NamespaceAccess {
	na := NamespaceAccess{Namespace: ns, Level: LevelNone, Rules: []authorizationv1.ResourceRule{}, Grants: []GrantRef{}}
	for _, g := range mine {
		if g.Reaches(m.Name, ns) {
			na.Grants = append(na.Grants, GrantRef{ID: g.ID, Role: g.Role})
		}
	}
	rules, err := a.rules(ctx, m, id, ns)
	if err != nil {
		na.Error = err.Error()
		return na
	}
	na.Incomplete = rules.Incomplete
	for _, r := range rules.Resource {
		if !selfReview(r) {
			na.Rules = append(na.Rules, r)
		}
	}
	na.Level = level(na.Rules)
	return na
}

// rules asks, or reuses an answer younger than the TTL.
func (a *Access) rules(ctx context.Context, m *cluster.Member, id *kubegate.Identity, ns string) (review.Rules, error) {
	key := accessKey{cluster: m, user: id.UserID, groups: strings.Join(id.Groups, "\x00"), namespace: ns}
	now := a.opts.Now()
	a.mu.Lock()
	if ans, ok := a.answers[key]; ok && now.Sub(ans.at) < a.opts.TTL {
		a.mu.Unlock()
		return ans.rules, ans.err
	}
	a.mu.Unlock()
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rules, err := review.RulesAsCaller(rctx, m, ns)
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.answers) >= maxAccessAnswers {
		for k, ans := range a.answers {
			if now.Sub(ans.at) >= a.opts.TTL {
				delete(a.answers, k)
			}
		}
	}
	if len(a.answers) < maxAccessAnswers && err == nil {
		a.answers[key] = accessAnswer{rules: rules, at: now}
	}
	return rules, err
}

// selfReview is a rule everyone holds (system:basic-user): reviews of one's
// own access and identity.
func selfReview(r authorizationv1.ResourceRule) bool {
	for _, g := range r.APIGroups {
		if g != "authorization.k8s.io" && g != "authentication.k8s.io" {
			return false
		}
	}
	return len(r.APIGroups) > 0
}

// level sums rules up.
func level(rules []authorizationv1.ResourceRule) Level {
	l := LevelNone
	for _, r := range rules {
		if slices.Contains(r.Verbs, "*") && slices.Contains(r.Resources, "*") && slices.Contains(r.APIGroups, "*") {
			return LevelAll
		}
		for _, v := range r.Verbs {
			switch v {
			case "get", "list", "watch":
				if l == LevelNone {
					l = LevelRead
				}
			default:
				l = LevelWrite
			}
		}
	}
	return l
}
