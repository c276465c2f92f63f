// Package metrics defines kubegate's Prometheus metrics, on a registry of the
// app's own (never the global one), served at /metrics.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the gateway's metrics. Route labels are the request classes of
// request.Info.
type Metrics struct {
	registry    *prometheus.Registry
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	proxied     *prometheus.CounterVec
	listed      *prometheus.CounterVec
	connections prometheus.Counter
	open        prometheus.Gauge
	// freshness labels come from kubeproxy's fixed set of paths.
	freshness  *prometheus.CounterVec
	answerAge  prometheus.Histogram
	cacheLists *prometheus.CounterVec
}

// New registers the metrics on a new registry, with the Go and process collectors.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kubegate_http_requests_total", Help: "HTTP requests by route class, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "kubegate_http_request_duration_seconds", Help: "HTTP request latency by route class (watches and upgrades excluded).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
		proxied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kubegate_proxy_requests_total", Help: "Requests addressed to registered clusters (the proxy and dialect lists), by cluster and status code.",
		}, []string{"cluster", "code"}),
		listed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kubegate_list_queries_total", Help: "List queries with extension parameters, by where the answer came from (cache or cluster; with --list-cache).",
		}, []string{"source"}),
		connections: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kubegate_http_connections_total", Help: "Client connections accepted.",
		}),
		open: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kubegate_http_open_connections", Help: "Client connections open now (HTTP/2 clients multiplex their requests and watches over one).",
		}),
		freshness: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kubegate_list_freshness_total",
			Help: "List queries the cache could answer, by freshness path: watch (at once, healthy watch), waited (for a write, a version or strict), unhealthy, behind, uncached (the last three from the cluster).",
		}, []string{"path"}),
		cacheLists: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kubegate_list_cache_lists_total",
			Help: "Full lists of a cached collection from its cluster, by cluster: each collection's first, and each relist after its watch could not resume. A cluster's count stands still while its cache stays warm.",
		}, []string{"cluster"}),
		answerAge: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "kubegate_list_cache_answer_age_seconds",
			Help:    "For each list answered from the cache by default (consistency=watch), how long before the answer its watch last proved the cache caught up: the most it can miss of writes made around the gateway.",
			Buckets: []float64{.1, .25, .5, 1, 2, 3, 4, 5, 7.5, 10},
		}),
	}
	m.registry.MustRegister(m.requests, m.duration, m.proxied, m.listed, m.freshness, m.cacheLists, m.answerAge, m.connections, m.open,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// ObserveRequest counts a finished request; long-running ones (watches, upgrades)
// are counted but kept out of the latency histogram.
func (m *Metrics) ObserveRequest(route, method string, code int, seconds float64, longRunning bool) {
	m.requests.WithLabelValues(route, method, codeLabel(code)).Inc()
	if !longRunning {
		m.duration.WithLabelValues(route).Observe(seconds)
	}
}

// ObserveProxied counts a request proxied to a registered cluster.
func (m *Metrics) ObserveProxied(cluster string, code int) {
	m.proxied.WithLabelValues(cluster, codeLabel(code)).Inc()
}

func codeLabel(code int) string {
	if code < 100 || code > 599 {
		return "other"
	}
	return strconv.Itoa(code)
}

// ObserveListQuery counts a list query answered from source (cache or cluster).
func (m *Metrics) ObserveListQuery(source string) {
	m.listed.WithLabelValues(source).Inc()
}

// ObserveConnection follows a client connection's state.
func (m *Metrics) ObserveConnection(state http.ConnState) {
	switch state {
	case http.StateNew:
		m.connections.Inc()
		m.open.Inc()
	case http.StateClosed, http.StateHijacked:
		m.open.Dec()
	}
}

// ObserveFreshness counts a list query by its freshness path.
func (m *Metrics) ObserveFreshness(path string) {
	m.freshness.WithLabelValues(path).Inc()
}

// ObserveCacheList counts a full list of a cached collection of cluster.
func (m *Metrics) ObserveCacheList(cluster string) {
	m.cacheLists.WithLabelValues(cluster).Inc()
}

// ObserveAnswerAge records how stale a cached answer could be (answerAge).
func (m *Metrics) ObserveAnswerAge(d time.Duration) {
	m.answerAge.Observe(d.Seconds())
}

// Watch is one cached collection's watch, as WatchListCacheHealth reads it.
type Watch struct {
	Cluster, Collection string
	Healthy             bool
	// Heard is when the watch last proved the collection caught up; zero: not
	// since it failed, or never.
	Heard time.Time
}

// Refused is a collection the gateway may not cache (its reason is in the log
// and the cluster API, not in a label).
type Refused struct{ Cluster, Collection string }

// WatchListCacheHealth exports each cached collection's watch health, read
// when scraped: kubegate_list_cache_watch_healthy (1 or 0) and
// kubegate_list_cache_watch_heard_age_seconds (absent while the watch has not
// resumed); and kubegate_list_cache_refused, 1 for each collection the gateway
// may not cache. The labels are bounded by the cache's collection limit and its
// bounded table of permissions.
func (m *Metrics) WatchListCacheHealth(watches func() []Watch, refused func() []Refused, now func() time.Time) {
	m.registry.MustRegister(&watchCollector{watches: watches, refused: refused, now: now,
		healthy: prometheus.NewDesc("kubegate_list_cache_watch_healthy",
			"1 while a cached collection's watch is healthy (heard from within --cache-staleness), so the cache answers; 0 while the cluster answers instead.",
			[]string{"cluster", "collection"}, nil),
		heard: prometheus.NewDesc("kubegate_list_cache_watch_heard_age_seconds",
			"Seconds since a cached collection's watch last proved it caught up (an event, a bookmark, a watch ended at its timeout).",
			[]string{"cluster", "collection"}, nil),
		refusedDesc: prometheus.NewDesc("kubegate_list_cache_refused",
			"1 for each collection the gateway's identity may not list and watch, so the cluster answers its lists (the reason: the log and GET /api/v1/cube/clusters/{name}).",
			[]string{"cluster", "collection"}, nil),
	})
}

type watchCollector struct {
	watches                     func() []Watch
	refused                     func() []Refused
	now                         func() time.Time
	healthy, heard, refusedDesc *prometheus.Desc
}

func (c *watchCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.healthy
	ch <- c.heard
	ch <- c.refusedDesc
}

func (c *watchCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.now()
	for _, w := range c.watches() {
		healthy := 0.0
		if w.Healthy {
			healthy = 1
		}
		ch <- prometheus.MustNewConstMetric(c.healthy, prometheus.GaugeValue, healthy, w.Cluster, w.Collection)
		if !w.Heard.IsZero() {
			ch <- prometheus.MustNewConstMetric(c.heard, prometheus.GaugeValue, now.Sub(w.Heard).Seconds(), w.Cluster, w.Collection)
		}
	}
	for _, r := range c.refused() {
		ch <- prometheus.MustNewConstMetric(c.refusedDesc, prometheus.GaugeValue, 1, r.Cluster, r.Collection)
	}
}

// WatchListCache exports the list cache's size, read when scraped.
func (m *Metrics) WatchListCache(stats func() (collections, objects int, bytes int64)) {
	gauge := func(name, help string, read func() float64) prometheus.GaugeFunc {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, read)
	}
	m.registry.MustRegister(
		gauge("kubegate_list_cache_collections", "Collections (cluster, resource) the list cache holds.", func() float64 { c, _, _ := stats(); return float64(c) }),
		gauge("kubegate_list_cache_objects", "Objects the list cache holds.", func() float64 { _, o, _ := stats(); return float64(o) }),
		gauge("kubegate_list_cache_bytes", "Approximate memory of the list cache's objects.", func() float64 { _, _, b := stats(); return float64(b) }),
	)
}
