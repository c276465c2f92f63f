package grants

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	rbacac "k8s.io/client-go/applyconfigurations/rbac/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	rbacinformers "k8s.io/client-go/informers/rbac/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/cluster"
)

// selector selects the bindings the installation made.
func selector(instance string) string {
	return kubegate.ManagedByLabel + "=" + kubegate.ManagedBy + "," + kubegate.InstanceLabel + "=" + instance + "," + kubegate.GrantLabel
}

// byGrant indexes the labelled bindings by the grant they stand for.
const byGrant = "grant"

// worker reconciles the grants in one cluster: it watches the bindings the
// gateway made there (by label) and the namespaces, and works a queue of grant
// IDs, each reconciled as a whole and retried with back-off when it fails.
type worker struct {
	r        *Reconciler
	m        *cluster.Member
	instance string // the installation's, in every binding's labels
	queue    workqueue.TypedRateLimitingInterface[string]
	cancel   context.CancelFunc
	done     chan struct{}

	mu      sync.Mutex
	watched error // the last error of the watches, until they sync
	written map[string]kubegate.GrantStatus
}

func newWorker(r *Reconciler, m *cluster.Member, instance string, cancel context.CancelFunc) *worker {
	return &worker{
		r: r, m: m, instance: instance, cancel: cancel, done: make(chan struct{}), written: map[string]kubegate.GrantStatus{},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](r.opts.RetryMin, r.opts.RetryMax),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "grants-" + m.Name}),
	}
}

// stop ends the worker and waits until it has.
func (w *worker) stop() {
	w.cancel()
	<-w.done
}

func grantOf(obj any) []string {
	if o, ok := obj.(metav1.Object); ok {
		if id := o.GetLabels()[kubegate.GrantLabel]; id != "" {
			return []string{id}
		}
	}
	return nil
}

// informers are the worker's views of the cluster.
type informers struct {
	roleBindings, clusterRoleBindings, namespaces cache.SharedIndexInformer
}

// run works until ctx (the leadership's, for this member) ends.
func (w *worker) run(ctx context.Context) {
	defer close(w.done)
	defer w.queue.ShutDown()
	stopOnMember := context.AfterFunc(w.m.Context(), w.cancel)
	defer stopOnMember()
	client, err := w.m.Client()
	if err != nil {
		w.r.opts.Logger.Warn("grants: no client for the cluster", "cluster", w.m.Name, "err", err)
		w.reportCovered(ctx, kubegate.GrantFailed, "no client for the cluster: "+err.Error())
		return
	}
	inf := w.informers(client)
	for _, i := range []cache.SharedIndexInformer{inf.roleBindings, inf.clusterRoleBindings, inf.namespaces} {
		go i.RunWithContext(ctx)
	}
	// Until the cluster answers, every grant it is in waits, saying why.
	for !cache.WaitForCacheSync(timeout(ctx, 3*time.Second), inf.roleBindings.HasSynced, inf.clusterRoleBindings.HasSynced, inf.namespaces.HasSynced) {
		if ctx.Err() != nil {
			return
		}
		w.mu.Lock()
		msg := "waiting for the cluster to answer"
		if w.watched != nil {
			msg += ": " + w.watched.Error()
		}
		w.mu.Unlock()
		w.reportCovered(ctx, kubegate.GrantPending, msg)
	}
	w.enqueueAll(inf)
	go func() {
		t := time.NewTicker(w.r.opts.Resync)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				w.mu.Lock()
				clear(w.written) // a status another leader wrote late is written again
				w.mu.Unlock()
				w.enqueueAll(inf)
			}
		}
	}()
	go func() { <-ctx.Done(); w.queue.ShutDown() }()
	for {
		id, quit := w.queue.Get()
		if quit {
			return
		}
		if err := w.reconcile(ctx, client, inf, id); err != nil && ctx.Err() == nil {
			w.queue.AddRateLimited(id)
		} else {
			w.queue.Forget(id)
		}
		w.queue.Done(id)
	}
}

func timeout(ctx context.Context, d time.Duration) <-chan struct{} {
	c, cancel := context.WithTimeout(ctx, d)
	context.AfterFunc(c, cancel)
	return c.Done()
}

// enqueueAll queues every grant, and every grant a labelled binding names
// (those of grants deleted while no one led).
func (w *worker) enqueueAll(inf informers) {
	for _, g := range w.r.Grants() {
		w.queue.Add(g.ID)
	}
	for _, i := range []cache.SharedIndexInformer{inf.roleBindings, inf.clusterRoleBindings} {
		for _, id := range i.GetIndexer().ListIndexFuncValues(byGrant) {
			w.queue.Add(id)
		}
	}
}

