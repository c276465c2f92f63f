package grants

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/cluster"
)

// LeaderName is the leadership the replicas sharing a store hold to reconcile:
// one replica writes the bindings and the status at a time, so replicas whose
// view of the grants differs for a moment never undo each other's work.
const LeaderName = "grants"

// ReconcilerOptions configures a Reconciler.
type ReconcilerOptions struct {
	Store kubegate.Store
	Users Users
	// Resync is how often every grant is checked again in every cluster beside
	// what the watches report (10 minutes when 0).
	Resync time.Duration
	// RetryMin and RetryMax bound the back-off of a grant that failed in a
	// cluster (1 s and 30 s when 0).
	RetryMin, RetryMax time.Duration
	Now                func() time.Time
	Logger             *slog.Logger
}

// Reconciler keeps in each registered cluster the bindings the grants imply. It
// mirrors the grants from the store (kubegate.Mirror), is engaged with each
// cluster (cluster.Part), and works only while this replica leads (Run).
type Reconciler struct {
	opts ReconcilerOptions

	mu      sync.Mutex
	grants  map[string]kubegate.Grant
	members map[string]*cluster.Member
	workers map[*cluster.Member]*worker // while leading
	lead    context.Context             // nil unless leading
	// instance names this installation in its bindings' labels: read (or
	// made, once, by the first leader) from the store when leading.
	instance string
}

// InstanceSetting is the store setting that holds the installation's name.
const InstanceSetting = "grants.instance"

// NewReconciler returns a Reconciler; it works once Run leads.
func NewReconciler(opts ReconcilerOptions) *Reconciler {
	if opts.Resync == 0 {
		opts.Resync = 10 * time.Minute
	}
	if opts.RetryMin == 0 {
		opts.RetryMin = time.Second
	}
	if opts.RetryMax == 0 {
		opts.RetryMax = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Reconciler{opts: opts, grants: map[string]kubegate.Grant{}, members: map[string]*cluster.Member{}, workers: map[*cluster.Member]*worker{}}
}

// Load implements kubegate.Mirror.
func (r *Reconciler) Load(ctx context.Context) error {
	list, err := r.opts.Store.ListGrants(ctx)
	if err != nil {
		return err
	}
	m := make(map[string]kubegate.Grant, len(list))
	for _, g := range list {
		g.Status = nil
		m[g.ID] = g
	}
	r.mu.Lock()
	gone := make([]string, 0)
	for id := range r.grants {
		if _, ok := m[id]; !ok {
			gone = append(gone, id)
		}
	}
	r.grants = m
	for _, mem := range r.members {
		r.start(mem, false)
	}
	r.mu.Unlock()
	r.enqueueAll()
	for _, id := range gone { // their bindings go
		r.enqueue(id)
	}
	return nil
}

// Apply implements kubegate.Mirror.
func (r *Reconciler) Apply(ctx context.Context, c kubegate.Change) {
	switch c.Kind {
	case kubegate.ChangeResync:
		if err := r.Load(ctx); err != nil && ctx.Err() == nil {
			r.opts.Logger.Warn("reloading the grants failed", "err", err)
		}
	case kubegate.ChangeGrant:
		g, err := r.opts.Store.GetGrant(ctx, c.Key)
		switch {
		case err == nil:
			g.Status = nil
			r.mu.Lock()
			r.grants[g.ID] = g
			for _, m := range r.members {
				r.start(m, false)
			}
			r.mu.Unlock()
		case kubegate.ErrorCode(err) == kubegate.ENotFound:
			r.mu.Lock()
			delete(r.grants, c.Key)
			r.mu.Unlock()
		case ctx.Err() == nil:
			// Keep what we had: a binding is not removed because a read failed.
			r.opts.Logger.Warn("reading a grant failed", "grant", c.Key, "err", err)
		}
		r.enqueue(c.Key)
	case kubegate.ChangeUser:
		r.forgetDisabled(ctx, c.Key)
	}
}

// forgetDisabled removes, when leading, the grants of a user who is disabled:
// their bindings go from every cluster, as if the user had been deleted.
func (r *Reconciler) forgetDisabled(ctx context.Context, userID string) {
	if u, ok := r.opts.Users.User(userID); !ok || u.Enabled {
		return // a deleted user's grants went with them
	}
	r.mu.Lock()
	leading := r.lead != nil
	var ids []string
	for id, g := range r.grants {
		if g.Subject.Kind == kubegate.SubjectUser && g.Subject.Name == userID {
			ids = append(ids, id)
		}
	}
	r.mu.Unlock()
	if !leading {
		return
	}
	for _, id := range ids {
		if err := r.opts.Store.DeleteGrant(ctx, id); err != nil && kubegate.ErrorCode(err) != kubegate.ENotFound {
			r.opts.Logger.Warn("removing a disabled user's grant failed", "grant", id, "err", err)
		}
	}
}

// grant returns the grant id as mirrored.
func (r *Reconciler) grant(id string) (kubegate.Grant, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	g, ok := r.grants[id]
	return g, ok
}

// Grants returns every grant as mirrored (without status).
func (r *Reconciler) Grants() []kubegate.Grant {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]kubegate.Grant, 0, len(r.grants))
	for _, g := range r.grants {
		out = append(out, g)
	}
	return out
}

