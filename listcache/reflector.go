package listcache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/kubegate/kubegate/cluster"
)

// errGone says the watch's resource version is too old: list again.
var errGone = errors.New("resource version too old")

// hurryTimeout is the watch timeout that makes the apiserver send a bookmark
// about a second after the watch starts: it sends one 2 s before a watch's
// deadline (cacheWatcher.nextBookmarkTime), on its bookmark timer, which ticks
// about every second. Shorter would schedule none.
const hurryTimeout = 3 * time.Second

// stuckWatchSlack is how long after its timeoutSeconds a watch may stay open
// before it is taken as stuck and cut.
const stuckWatchSlack = 10 * time.Second

// errStuck is a watch cut because the cluster did not end it in time.
var errStuck = errors.New("watch stuck")

// Options tune a Collection's list and watch.
type Options struct {
	// ChunkSize is the items per list request (default 500).
	ChunkSize int
	// WatchTimeout bounds each watch request; the watch is then renewed (default 5 min).
	WatchTimeout time.Duration
	// Backoff is the first pause after a failed list or watch (default 1 s); it
	// doubles with each failure in a row, up to MaxBackoff (default 1 min).
	Backoff    time.Duration
	MaxBackoff time.Duration
	// MaxBytes gives up on a collection larger than this (0: no bound).
	MaxBytes int64
	// Heartbeat keeps every watch short (hurryTimeout), so that even a
	// collection nobody writes hears from the cluster about every 3 s (a watch's
	// end, a bookmark) and can prove itself Healthy; off, watches last
	// WatchTimeout.
	Heartbeat bool
	// OnList, when set, is called for each full list of the collection.
	OnList func()
	Logger *slog.Logger
	Now    func() time.Time
}

// ErrUncachable wraps why a collection cannot be cached at all (the gateway may
// not list it, it is not there, its resource versions are not numbers, it is
// larger than allowed): the collection gives up rather than retrying.
var ErrUncachable = errors.New("cannot be cached")

// errRefused is the gateway refused listing or watching: RBAC changed since it
// was allowed, and may change back.
var errRefused = errors.New("refused")