func (w *worker) informers(client kubernetes.Interface) informers {
	managed := func(o *metav1.ListOptions) { o.LabelSelector = selector(w.instance) }
	indexers := cache.Indexers{byGrant: func(obj any) ([]string, error) { return grantOf(obj), nil }}
	inf := informers{
		roleBindings:        rbacinformers.NewFilteredRoleBindingInformer(client, metav1.NamespaceAll, 0, indexers, managed),
		clusterRoleBindings: rbacinformers.NewFilteredClusterRoleBindingInformer(client, 0, indexers, managed),
		namespaces:          coreinformers.NewNamespaceInformer(client, 0, cache.Indexers{}),
	}
	onError := func(_ context.Context, _ *cache.Reflector, err error) {
		w.mu.Lock()
		w.watched = err
		w.mu.Unlock()
	}
	// A binding changed or deleted by hand queues its grant.
	bindings := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { w.add(grantOf(obj)) },
		UpdateFunc: func(_, obj any) { w.add(grantOf(obj)) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			w.add(grantOf(obj))
		},
	}
	// A namespace that comes or goes queues the grants it may be in.
	namespaces := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { w.namespaceChanged(obj) },
		UpdateFunc: func(_, obj any) { w.namespaceChanged(obj) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			w.namespaceChanged(obj)
		},
	}
	for i, h := range map[cache.SharedIndexInformer]cache.ResourceEventHandler{inf.roleBindings: bindings, inf.clusterRoleBindings: bindings, inf.namespaces: namespaces} {
		_ = i.SetWatchErrorHandlerWithContext(onError)
		_, _ = i.AddEventHandler(h)
	}
	return inf
}

func (w *worker) add(ids []string) {
	for _, id := range ids {
		w.queue.Add(id)
	}
}

func (w *worker) namespaceChanged(obj any) {
	ns, ok := obj.(*corev1.Namespace)
	if !ok {
		return
	}
	for _, g := range w.r.Grants() {
		if g.Covers(w.m.Name) && (g.AllNamespaces() || slices.Contains(g.Namespaces, ns.Name)) {
			w.queue.Add(g.ID)
		}
	}
}

// usable are the namespaces a binding can be made in: those not terminating.
func usable(inf informers) []string {
	var out []string
	for _, obj := range inf.namespaces.GetStore().List() {
		if ns, ok := obj.(*corev1.Namespace); ok && ns.DeletionTimestamp == nil && ns.Status.Phase != corev1.NamespaceTerminating {
			out = append(out, ns.Name)
		}
	}
	slices.Sort(out)
	return out
}

// errRetry asks for the grant again after a back-off.
var errRetry = errors.New("grants: retry")

// wanted is what grant id implies in this cluster. It applies not at all to a
// grant that is gone, for other clusters, or for a disabled user (whose
// bindings go even before the grant does); wait says why it cannot be told yet.
func (w *worker) wanted(id string, inf informers) (want []binding, missing []string, applies bool, wait string) {
	g, ok := w.r.grant(id)
	if !ok || !g.Covers(w.m.Name) {
		return nil, nil, false, ""
	}
	name := ""
	if g.Subject.Kind == kubegate.SubjectUser {
		u, known := w.r.opts.Users.User(g.Subject.Name)
		if !known {
			return nil, nil, false, "the user is not known to this replica yet"
		}
		if !u.Enabled {
			return nil, nil, false, ""
		}
		name = u.Name
	}
	want, missing = desired(g, w.instance, name, usable(inf))
	return want, missing, true, ""
}

// reportCovered records the same state for every grant this cluster is in.
func (w *worker) reportCovered(ctx context.Context, state kubegate.GrantState, msg string) {
	for _, g := range w.r.Grants() {
		if g.Covers(w.m.Name) {
			w.report(ctx, g.ID, state, msg)
		}
	}
}