func (r *Reconciler) enqueue(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, w := range r.workers {
		w.queue.Add(id)
	}
}

func (r *Reconciler) enqueueAll() {
	for _, g := range r.Grants() {
		r.enqueue(g.ID)
	}
}

// Engage implements cluster.Part.
func (r *Reconciler) Engage(m *cluster.Member) {
	r.mu.Lock()
	r.members[m.Name] = m
	r.start(m, false)
	r.mu.Unlock()
	go func() {
		<-m.Context().Done()
		r.mu.Lock()
		if r.members[m.Name] == m {
			delete(r.members, m.Name)
		}
		w := r.workers[m]
		delete(r.workers, m)
		r.mu.Unlock()
		if w != nil {
			w.stop()
		}
	}()
}

// start runs a worker for m under the leadership once a grant covers it (a
// cluster no grant names is not watched), or when leftovers says the cluster
// holds bindings of this installation (sweep); it runs on as long as m, to
// remove the bindings of the grants that go. r.mu is held.
func (r *Reconciler) start(m *cluster.Member, leftovers bool) {
	if r.lead == nil || m.Context().Err() != nil || r.workers[m] != nil {
		return
	}
	covered := leftovers
	for _, g := range r.grants {
		covered = covered || g.Covers(m.Name)
	}
	if !covered {
		return
	}
	ctx, cancel := context.WithCancel(r.lead)
	w := newWorker(r, m, r.instance, cancel)
	r.workers[m] = w
	go w.run(ctx)
}

// sweep looks once, in a cluster no grant covers, for bindings this
// installation made (their grants went while no replica led): if there are
// any, a worker removes them.
func (r *Reconciler) sweep(lead context.Context, m *cluster.Member, instance string) {
	client, err := m.Client()
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(lead, 30*time.Second)
	defer cancel()
	opts := metav1.ListOptions{Limit: 1, LabelSelector: selector(instance)}
	rbs, err1 := client.RbacV1().RoleBindings(metav1.NamespaceAll).List(ctx, opts)
	crbs, err2 := client.RbacV1().ClusterRoleBindings().List(ctx, opts)
	if err1 != nil || err2 != nil {
		if lead.Err() == nil {
			r.opts.Logger.Debug("grants: could not look for left-over bindings", "cluster", m.Name, "err", errors.Join(err1, err2))
		}
		return
	}
	if len(rbs.Items)+len(crbs.Items) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lead == lead {
		r.start(m, true)
	}
}

// forgetAllDisabled removes the grants of every disabled user, once this
// replica leads: a user disabled while no one led.
func (r *Reconciler) forgetAllDisabled(ctx context.Context) {
	seen := map[string]bool{}
	for _, g := range r.Grants() {
		if g.Subject.Kind == kubegate.SubjectUser && !seen[g.Subject.Name] {
			seen[g.Subject.Name] = true
			r.forgetDisabled(ctx, g.Subject.Name)
		}
	}
}

// instanceID reads the installation's name, making it if this is the first
// leader ever; only a leader does, so replicas never disagree on it.
func (r *Reconciler) instanceID(ctx context.Context) (string, error) {
	id, err := r.opts.Store.Setting(ctx, InstanceSetting)
	if err == nil {
		return id, nil
	}
	if kubegate.ErrorCode(err) != kubegate.ENotFound {
		return "", err
	}
	b := make([]byte, 8)
	if _, err := io.ReadFull(rand.Reader, b); err != nil {
		return "", err
	}
	id = hex.EncodeToString(b)
	return id, r.opts.Store.PutSetting(ctx, InstanceSetting, id)
}

// pause says why Run retries, and waits a little, unless ctx has ended.
func (r *Reconciler) pause(ctx context.Context, why string, err error) {
	if ctx.Err() != nil {
		return
	}
	r.opts.Logger.Warn(why, "err", err)
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
	}
}

// Run reconciles while this replica leads, and waits to lead again after a
// lost leadership, until ctx ends.
func (r *Reconciler) Run(ctx context.Context) {
	for ctx.Err() == nil {
		lead, release, err := r.opts.Store.Lead(ctx, LeaderName)
		if err != nil {
			r.pause(ctx, "taking the grants leadership failed; retrying", err)
			continue
		}
		instance, err := r.instanceID(lead)
		if err != nil {
			release()
			r.pause(ctx, "reading the installation's name failed; retrying", err)
			continue
		}
		r.opts.Logger.Info("reconciling grants: this replica leads", "instance", instance)
		r.mu.Lock()
		r.lead, r.instance = lead, instance
		for _, m := range r.members {
			r.start(m, false)
			if r.workers[m] == nil {
				go r.sweep(lead, m, instance)
			}
		}
		r.mu.Unlock()
		r.forgetAllDisabled(lead)
		<-lead.Done()
		r.mu.Lock()
		r.lead = nil
		workers := r.workers
		r.workers = map[*cluster.Member]*worker{}
		r.mu.Unlock()
		for _, w := range workers {
			w.stop()
		}
		release()
		if ctx.Err() == nil {
			r.opts.Logger.Warn("lost the grants leadership; waiting to lead again")
		}
	}
}