// Start lists path on target and then watches it until ctx ends.
func Start(ctx context.Context, target *cluster.Member, path string, o Options) *Collection {
	if o.ChunkSize <= 0 {
		o.ChunkSize = 500
	}
	if o.WatchTimeout <= 0 {
		o.WatchTimeout = 5 * time.Minute
	}
	if o.Backoff <= 0 {
		o.Backoff = time.Second
	}
	if o.MaxBackoff < o.Backoff {
		o.MaxBackoff = max(o.Backoff, time.Minute)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	c := &Collection{now: o.Now, store: newStore(),
		target: target, path: path, logger: o.Logger.With("cluster", target.Name, "collection", path),
		advance: make(chan struct{}), hurry: make(chan struct{}, 1),
	}
	go c.run(ctx, o)
	return c
}

// run lists, then watches from the cache's resource version, renewing the
// watch as it ends; a watch that fails is resumed from where it got, and the
// collection is listed again only when the watch falls too far behind (410) or
// keeps failing. Failures back off exponentially; a collection that cannot be
// cached at all gives up.
func (c *Collection) run(ctx context.Context, o Options) {
	backoff := o.Backoff
	pause := func() {
		sleep(ctx, backoff)
		backoff = min(2*backoff, o.MaxBackoff)
	}
	for ctx.Err() == nil {
		if o.OnList != nil {
			o.OnList()
		}
		if err := c.list(ctx, o.ChunkSize, o.MaxBytes); err != nil {
			c.fail(ctx, err)
			if errors.Is(err, ErrUncachable) {
				return
			}
			pause()
			continue
		}
		backoff = o.Backoff
		long := o.WatchTimeout
		if o.Heartbeat {
			long = min(hurryTimeout, o.WatchTimeout)
		}
		timeout := long
		for failures := 0; ctx.Err() == nil && failures < 3; {
			hurried, err := c.watch(ctx, timeout)
			switch {
			case err == nil: // the watch ended as asked (or made progress and was cut): renew it
				failures = 0
				backoff = o.Backoff
				// A hurried watch is renewed short, for a bookmark in about a
				// second; after that the watch is long again.
				timeout = long
				if hurried {
					timeout = min(hurryTimeout, o.WatchTimeout)
				}
				continue
			case errors.Is(err, errRefused):
				c.fail(ctx, err) // the gateway may no longer watch: give up, and the cache asks again
				return
			case errors.Is(err, errGone):
				failures = 3 // too far behind: list again
				c.mu.Lock()
				c.heard = time.Time{} // what the cache holds is older than the cluster keeps
				c.mu.Unlock()
				continue
			}
			failures++
			c.mu.Lock()
			c.heard = time.Time{} // what came after the failure is unknown until the watch resumes
			c.mu.Unlock()
			c.logger.Warn("watch failed; resuming", "error", err, "failures", failures)
			pause()
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// fail records why syncing failed; queries waiting for the collection learn it.
func (c *Collection) fail(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return
	}
	c.logger.Warn("listing failed", "error", err)
	c.mu.Lock()
	// Giving up is recorded with the error, so a waiter woken by it sees both.
	c.synced, c.err, c.gaveUp = false, err, errors.Is(err, ErrUncachable)
	c.broadcastLocked()
	c.mu.Unlock()
}

// list reads the whole collection in chunks and replaces the cache with it.
func (c *Collection) list(ctx context.Context, chunk int, maxBytes int64) error {
	started := c.now()
	objects := map[string]*Object{}
	var listRV uint64
	var listAPIVersion, listKind string
	var total int64
	typed := false // whether list items carry kind and apiVersion (custom resources do)
	cont := ""
	for {
		v := url.Values{"limit": {strconv.Itoa(chunk)}}
		if cont != "" {
			v.Set("continue", cont)
		}
		resp, err := c.get(ctx, v)
		if err != nil {
			return err
		}
		var page struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				ResourceVersion string `json:"resourceVersion"`
				Continue        string `json:"continue"`
			} `json:"metadata"`
			Items []json.RawMessage `json:"items"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("decoding the list: %w", err)
		}
		if listRV == 0 { // every chunk is a snapshot at the first one's resource version
			if listRV, err = parseRV(page.Metadata.ResourceVersion); err != nil {
				return err
			}
			listAPIVersion, listKind = page.APIVersion, page.Kind
		}
		for _, raw := range page.Items {
			o, kind, err := parseObject(raw)
			if err != nil {
				return err
			}
			typed = typed || kind != ""
			objects[keyOf(o.Namespace, o.Name)] = o
			if total += o.size(); maxBytes > 0 && total > maxBytes {
				return fmt.Errorf("%w: larger than the cache's memory limit (%d bytes)", ErrUncachable, maxBytes)
			}
		}
		if cont = page.Metadata.Continue; cont == "" {
			break
		}
	}
	c.store.replace(objects, total, listRV)
	c.mu.Lock()
	c.synced, c.err = true, nil
	c.heard = started // a paged list reflects the cluster when it began
	c.listAPIVersion, c.listKind = listAPIVersion, listKind
	if len(objects) > 0 { // an empty list does not say
		c.typed, c.typedKnown = typed, true
	}
	c.broadcastLocked()
	c.mu.Unlock()
	return nil
}

// watchEvent is one line of a watch stream.
type watchEvent struct {
	Type   string          `json:"type"`
	Object json.RawMessage `json:"object"`
}

// watch follows the collection from the cache's resource version until the
// watch times out (nil), falls behind (errGone) or fails. A long watch is cut
// short when a query hurries it (hurried true): the caller renews it short.
func (c *Collection) watch(ctx context.Context, timeout time.Duration) (hurried bool, err error) {
	from := c.store.resourceVersion()
	v := url.Values{
		"watch": {"true"}, "allowWatchBookmarks": {"true"}, "resourceVersion": {strconv.FormatUint(from, 10)},
		"timeoutSeconds": {strconv.Itoa(int(timeout / time.Second))},
	}
	// The cluster ends the watch at timeoutSeconds; one still open well after
	// that is stuck (a connection that died without a reset, a proxy holding
	// it): cut it, so it fails and is resumed, rather than hanging until TCP
	// gives up. Health does not wait for this: no word within the staleness
	// bound is unhealthy already.
	wctx, cancel := context.WithTimeout(ctx, timeout+stuckWatchSlack)
	defer cancel()
	// A query behind the watch cuts a long watch, or a short one whose bookmark
	// came already; a short watch's bookmark still to come is what it waits for.
	// A signal taken while a short watch still waits for its bookmark is kept
	// (pending): if that watch ends without one, the next is short too.
	var cut, pending, bookmarked atomic.Bool
	stop, exited := make(chan struct{}), make(chan struct{})
	defer func() {
		close(stop)
		<-exited // nothing takes a signal after this
		hurried = cut.Load() || pending.Load() && !bookmarked.Load()
	}()
	go func() {
		defer close(exited)
		for {
			select {
			case <-c.hurry:
				if timeout > hurryTimeout || bookmarked.Load() {
					cut.Store(true)
					cancel() // resumed from the same version: nothing is lost
					return
				}
				pending.Store(true)
			case <-stop:
				return
			}
		}
	}()
	resp, err := c.get(wctx, v)
	if err != nil {
		if errors.Is(wctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			return false, fmt.Errorf("the watch did not begin within %s: %w", timeout+stuckWatchSlack, errStuck)
		}
		if wctx.Err() != nil && ctx.Err() == nil {
			return false, nil // hurried before the watch began
		}
		return false, err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	for {
		var e watchEvent
		if err := dec.Decode(&e); err != nil {
			if errors.Is(err, io.EOF) {
				c.alive() // ended by the cluster at its timeout, everything sent
				return false, nil
			}
			if errors.Is(wctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
				return false, fmt.Errorf("the watch was not ended %s after its timeout: %w", stuckWatchSlack, errStuck)
			}
			if wctx.Err() != nil {
				return false, nil
			}
			return false, fmt.Errorf("reading the watch: %w", err)
		}
		if err := c.apply(wctx, e); err != nil {
			if wctx.Err() != nil && ctx.Err() == nil {
				return false, nil
			}
			return false, err
		}
		if e.Type == "BOOKMARK" {
			bookmarked.Store(true)
		}
	}
}

// apply applies one watch event.
func (c *Collection) apply(ctx context.Context, e watchEvent) error {
	switch e.Type {
	case "ERROR":
		var st struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		}
		_ = json.Unmarshal(e.Object, &st)
		if st.Code == http.StatusGone {
			return errGone
		}
		return fmt.Errorf("watch error %d: %s", st.Code, st.Message)
	case "BOOKMARK":
		var m objectMeta
		if err := json.Unmarshal(e.Object, &m); err != nil {
			return err
		}
		rv, err := parseRV(m.Metadata.ResourceVersion)
		if err != nil {
			return err
		}
		moved := c.store.bookmark(rv)
		c.mu.Lock()
		c.heard = c.now()
		if moved {
			c.broadcastLocked()
		}
		c.mu.Unlock()
		return nil
	case "ADDED", "MODIFIED", "DELETED":
	default:
		return fmt.Errorf("unknown watch event type %q", e.Type)
	}
	o, kind, err := parseObject(e.Object)
	if err != nil {
		return err
	}
	c.mu.RLock()
	typed, known := c.typed, c.typedKnown
	c.mu.RUnlock()
	if kind != "" && !known {
		if typed, err = c.listItemsTyped(ctx); err != nil {
			return err
		}
	}
	if kind != "" && !typed {
		// The list's items of built-in types carry no kind and apiVersion; the
		// watch's do: the cache keeps what a list would show.
		if o.Raw, err = stripTypeMeta(o.Raw); err != nil {
			return err
		}
	}
	c.store.put(o, e.Type == "DELETED")
	c.mu.Lock()
	c.heard = c.now()
	c.broadcastLocked()
	c.mu.Unlock()
	return nil
}