// reconcile makes the cluster hold exactly the bindings of grant id, and
// records how far it got.
func (w *worker) reconcile(ctx context.Context, client kubernetes.Interface, inf informers, id string) error {
	want, missing, applies, wait := w.wanted(id, inf)
	if wait != "" {
		w.report(ctx, id, kubegate.GrantPending, wait)
		return errRetry
	}
	have := map[string]metav1.Object{}
	for _, i := range []cache.SharedIndexInformer{inf.roleBindings, inf.clusterRoleBindings} {
		objs, _ := i.GetIndexer().ByIndex(byGrant, id)
		for _, obj := range objs {
			if o, isObj := obj.(metav1.Object); isObj {
				have[o.GetNamespace()+"/"+o.GetName()] = o
			}
		}
	}
	var refused, passing []string
	fail := func(b binding, err error) {
		where := "cluster-wide"
		if b.Namespace != "" {
			where = "in namespace " + b.Namespace
		}
		msg := fmt.Sprintf("%s: %v", where, err)
		if apierrors.IsForbidden(err) || apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) {
			refused = append(refused, msg)
		} else {
			passing = append(passing, msg)
		}
	}
	for _, b := range want {
		key := b.Namespace + "/" + b.Name
		cur := have[key]
		delete(have, key)
		if cur != nil && b.matches(cur.GetLabels(), roleRefOf(cur), subjectsOf(cur)) {
			continue
		}
		if err := w.apply(ctx, client, b, cur); err != nil {
			fail(b, err)
		}
	}
	for _, o := range have { // bindings of the grant it no longer implies
		uid := o.GetUID()
		if err := deleteBinding(ctx, client, o.GetNamespace(), o.GetName(), &uid); err != nil && !apierrors.IsNotFound(err) {
			fail(binding{Namespace: o.GetNamespace()}, err)
		}
	}
	if !applies {
		w.forget(id)
		if len(refused)+len(passing) > 0 {
			return errRetry
		}
		return nil
	}
	switch {
	case len(refused) > 0:
		w.report(ctx, id, kubegate.GrantFailed, strings.Join(append(refused, passing...), "; "))
		return errRetry
	case len(passing) > 0:
		w.report(ctx, id, kubegate.GrantPending, strings.Join(passing, "; "))
		return errRetry
	case len(missing) > 0:
		// Applied once the namespaces exist: their creation queues the grant.
		w.report(ctx, id, kubegate.GrantPending, "no namespace "+strings.Join(missing, ", ")+" in this cluster yet")
		return nil
	}
	w.report(ctx, id, kubegate.GrantApplied, "")
	return nil
}

func roleRefOf(o metav1.Object) rbacv1.RoleRef {
	switch b := o.(type) {
	case *rbacv1.RoleBinding:
		return b.RoleRef
	case *rbacv1.ClusterRoleBinding:
		return b.RoleRef
	}
	return rbacv1.RoleRef{}
}

func subjectsOf(o metav1.Object) []rbacv1.Subject {
	switch b := o.(type) {
	case *rbacv1.RoleBinding:
		return b.Subjects
	case *rbacv1.ClusterRoleBinding:
		return b.Subjects
	}
	return nil
}

// apply makes b with server-side apply under the gateway's field manager,
// taking over the fields it sets from whoever changed them. A binding's role
// cannot change: one bound to another role is deleted and made again.
func (w *worker) apply(ctx context.Context, client kubernetes.Interface, b binding, cur metav1.Object) error {
	if cur != nil && roleRefOf(cur) != b.RoleRef {
		uid := cur.GetUID()
		if err := deleteBinding(ctx, client, b.Namespace, b.Name, &uid); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	opts := metav1.ApplyOptions{FieldManager: FieldManager, Force: true}
	ref := rbacac.RoleRef().WithAPIGroup(b.RoleRef.APIGroup).WithKind(b.RoleRef.Kind).WithName(b.RoleRef.Name)
	subjects := make([]*rbacac.SubjectApplyConfiguration, len(b.Subjects))
	for i, s := range b.Subjects {
		subjects[i] = rbacac.Subject().WithAPIGroup(s.APIGroup).WithKind(s.Kind).WithName(s.Name)
	}
	var err error
	if b.Namespace == "" {
		_, err = client.RbacV1().ClusterRoleBindings().Apply(ctx,
			rbacac.ClusterRoleBinding(b.Name).WithLabels(b.labels()).WithRoleRef(ref).WithSubjects(subjects...), opts)
	} else {
		_, err = client.RbacV1().RoleBindings(b.Namespace).Apply(ctx,
			rbacac.RoleBinding(b.Name, b.Namespace).WithLabels(b.labels()).WithRoleRef(ref).WithSubjects(subjects...), opts)
	}
	return err
}

// deleteBinding deletes a binding, only the one with uid (not one made again
// under its name meanwhile).
func deleteBinding(ctx context.Context, client kubernetes.Interface, namespace, name string, uid *types.UID) error {
	opts := metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: uid}}
	if namespace == "" {
		return client.RbacV1().ClusterRoleBindings().Delete(ctx, name, opts)
	}
	return client.RbacV1().RoleBindings(namespace).Delete(ctx, name, opts)
}

// report records the grant's state in this cluster when it changed.
func (w *worker) report(ctx context.Context, id string, state kubegate.GrantState, msg string) {
	st := kubegate.GrantStatus{Cluster: w.m.Name, State: state, Message: msg, UpdatedAt: w.r.opts.Now().UTC().Truncate(time.Microsecond)}
	w.mu.Lock()
	last, ok := w.written[id]
	w.mu.Unlock()
	if ok && last.State == st.State && last.Message == st.Message {
		return
	}
	if err := w.r.opts.Store.PutGrantStatus(ctx, id, st); err != nil {
		if ctx.Err() == nil {
			w.r.opts.Logger.Warn("recording a grant's status failed", "grant", id, "cluster", w.m.Name, "err", err)
		}
		return
	}
	w.mu.Lock()
	w.written[id] = st
	w.mu.Unlock()
}

func (w *worker) forget(id string) {
	w.mu.Lock()
	delete(w.written, id)
	w.mu.Unlock()
}
